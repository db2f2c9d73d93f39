#include "support/fake_resolver.hpp"

#include <stdexcept>

namespace rpd::test {

namespace {

constexpr std::size_t max_rounds = 100'000;   // a bound on every drive loop

std::string normal(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    std::string out(name);
    for (auto& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

util::IpAddress address(const std::string& text) {
    const auto parsed = util::IpAddress::parse(text);
    if (!parsed) throw std::invalid_argument("FakeResolver: not an address: " + text);
    return *parsed;
}

}  // namespace

std::string FakeResolver::key(std::string_view name, dns::RrType type) {
    return normal(name) + "/" + std::string(dns::to_string(type));
}

void FakeResolver::set(std::string_view name, dns::RrType type, dns::DnsStatus status) {
    dns::DnsResult r;
    r.status = status;
    set(name, type, std::move(r));
}

void FakeResolver::set(std::string_view name, dns::RrType type, dns::DnsResult result) {
    result.name = normal(name);
    result.type = type;
    if (result.server.empty()) result.server = "192.0.2.53:53";
    table_[key(name, type)] = std::move(result);
}

void FakeResolver::set_a(std::string_view name, const std::vector<std::string>& addresses, dns::RrType type) {
    dns::DnsResult r;
    r.status = dns::DnsStatus::Answer;
    r.ttl = 300;
    for (const auto& text : addresses) {
        r.addresses.push_back(address(text));
        r.records.push_back(normal(name) + ". 300 IN " + std::string(dns::to_string(type)) + " " + text);
    }
    set(name, type, std::move(r));
}

void FakeResolver::set_aaaa(std::string_view name, const std::vector<std::string>& addresses) {
    set_a(name, addresses, dns::RrType::Aaaa);
}

void FakeResolver::set_ptr(std::string_view name, const std::vector<std::string>& targets) {
    dns::DnsResult r;
    r.status = dns::DnsStatus::Answer;
    r.ttl = 300;
    r.names = targets;
    for (const auto& t : targets) r.records.push_back(normal(name) + ". 300 IN PTR " + t + ".");
    set(name, dns::RrType::Ptr, std::move(r));
}

void FakeResolver::set_mx(std::string_view name, const std::vector<dns::MxRecord>& records) {
    dns::DnsResult r;
    r.status = dns::DnsStatus::Answer;
    r.ttl = 300;
    r.mx = records;
    for (const auto& mx : records) {
        r.records.push_back(normal(name) + ". 300 IN MX " + std::to_string(mx.preference) + " " + mx.exchange + ".");
    }
    set(name, dns::RrType::Mx, std::move(r));
}

dns::Ticket FakeResolver::lookup(std::string_view name, dns::RrType type, Callback callback) {
    asked_.emplace_back(normal(name), type);
    dns::DnsResult r;
    if (const auto it = table_.find(key(name, type)); it != table_.end()) {
        r = it->second;
    } else {
        r.status = default_;
        r.name = normal(name);
        r.type = type;
        r.server = "192.0.2.53:53";
    }
    const auto id = next_id_++;
    queue_.push_back(Waiting{id, std::move(r), std::move(callback)});
    return dns::Ticket(this, id);
}

void FakeResolver::cancel(std::uint64_t id) noexcept {
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
        if (it->id == id) {
            queue_.erase(it);
            ++cancelled_;
            return;
        }
    }
}

bool FakeResolver::deliver_one() {
    if (queue_.empty()) return false;
    // Remove before calling out: the callback may ask again or cancel other tickets.
    auto waiting = std::move(queue_.front());
    queue_.pop_front();
    waiting.callback(waiting.result);
    return true;
}

std::size_t FakeResolver::run_pending() {
    std::size_t delivered = 0;
    while (delivered < max_rounds && deliver_one()) ++delivered;
    return delivered;
}

std::size_t FakeResolver::questions(std::string_view name, dns::RrType type) const {
    std::size_t n = 0;
    const auto want = normal(name);
    for (const auto& [asked_name, asked_type] : asked_) {
        if (asked_name == want && asked_type == type) ++n;
    }
    return n;
}

std::size_t FakeScheduler::run() {
    std::size_t ran = 0;
    while (!queue_.empty() && ran < max_rounds) {
        auto fn = std::move(queue_.front());
        queue_.pop_front();
        fn();
        ++ran;
    }
    return ran;
}

}  // namespace rpd::test
