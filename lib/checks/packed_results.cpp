#include "checks/packed_results.hpp"

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace rpd::checks {

namespace {

// Layout: [kind tag][outcome][flag] [detail] [count] [name]... [count] [name]...
// where each string is a 2-byte length and its bytes. Values are capped: a detail or
// name longer than 65,535 bytes cannot occur (sanitised, DNS names are 255 at most),
// and is cut rather than mis-encoded should one ever appear.
enum Tag : std::uint8_t { ClientTag = 'c', HeloTag = 'h', SenderTag = 's' };

void put_u16(std::string& out, std::size_t v) {
    const auto n = static_cast<std::uint16_t>(v > 0xffff ? 0xffff : v);
    out += static_cast<char>(n & 0xff);
    out += static_cast<char>(n >> 8);
}

void put_text(std::string& out, std::string_view s) {
    if (s.size() > 0xffff) s = s.substr(0, 0xffff);
    put_u16(out, s.size());
    out += s;
}

void put_names(std::string& out, const std::vector<std::string>& names) {
    put_u16(out, names.size());
    for (const auto& n : names) put_text(out, n);
}

class Reader {
public:
    explicit Reader(std::string_view bytes) : rest_(bytes) {}
    bool ok() const noexcept { return ok_; }
    bool done() const noexcept { return ok_ && rest_.empty(); }

    std::uint8_t byte() {
        if (rest_.empty()) return fail();
        const auto b = static_cast<std::uint8_t>(rest_[0]);
        rest_.remove_prefix(1);
        return b;
    }
    std::size_t u16() {
        const std::size_t lo = byte();
        const std::size_t hi = byte();
        return lo | (hi << 8);
    }
    std::string text() {
        const auto n = u16();
        if (!ok_ || rest_.size() < n) {
            fail();
            return {};
        }
        std::string s(rest_.substr(0, n));
        rest_.remove_prefix(n);
        return s;
    }
    std::vector<std::string> names() {
        const auto n = u16();
        std::vector<std::string> out;
        if (!ok_ || n > rest_.size() / 2) {   // each name takes at least its 2-byte length
            fail();
            return out;
        }
        out.reserve(n);
        for (std::size_t i = 0; i < n && ok_; ++i) out.push_back(text());
        return out;
    }

private:
    std::uint8_t fail() noexcept {
        ok_ = false;
        rest_ = {};
        return 0;
    }
    std::string_view rest_;
    bool ok_ = true;
};

template <class Outcome>
std::optional<Outcome> outcome_from(std::uint8_t v, Outcome last) {
    if (v > static_cast<std::uint8_t>(last)) return std::nullopt;
    return static_cast<Outcome>(v);
}

std::string head(Tag tag, std::uint8_t outcome, bool flag, std::string_view detail) {
    std::string out;
    out.reserve(8 + detail.size());
    out += static_cast<char>(tag);
    out += static_cast<char>(outcome);
    out += static_cast<char>(flag ? 1 : 0);
    put_text(out, detail);
    return out;
}

}  // namespace

std::string pack(const ClientResult& r, bool with_detail) {
    auto out = head(ClientTag, static_cast<std::uint8_t>(r.outcome), r.ptr_failed, with_detail ? r.detail : "");
    put_names(out, r.ptr_names);
    put_names(out, r.confirmed_names);
    return out;
}

std::string pack(const HeloResult& r, bool with_detail) {
    return head(HeloTag, static_cast<std::uint8_t>(r.outcome), r.bad_literal, with_detail ? r.detail : "");
}

std::string pack(const SenderResult& r, bool with_detail) {
    return head(SenderTag, static_cast<std::uint8_t>(r.outcome), false, with_detail ? r.detail : "");
}

std::optional<ClientResult> unpack_client(std::string_view bytes) {
    Reader in(bytes);
    if (in.byte() != ClientTag) return std::nullopt;
    const auto outcome = outcome_from(in.byte(), ClientOutcome::Skip);
    ClientResult r;
    r.ptr_failed = in.byte() != 0;
    r.detail = in.text();
    r.ptr_names = in.names();
    r.confirmed_names = in.names();
    if (!outcome || !in.done()) return std::nullopt;
    r.outcome = *outcome;
    return r;
}

namespace {

// HELO and sender results: the head alone (tag, outcome, flag, detail).
template <class Result>
std::optional<Result> unpack_head(std::string_view bytes, Tag tag) {
    Reader in(bytes);
    if (in.byte() != tag) return std::nullopt;
    const auto outcome = outcome_from(in.byte(), decltype(Result::outcome)::Skip);
    const bool flag = in.byte() != 0;
    Result r;
    if constexpr (std::is_same_v<Result, HeloResult>) r.bad_literal = flag;
    r.detail = in.text();
    if (!outcome || !in.done()) return std::nullopt;
    r.outcome = *outcome;
    return r;
}

}  // namespace

std::optional<HeloResult> unpack_helo(std::string_view bytes) { return unpack_head<HeloResult>(bytes, HeloTag); }

std::optional<SenderResult> unpack_sender(std::string_view bytes) {
    return unpack_head<SenderResult>(bytes, SenderTag);
}

// --- the store ---

namespace {

constexpr std::size_t expiry_size = sizeof(std::int64_t);

std::int64_t ticks(PackedTime t) noexcept { return t.time_since_epoch().count(); }

}  // namespace

std::string_view PackedResults::Entry::key() const noexcept {
    const auto n = static_cast<std::size_t>(static_cast<unsigned char>(bytes[0])) |
                   (static_cast<std::size_t>(static_cast<unsigned char>(bytes[1])) << 8);
    return std::string_view(bytes).substr(2, n);
}

void PackedResults::unlink(const Entry& e) noexcept {
    (e.newer ? e.newer->older : newest_) = e.older;
    (e.older ? e.older->newer : oldest_) = e.newer;
    e.newer = e.older = nullptr;
}

void PackedResults::link_newest(const Entry& e) noexcept {
    e.older = newest_;
    e.newer = nullptr;
    if (newest_) newest_->newer = &e;
    newest_ = &e;
    if (!oldest_) oldest_ = &e;
}

void PackedResults::erase(const Entry& e) noexcept {
    unlink(e);
    entries_.erase(entries_.find(e.key()));   // by iterator: `e` (and its key) goes with it
}

std::optional<PackedResults::Found> PackedResults::find(std::string_view key, PackedTime now) {
    const auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    const auto& e = *it;
    const auto at = 2 + key.size();
    std::int64_t expires = 0;
    std::memcpy(&expires, e.bytes.data() + at, expiry_size);
    if (ticks(now) >= expires) {
        erase(e);
        return std::nullopt;
    }
    unlink(e);
    link_newest(e);
    return Found{std::string_view(e.bytes).substr(at + expiry_size), PackedTime(PackedTime::duration(expires))};
}

void PackedResults::insert(std::string_view key, std::string_view packed, PackedTime expires) {
    if (capacity_ == 0 || key.size() > 0xffff) return;
    if (const auto it = entries_.find(key); it != entries_.end()) erase(*it);
    while (entries_.size() >= capacity_ && oldest_) erase(*oldest_);
    Entry e;
    e.bytes.reserve(2 + key.size() + expiry_size + packed.size());
    put_u16(e.bytes, key.size());
    e.bytes += key;
    const auto t = ticks(expires);
    e.bytes.append(reinterpret_cast<const char*>(&t), expiry_size);
    e.bytes += packed;
    const auto [it, added] = entries_.insert(std::move(e));
    if (added) link_newest(*it);
}

void PackedResults::clear() noexcept {
    entries_.clear();
    newest_ = oldest_ = nullptr;
}

}  // namespace rpd::checks
