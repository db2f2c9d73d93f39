#include "dns/cache.hpp"

#include <algorithm>

namespace rpd::dns {

namespace {

std::chrono::seconds whole_seconds(util::Millis d) {
    return std::chrono::duration_cast<std::chrono::seconds>(d);
}

}  // namespace

CachePolicy CachePolicy::from(const config::DnsConfig& cfg) {
    CachePolicy p;
    p.max_ttl = whole_seconds(cfg.max_ttl);
    p.negative_ttl = whole_seconds(cfg.negative_ttl);
    p.tempfail_ttl = whole_seconds(cfg.tempfail_ttl);
    return p;
}

std::chrono::seconds CachePolicy::lifetime(const DnsResult& r) const noexcept {
    const std::chrono::seconds own{r.ttl};
    switch (r.status) {
    case DnsStatus::Answer: return std::min(own, max_ttl);
    case DnsStatus::NxDomain: case DnsStatus::NoData: return std::min(own, negative_ttl);
    case DnsStatus::ServFail: case DnsStatus::Refused: case DnsStatus::Timeout:
    case DnsStatus::BadResponse: case DnsStatus::NetError: return tempfail_ttl;
    }
    return std::chrono::seconds{0};
}

std::optional<DnsResult> Cache::find(const std::string& key, TimePoint now) {
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    auto entry = it->second;
    if (entry->expires <= now) {
        lru_.erase(entry);
        index_.erase(it);
        return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, entry);
    DnsResult out = entry->result;
    out.from_cache = true;
    out.elapsed = std::chrono::microseconds{0};
    // The TTL a consumer sees is what is left of it (rounded up: 0 would read "expired").
    const auto left = std::chrono::ceil<std::chrono::seconds>(entry->expires - now).count();
    out.ttl = static_cast<std::uint32_t>(std::min<std::int64_t>(out.ttl, left));
    return out;
}

void Cache::insert(const std::string& key, DnsResult result, TimePoint now, TimePoint expires) {
    if (capacity_ == 0 || expires <= now) return;
    if (auto it = index_.find(key); it != index_.end()) {
        lru_.erase(it->second);
        index_.erase(it);
    }
    while (index_.size() >= capacity_ && !lru_.empty()) {
        index_.erase(lru_.back().key);
        lru_.pop_back();
        ++evictions_;
    }
    result.from_cache = false;
    lru_.push_front(Entry{key, std::move(result), expires});
    index_.emplace(key, lru_.begin());
}

void Cache::clear() noexcept {
    index_.clear();
    lru_.clear();
}

}  // namespace rpd::dns
