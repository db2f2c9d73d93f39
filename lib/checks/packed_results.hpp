// lib/checks/packed_results.hpp -- finished check results kept compactly, by input, until they expire.
//
// The engine shares a finished check with every later request of the same input while
// its answers live (engine.hpp). Most of those results are for clients seen once a day,
// so they are kept packed: the key and the result in one string (outcome, flags, detail,
// PTR and confirmed names; never the DnsResults), about 150 bytes where a decoded result
// with its strings and table nodes takes 500. The engine decodes one when a request
// needs it and keeps the few hundred most used decoded.
//
// Bounded: at most `capacity` entries, the least recently used dropped first.
// Time is passed in. Not here: what is shareable (the engine), the DNS cache (lib/dns).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "checks/outcome.hpp"

namespace rpd::checks {

using PackedTime = std::chrono::steady_clock::time_point;

// The results without their lookups (and without the detail when `with_detail` is
// false), as bytes; unpack_* gives back every other field.
std::string pack(const ClientResult& r, bool with_detail = true);
std::string pack(const HeloResult& r, bool with_detail = true);
std::string pack(const SenderResult& r, bool with_detail = true);
// Nothing when the bytes are not what pack() wrote for that kind.
std::optional<ClientResult> unpack_client(std::string_view bytes);
std::optional<HeloResult> unpack_helo(std::string_view bytes);
std::optional<SenderResult> unpack_sender(std::string_view bytes);

class PackedResults {
public:
    explicit PackedResults(std::size_t capacity) : capacity_(capacity) {}
    PackedResults(const PackedResults&) = delete;
    PackedResults& operator=(const PackedResults&) = delete;

    struct Found {
        std::string_view packed;   // valid until the next insert() or clear()
        PackedTime expires;
    };
    // The packed result stored for `key` if it has not expired at `now` (an expired one is
    // dropped); marks it recently used.
    std::optional<Found> find(std::string_view key, PackedTime now);
    // Stores (or replaces) the entry; drops the oldest when full. Nothing with capacity 0.
    void insert(std::string_view key, std::string_view packed, PackedTime expires);
    void clear() noexcept;
    std::size_t size() const noexcept { return entries_.size(); }

private:
    // [key length: 2][key][expiry: 8][packed result] in one string, and the LRU links
    // (mutable: the set's elements are const, the links are not part of their identity).
    struct Entry {
        std::string bytes;
        mutable const Entry* newer = nullptr;
        mutable const Entry* older = nullptr;
        std::string_view key() const noexcept;
    };
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view key) const noexcept { return std::hash<std::string_view>{}(key); }
        std::size_t operator()(const Entry& e) const noexcept { return (*this)(e.key()); }
    };
    struct Equal {
        using is_transparent = void;
        bool operator()(const Entry& a, const Entry& b) const noexcept { return a.key() == b.key(); }
        bool operator()(std::string_view a, const Entry& b) const noexcept { return a == b.key(); }
        bool operator()(const Entry& a, std::string_view b) const noexcept { return a.key() == b; }
    };
    void unlink(const Entry& e) noexcept;
    void link_newest(const Entry& e) noexcept;
    void erase(const Entry& e) noexcept;

    std::size_t capacity_;
    std::unordered_set<Entry, Hash, Equal> entries_;
    const Entry* newest_ = nullptr;
    const Entry* oldest_ = nullptr;
};

}  // namespace rpd::checks
