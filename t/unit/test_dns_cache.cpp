// Unit tests for lib/dns/cache: expiry on an injected clock (no sleeps), LRU bound, and
// the lifetimes [dns] gives each kind of result.
#include <catch2/catch.hpp>

#include "dns/cache.hpp"

using namespace rpd;
using namespace std::chrono_literals;
using dns::DnsStatus;

namespace {

dns::DnsResult result(DnsStatus status, std::uint32_t ttl, const char* name = "host.example.test") {
    dns::DnsResult r;
    r.status = status;
    r.name = name;
    r.ttl = ttl;
    r.server = "127.0.0.1:53";
    r.elapsed = 1500us;
    return r;
}

}  // namespace

TEST_CASE("dns cache: an entry lives until it expires, its TTL counting down", "[dns][cache]") {
    dns::Cache cache(10);
    const dns::TimePoint t0{};
    cache.insert("k", result(DnsStatus::Answer, 300), t0, t0 + 300s);
    auto hit = cache.find("k", t0 + 100s);
    REQUIRE(hit);
    CHECK(hit->from_cache);
    CHECK(hit->ttl == 200);
    CHECK(hit->elapsed == 0us);
    CHECK(hit->server == "127.0.0.1:53");
    CHECK(cache.find("k", t0 + 299s)->ttl == 1);
    CHECK_FALSE(cache.find("k", t0 + 300s));
    CHECK(cache.size() == 0);   // dropped when found expired
    CHECK_FALSE(cache.find("other", t0));
}

TEST_CASE("dns cache: nothing is stored that is already expired, or with capacity 0", "[dns][cache]") {
    const dns::TimePoint t0{};
    dns::Cache cache(10);
    cache.insert("k", result(DnsStatus::Answer, 0), t0, t0);
    CHECK(cache.size() == 0);
    dns::Cache off(0);
    off.insert("k", result(DnsStatus::Answer, 300), t0, t0 + 300s);
    CHECK(off.size() == 0);
    CHECK_FALSE(off.find("k", t0));
}

TEST_CASE("dns cache: the least recently used entry goes first, the bound holds", "[dns][cache]") {
    const dns::TimePoint t0{};
    dns::Cache cache(3);
    cache.insert("a", result(DnsStatus::Answer, 300), t0, t0 + 300s);
    cache.insert("b", result(DnsStatus::Answer, 300), t0, t0 + 300s);
    cache.insert("c", result(DnsStatus::Answer, 300), t0, t0 + 300s);
    CHECK(cache.find("a", t0));   // a is now the most recently used; b the least
    cache.insert("d", result(DnsStatus::Answer, 300), t0, t0 + 300s);
    CHECK(cache.size() == 3);
    CHECK(cache.evictions() == 1);
    CHECK_FALSE(cache.find("b", t0));
    CHECK(cache.find("a", t0));
    CHECK(cache.find("c", t0));
    CHECK(cache.find("d", t0));

    cache.insert("c", result(DnsStatus::NxDomain, 60), t0, t0 + 60s);   // replacing does not evict
    CHECK(cache.size() == 3);
    CHECK(cache.find("c", t0)->status == DnsStatus::NxDomain);

    for (int i = 0; i < 1000; ++i) {
        cache.insert("n" + std::to_string(i), result(DnsStatus::Answer, 300), t0, t0 + 300s);
        REQUIRE(cache.size() <= 3);
    }
    CHECK(cache.find("n999", t0));
    CHECK(cache.find("n998", t0));
    CHECK(cache.find("n997", t0));
    CHECK_FALSE(cache.find("n996", t0));
}

TEST_CASE("dns cache policy: lifetimes per kind of result", "[dns][cache]") {
    config::DnsConfig cfg;
    cfg.max_ttl = 3600s;
    cfg.negative_ttl = 600s;
    cfg.tempfail_ttl = 30s;
    const auto policy = dns::CachePolicy::from(cfg);
    struct Case { const char* label; dns::DnsResult r; std::chrono::seconds want; };
    const Case cases[] = {
        {"answer: own TTL", result(DnsStatus::Answer, 300), 300s},
        {"answer: capped by max_ttl", result(DnsStatus::Answer, 86400), 3600s},
        {"answer with TTL 0: not kept", result(DnsStatus::Answer, 0), 0s},
        {"NXDOMAIN: SOA-derived TTL", result(DnsStatus::NxDomain, 60), 60s},
        {"NXDOMAIN: capped by negative_ttl", result(DnsStatus::NxDomain, 86400), 600s},
        {"NODATA without SOA: not kept", result(DnsStatus::NoData, 0), 0s},
        {"SERVFAIL: tempfail_ttl, never a negative answer", result(DnsStatus::ServFail, 0), 30s},
        {"REFUSED", result(DnsStatus::Refused, 0), 30s},
        {"TIMEOUT", result(DnsStatus::Timeout, 0), 30s},
        {"BADRESPONSE", result(DnsStatus::BadResponse, 0), 30s},
        {"NETERROR", result(DnsStatus::NetError, 0), 30s},
    };
    for (const auto& c : cases) {
        INFO(c.label);
        CHECK(policy.lifetime(c.r) == c.want);
    }
}

TEST_CASE("dns cache: a negative answer expires after its SOA minimum", "[dns][cache]") {
    config::DnsConfig cfg;
    const auto policy = dns::CachePolicy::from(cfg);
    dns::Cache cache(10);
    const dns::TimePoint t0{};
    const auto nx = result(DnsStatus::NxDomain, 60);
    cache.insert("nx", nx, t0, t0 + policy.lifetime(nx));
    CHECK(cache.find("nx", t0 + 59s));
    CHECK_FALSE(cache.find("nx", t0 + 60s));
    const auto sf = result(DnsStatus::ServFail, 0);
    cache.insert("sf", sf, t0, t0 + policy.lifetime(sf));
    auto hit = cache.find("sf", t0 + 29s);
    REQUIRE(hit);
    CHECK(hit->status == DnsStatus::ServFail);   // remembered as a failure, not as "absent"
    CHECK_FALSE(cache.find("sf", t0 + 30s));
}
