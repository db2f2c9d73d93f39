#include "checks/check.hpp"

#include <algorithm>

#include "checks/hostname.hpp"
#include "log/sanitize.hpp"

namespace rpd::checks {

std::string describe_status(const dns::DnsResult& r) {
    std::string out(dns::to_string(r.type));
    out += ' ';
    out += log::sanitize(r.name);
    out += ": ";
    out += dns::to_string(r.status);
    return out;
}

bool has_address(const dns::DnsResult& r, const util::IpAddress& address) noexcept {
    if (r.status != dns::DnsStatus::Answer) return false;
    const auto want = address.unmapped();
    for (const auto& a : r.addresses) {
        if (a.unmapped() == want) return true;
    }
    return false;
}

std::vector<std::string> mx_hosts(const dns::DnsResult& mx, unsigned max_hosts) {
    std::vector<std::string> hosts;
    if (mx.status != dns::DnsStatus::Answer) return hosts;
    auto records = mx.mx;
    std::stable_sort(records.begin(), records.end(),
                     [](const dns::MxRecord& a, const dns::MxRecord& b) { return a.preference < b.preference; });
    for (const auto& record : records) {
        if (hosts.size() >= max_hosts) break;
        const auto name = strip_trailing_dot(record.exchange);
        if (!valid_hostname(name)) continue;
        auto lower = to_lower(name);
        if (std::find(hosts.begin(), hosts.end(), lower) == hosts.end()) hosts.push_back(std::move(lower));
    }
    return hosts;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i != 0) out += separator;
        out += parts[i];
    }
    return out;
}

std::size_t LookupSet::ask(std::string_view name, dns::RrType type, OnResult on_result) {
    const std::size_t index = entries_.size();
    auto question = std::make_unique<dns::DnsResult>();
    question->status = dns::DnsStatus::Timeout;
    question->name = std::string(name);
    question->type = type;
    entries_.push_back(Entry{std::move(question), false, dns::Ticket{}});
    ++pending_;
    // The callback runs from the event loop, later; the entry vector may have grown by
    // then, so it finds its entry by index, never by pointer.
    entries_[index].ticket = resolver_.lookup(name, type, [this, index, cb = std::move(on_result)](const dns::DnsResult& r) {
        auto& entry = entries_[index];
        if (entry.answered) return;   // a resolver must deliver once; ignore a second delivery
        entry.answered = true;
        // The question as we asked it, whatever the resolver filled in.
        std::string asked = std::move(entry.result->name);
        const auto asked_type = entry.result->type;
        *entry.result = r;
        entry.result->name = std::move(asked);
        entry.result->type = asked_type;
        --pending_;
        cb(index);
    });
    return index;
}

dns::DnsStatus LookupSet::status(std::size_t i) const noexcept { return entries_[i].result->status; }

std::vector<dns::DnsResult> LookupSet::evidence() const {
    std::vector<dns::DnsResult> out;
    out.reserve(entries_.size());
    for (const auto& entry : entries_) out.push_back(*entry.result);
    return out;
}

void LookupSet::cancel() noexcept {
    for (auto& entry : entries_) entry.ticket.reset();
}

std::size_t Check::ask(std::string_view name, dns::RrType type) {
    return lookups_.ask(name, type, [this](std::size_t) {
        advance();
        finish_if_done();   // last: may destroy *this
    });
}

void Check::finish_if_done() {
    if (finished_ || lookups_.pending() != 0) return;
    finished_ = true;
    if (on_finish_) {
        auto callback = on_finish_;   // the owner may destroy *this inside it
        callback();
    }
}

}  // namespace rpd::checks
