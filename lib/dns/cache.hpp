// lib/dns/cache.hpp -- results kept by (name, type) until they expire; least recently used out first.
//
// In: a key (question_key(): lower-cased name + type), a DnsResult and its expiry time;
// later a key and "now". Out: the stored result with its TTL counted down, or nothing.
// The caller decides how long a result may live (CachePolicy below turns [dns] into
// expiry times); the cache only stores, expires and evicts. Time is always passed in, so
// tests drive it with a fake clock and never sleep. Not here: coalescing, I/O.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>

#include "config/config.hpp"
#include "dns/types.hpp"

namespace rpd::dns {

using TimePoint = std::chrono::steady_clock::time_point;

// How long each kind of result is kept (SPEC §2 [dns]).
struct CachePolicy {
    std::chrono::seconds max_ttl{86'400};        // cap on positive answers' own TTL
    std::chrono::seconds negative_ttl{3'600};    // cap on NXDOMAIN / NODATA (RFC 2308 SOA minimum)
    std::chrono::seconds tempfail_ttl{30};       // SERVFAIL, REFUSED, TIMEOUT, BADRESPONSE, NETERROR

    static CachePolicy from(const config::DnsConfig& cfg);

    // How long `r` may be served from the cache; zero means "do not store".
    //   Answer            -> min(r.ttl, max_ttl)
    //   NxDomain, NoData  -> min(r.ttl, negative_ttl)  (r.ttl is the SOA-derived TTL)
    //   everything else   -> tempfail_ttl: remembered as a failure, never as "absent"
    std::chrono::seconds lifetime(const DnsResult& r) const noexcept;
};

class Cache {
public:
    explicit Cache(std::size_t capacity) : capacity_(capacity) {}

    // The entry for `key` if it has not expired at `now`, as a copy with from_cache set,
    // elapsed zero and ttl lowered to the seconds it has left. Marks it recently used.
    // An expired entry is dropped.
    std::optional<DnsResult> find(const std::string& key, TimePoint now);

    // Stores (or replaces) the entry; evicts the least recently used entry when full.
    // Nothing is stored when `expires <= now` or the capacity is zero.
    void insert(const std::string& key, DnsResult result, TimePoint now, TimePoint expires);

    std::size_t size() const noexcept { return index_.size(); }
    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t evictions() const noexcept { return evictions_; }
    void clear() noexcept;

private:
    struct Entry {
        std::string key;
        DnsResult result;
        TimePoint expires;
    };
    using Lru = std::list<Entry>;   // front = most recently used

    std::size_t capacity_;
    std::size_t evictions_ = 0;
    Lru lru_;
    std::unordered_map<std::string, Lru::iterator> index_;
};

}  // namespace rpd::dns
