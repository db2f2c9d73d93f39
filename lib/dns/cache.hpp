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
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// Memory: one allocation per entry (the LRU links, the expiry, the key and the result
// packed: lengths as varints, addresses as bytes, the name and type taken from the key when
// they spell the same, records as references to the fields they repeat, the server as an
// index into a small table of the few seen), and an open-addressing index of pointers.
// A typical answer (one record) costs 95 to 140 bytes, allocator overhead included
// (contrib/bench/rpd-bench-cache measures it); the old std::list + unordered_map, ~700.
class Cache {
public:
    explicit Cache(std::size_t capacity) : capacity_(capacity) {}
    ~Cache();
    Cache(const Cache&) = delete;
    Cache& operator=(const Cache&) = delete;

    // The entry for `key` if it has not expired at `now`, as a copy with from_cache set,
    // elapsed zero and ttl lowered to the seconds it has left. Marks it recently used.
    // An expired entry is dropped.
    std::optional<DnsResult> find(const std::string& key, TimePoint now);

    // Stores (or replaces) the entry; evicts the least recently used entry when full.
    // Nothing is stored when `expires <= now` or the capacity is zero.
    void insert(const std::string& key, DnsResult result, TimePoint now, TimePoint expires);

    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t evictions() const noexcept { return evictions_; }
    // Bytes the entries and the index hold, without the allocator's own overhead.
    std::size_t memory_bytes() const noexcept { return entry_bytes_ + slots_.size() * sizeof(Node*); }
    void clear() noexcept;

private:
    // The header of an entry's allocation; its data follows: varint key length, key (as held:
    // IPv6 PTR questions shortened), result.
    struct Node {
        Node* newer = nullptr;       // toward lru_newest_
        Node* older = nullptr;       // toward lru_oldest_
        TimePoint expires;
        std::uint32_t hash = 0;
        std::uint32_t bytes = 0;     // of the whole allocation

        const char* data() const noexcept { return reinterpret_cast<const char*>(this + 1); }
        std::string_view key() const noexcept;
    };

    static std::uint32_t hash_of(std::string_view key) noexcept;
    std::size_t home_slot(std::uint32_t hash) const noexcept;
    std::size_t slot_of(std::string_view key, std::uint32_t hash) const noexcept;   // its slot or an empty one
    void erase_slot(std::size_t slot) noexcept;    // unlinks and frees the entry, closes the gap
    void grow_index();
    void link_newest(Node* node) noexcept;
    void unlink(Node* node) noexcept;
    static Node* new_node(std::string_view data, std::uint32_t hash, TimePoint expires);
    static void free_node(Node* node) noexcept;
    std::uint32_t server_ref(const std::string& server);   // 0: not interned (stored inline)

    std::size_t capacity_;
    std::size_t size_ = 0;
    std::size_t evictions_ = 0;
    std::size_t entry_bytes_ = 0;
    Node* lru_newest_ = nullptr;
    Node* lru_oldest_ = nullptr;
    std::vector<Node*> slots_;             // linear probing; nullptr = empty; load <= 0.8
    std::vector<std::string> servers_;     // interned servers; entries refer to index + 1
    std::string scratch_;                  // insert() packs here, then copies into the entry
    std::string key_scratch_;              // the key as entries hold it (cache.cpp: stored_key)
};

}  // namespace rpd::dns
