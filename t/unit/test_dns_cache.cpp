// Unit tests for lib/dns/cache: expiry on an injected clock (no sleeps), LRU bound, the
// lifetimes [dns] gives each kind of result, and the packed entries: every field of every
// kind of result comes back exactly as stored, whatever its spelling.
#include <catch2/catch.hpp>

#include <algorithm>
#include <list>
#include <map>
#include <random>

#include <fmt/format.h>

#include "dns/cache.hpp"
#include "dns/wire.hpp"
#include "support/dns_packets.hpp"

using namespace rpd;
using namespace std::chrono_literals;
using dns::DnsStatus;
using dns::RrType;

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

util::IpAddress ip(const char* text) {
    auto a = util::IpAddress::parse(text);
    REQUIRE(a);
    return *a;
}

std::string key_of(const std::string& name, RrType type) {
    auto q = dns::make_question(name, type);
    REQUIRE(q);
    return dns::question_key(*q);
}

// Every field a consumer can see, compared one by one (DnsResult has no operator==).
void check_same(const dns::DnsResult& got, const dns::DnsResult& want) {
    CHECK(got.status == want.status);
    CHECK(got.name == want.name);
    CHECK(got.type == want.type);
    CHECK(got.addresses == want.addresses);
    CHECK(got.names == want.names);
    CHECK(got.mx == want.mx);
    CHECK(got.cname_chain == want.cname_chain);
    CHECK(got.records == want.records);
    CHECK(got.ttl == want.ttl);
    CHECK(got.server == want.server);
    CHECK(got.elapsed == 0us);
    CHECK(got.from_cache);
}

// Stores `r` under `key` for an hour and finds it at once: what comes back must be `r`.
void check_round_trip(const std::string& key, const dns::DnsResult& r) {
    dns::Cache cache(4);
    const dns::TimePoint t0{};
    cache.insert(key, r, t0, t0 + 3600s);
    REQUIRE(cache.size() == 1);
    const auto hit = cache.find(key, t0);
    REQUIRE(hit);
    auto want = r;
    want.ttl = std::min<std::uint32_t>(r.ttl, 3600);
    check_same(*hit, want);
}

// A result with something in every field.
dns::DnsResult everything(DnsStatus status) {
    dns::DnsResult r;
    r.status = status;
    r.name = "alias.example.test";
    r.type = RrType::Aaaa;
    r.addresses = {ip("2001:db8::1"), ip("192.0.2.1"), ip("::ffff:192.0.2.7"), ip("2001:db8:ffff::ffff:0:1")};
    r.names = {"ptr.example.test", "", "x\\.y.example.test"};
    r.mx = {{10, "mx1.example.test"}, {0, ""}, {65535, "mx2.example.test"}};
    r.cname_chain = {"step1.example.test", "step2.example.test"};
    r.records = {"alias.example.test. 300 IN CNAME step1.example.test.",
                 "step1.example.test. 300 IN CNAME step2.example.test.",
                 "step2.example.test. 300 IN AAAA 2001:db8::1",
                 "step2.example.test. 300 IN A 192.0.2.1",
                 "example.test. 300 IN MX 0 .",
                 "example.test. 300 IN MX 65535 mx2.example.test.",
                 "1.2.0.192.in-addr.arpa. 60 IN PTR ptr.example.test.",
                 "example.test. 3600 IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60",
                 "example.test. 300 IN TXT \"v=spf1 -all\"",
                 ""};
    r.ttl = 4'000'000'000u;
    r.server = "[2001:db8::53]:5353";
    r.elapsed = 1234us;
    return r;
}

}  // namespace

TEST_CASE("dns cache: every field of every kind of result comes back as stored", "[dns][cache]") {
    const DnsStatus statuses[] = {DnsStatus::Answer, DnsStatus::NxDomain, DnsStatus::NoData, DnsStatus::ServFail,
                                  DnsStatus::Refused, DnsStatus::Timeout, DnsStatus::BadResponse, DnsStatus::NetError};
    for (const auto status : statuses) {
        INFO(dns::to_string(status));
        check_round_trip(key_of("alias.example.test", RrType::Aaaa), everything(status));
        check_round_trip("not a wire-form key", everything(status));
        auto bare = result(status, 60);
        bare.server.clear();
        check_round_trip(key_of("host.example.test", RrType::A), bare);
    }
    const RrType types[] = {RrType::A, RrType::Ns, RrType::Cname, RrType::Soa, RrType::Ptr, RrType::Mx, RrType::Txt,
                            RrType::Aaaa, static_cast<RrType>(65535), static_cast<RrType>(0)};
    for (const auto type : types) {
        INFO(static_cast<int>(type));
        auto r = everything(DnsStatus::Answer);
        r.type = type;
        check_round_trip(key_of(r.name, type), r);
        check_round_trip(key_of(r.name, RrType::A), r);   // a key that spells another type
    }
}

TEST_CASE("dns cache: names as asked, whatever the key spells", "[dns][cache]") {
    struct Case { const char* label; std::string name; };
    const Case cases[] = {
        {"plain", "host.example.test"},
        {"upper case as asked (the key is folded)", "HOST.Example.TEST"},
        {"root", ""},
        {"escaped dot", "a\\.b.example.test"},
        {"escaped byte", "bad\\010name.example.test"},
        {"253 characters", std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
                               std::string(61, 'd')},
    };
    for (const auto& c : cases) {
        INFO(c.label);
        auto r = result(DnsStatus::Answer, 300, c.name.c_str());
        r.type = RrType::Ptr;
        r.names = {c.name, c.name + ".example.test"};
        r.records = {(c.name.empty() ? "" : c.name) + ". 300 IN PTR " + c.name + ".example.test."};
        check_round_trip(key_of(c.name, RrType::Ptr), r);
        check_round_trip(key_of(c.name, RrType::A), r);
        check_round_trip(c.name, r);
    }
}

TEST_CASE("dns cache: IPv6 PTR keys (held shortened) and odd keys stay distinct", "[dns][cache]") {
    const std::string ptr6 = key_of(ip("2001:db8::2a").reverse_name(), RrType::Ptr);
    const std::string ptr6b = key_of(ip("2001:db8::2b").reverse_name(), RrType::Ptr);
    const std::string ptr6_a = key_of(ip("2001:db8::2a").reverse_name(), RrType::A);
    const std::string ptr6_zero = key_of(ip("::").reverse_name(), RrType::Ptr);   // every nibble 0
    // What that key looks like shortened, written by hand, and the same escaped.
    std::string lookalike = "\xff";
    lookalike += std::string(16, '\0') + ptr6_zero.substr(64);
    const std::string keys[] = {ptr6, ptr6b, ptr6_a, ptr6_zero, lookalike, "\xfe" + lookalike, "\xfe", "\xff", "",
                                ptr6.substr(0, 64), ptr6.substr(0, 65), "\x01A" + ptr6.substr(2)};
    dns::Cache cache(100);
    const dns::TimePoint t0{};
    for (std::size_t i = 0; i < std::size(keys); ++i) {
        auto r = result(DnsStatus::Answer, 300, fmt::format("name{}", i).c_str());
        cache.insert(keys[i], r, t0, t0 + 300s);
    }
    CHECK(cache.size() == std::size(keys));
    for (std::size_t i = 0; i < std::size(keys); ++i) {
        INFO(i);
        const auto hit = cache.find(keys[i], t0);
        REQUIRE(hit);
        CHECK(hit->name == fmt::format("name{}", i));
    }
    auto r = result(DnsStatus::Answer, 300, ip("2001:db8::2a").reverse_name().c_str());
    r.type = RrType::Ptr;
    r.names = {"host-2001-db8--2a.bench.test"};
    r.records = {r.name + ". 3600 IN PTR host-2001-db8--2a.bench.test."};
    check_round_trip(ptr6, r);
}

TEST_CASE("dns cache: records are kept verbatim however they are spelt", "[dns][cache]") {
    auto r = result(DnsStatus::Answer, 300);
    r.type = RrType::A;
    r.addresses = {ip("192.0.2.1"), ip("2001:db8::1")};
    r.names = {"ptr.example.test"};
    r.mx = {{10, "mx.example.test"}};
    r.cname_chain = {"next.example.test"};
    r.records = {
        "host.example.test. 300 IN A 192.0.2.1",              // a template of name and address
        "HOST.example.test. 300 IN A 192.0.2.1",              // owner case differs from the name
        "host.example.test 300 IN A 192.0.2.1",               // no trailing dot
        "host.example.test. 0300 IN A 192.0.2.1",             // leading zero
        "host.example.test. 4294967296 IN A 192.0.2.1",       // TTL beyond 32 bits
        "host.example.test. 300 CH A 192.0.2.1",              // another class
        "host.example.test.  300 IN A 192.0.2.1",             // two spaces
        "host.example.test.\t300\tIN\tA\t192.0.2.1",          // tabs
        "host.example.test. 300 IN A 192.0.2.2",              // an address not in the list
        "host.example.test. 300 IN A 192.000.002.001",        // not canonical
        "host.example.test. 300 IN AAAA 2001:DB8::1",         // upper-case hex
        "host.example.test. 300 IN AAAA 2001:db8:0::1",       // not canonical
        "host.example.test. 300 IN AAAA ::ffff:192.0.2.1",    // mapped
        "host.example.test. 300 IN A",                        // no rdata
        "host.example.test. 300 IN A ",                       // empty rdata
        "host.example.test. 300 IN RRSIG A 8 3 300 ...",      // a type without a template
        "host.example.test. 300 IN TYPE65534 \\# 0",           // unknown type
        "host.example.test. 300 IN PTR ptr.example.test",     // target without its dot
        "host.example.test. 300 IN PTR Ptr.example.test.",    // target case differs
        "host.example.test. 300 IN MX 010 mx.example.test.",  // leading zero preference
        "host.example.test. 300 IN MX 10 mx.example.test",    // exchange without its dot
        "host.example.test. 300 IN MX 20 mx.example.test.",   // preference not in the list
        "host.example.test. 300 IN MX 10",                    // no exchange
        "host.example.test. 300 IN MX x mx.example.test.",    // no number
        "next.example.test. 300 IN CNAME next.example.test.", // owner and target on the chain
        ". 300 IN NS ptr.example.test.",                      // the root
        "",
        " ",
        "host.example.test.",
        std::string("nul\0byte. 300 IN A 192.0.2.1", 28),
        "\xff\xfe 300 IN A 192.0.2.1",
    };
    check_round_trip(key_of(r.name, RrType::A), r);
    r.addresses.clear();
    r.names.clear();
    r.mx.clear();
    r.cname_chain.clear();
    check_round_trip(key_of(r.name, RrType::A), r);   // records that refer to lists now empty
}

TEST_CASE("dns cache: real replies, as the resolver makes them, come back exactly and small", "[dns][cache]") {
    struct Case { const char* label; test::ReplySpec spec; };
    const std::string soa = test::soa_text("example.test", 3600, 300);
    const Case cases[] = {
        {"A", {.qname = "host-192-0-2-8.example.test", .qtype = LDNS_RR_TYPE_A,
               .answer = {"host-192-0-2-8.example.test. 3600 IN A 192.0.2.8"}}},
        {"A, two", {.qname = "host.example.test", .qtype = LDNS_RR_TYPE_A,
                    .answer = {"host.example.test. 300 IN A 192.0.2.10", "host.example.test. 60 IN A 192.0.2.11"}}},
        {"AAAA", {.qname = "host-2001-db8--2a.example.test", .qtype = LDNS_RR_TYPE_AAAA,
                  .answer = {"host-2001-db8--2a.example.test. 3600 IN AAAA 2001:db8::2a"}}},
        {"PTR", {.qname = "8.2.0.192.in-addr.arpa", .qtype = LDNS_RR_TYPE_PTR,
                 .answer = {"8.2.0.192.in-addr.arpa. 3600 IN PTR host-192-0-2-8.example.test."}}},
        {"MX", {.qname = "example.test", .qtype = LDNS_RR_TYPE_MX,
                .answer = {"example.test. 3600 IN MX 10 mx.example.test.", "example.test. 3600 IN MX 20 mx2.example.test."}}},
        {"null MX", {.qname = "example.test", .qtype = LDNS_RR_TYPE_MX, .answer = {"example.test. 3600 IN MX 0 ."}}},
        {"CNAME chain", {.qname = "www.example.test", .qtype = LDNS_RR_TYPE_A,
                         .answer = {"www.example.test. 300 IN CNAME web.example.test.",
                                    "web.example.test. 300 IN CNAME host.example.test.",
                                    "host.example.test. 300 IN A 192.0.2.10"}}},
        {"case as asked", {.qname = "Host.EXAMPLE.test", .qtype = LDNS_RR_TYPE_A,
                           .answer = {"Host.EXAMPLE.test. 300 IN A 192.0.2.10"}}},
        {"NXDOMAIN", {.qname = "nx.example.test", .qtype = LDNS_RR_TYPE_A, .rcode = LDNS_RCODE_NXDOMAIN,
                      .authority = {soa}}},
        {"NODATA", {.qname = "host.example.test", .qtype = LDNS_RR_TYPE_MX, .authority = {soa}}},
    };
    for (const auto& c : cases) {
        INFO(c.label);
        auto q = dns::make_question(c.spec.qname, static_cast<RrType>(c.spec.qtype));
        REQUIRE(q);
        auto pkt = test::make_packet(c.spec);
        auto r = dns::interpret(*pkt, *q);
        r.server = "127.0.0.1:53";
        check_round_trip(dns::question_key(*q), r);
    }
    // A typical entry (one A record): a 32-byte header and at most 64 bytes packed, plus
    // its share of the index (at most 1.25 slots of a pointer once the cache is full).
    dns::Cache cache(1000);
    const dns::TimePoint t0{};
    for (int i = 0; i < 1000; ++i) {
        const auto name = fmt::format("host-2001-db8--{:x}.bench.test", i);
        auto q = dns::make_question(name, RrType::A);
        REQUIRE(q);
        auto pkt = test::make_packet({.qname = name, .qtype = LDNS_RR_TYPE_A,
                                      .answer = {fmt::format("{}. 3600 IN A 192.0.2.{}", name, i % 254 + 1)}});
        auto r = dns::interpret(*pkt, *q);
        r.server = "127.0.0.1:53";
        cache.insert(dns::question_key(*q), std::move(r), t0, t0 + 3600s);
    }
    REQUIRE(cache.size() == 1000);
    CHECK(cache.memory_bytes() <= 1000 * (32 + 64) + 1252 * sizeof(void*));
    cache.clear();
    CHECK(cache.memory_bytes() == 0);
}

TEST_CASE("dns cache: many records and long lists", "[dns][cache]") {
    auto r = result(DnsStatus::Answer, 300, "many.example.test");
    for (int i = 0; i < 300; ++i) {
        const auto a = util::IpAddress::v4({198, 51, static_cast<std::uint8_t>(100 + i / 256), static_cast<std::uint8_t>(i % 256)});
        r.addresses.push_back(a);
        r.names.push_back(fmt::format("n{}.example.test", i));
        r.mx.push_back({static_cast<std::uint16_t>(i), fmt::format("mx{}.example.test", i)});
        r.cname_chain.push_back(fmt::format("c{}.example.test", i));
    }
    // In order, reversed (beyond the scanned length: kept verbatim), and mixed kinds.
    for (int i = 0; i < 300; ++i) r.records.push_back(fmt::format("many.example.test. 300 IN A {}", r.addresses[static_cast<std::size_t>(i)].to_string()));
    for (int i = 299; i >= 0; --i) r.records.push_back(fmt::format("many.example.test. 300 IN PTR n{}.example.test.", i));
    for (int i = 0; i < 300; ++i) r.records.push_back(fmt::format("c{}.example.test. 60 IN MX {} mx{}.example.test.", i, i, i));
    r.records.push_back(std::string(70'000, 'x'));   // far longer than any DNS reply
    check_round_trip(key_of(r.name, RrType::A), r);
}

TEST_CASE("dns cache: more servers than are interned, and clear() forgets them", "[dns][cache]") {
    dns::Cache cache(100);
    const dns::TimePoint t0{};
    for (int i = 0; i < 40; ++i) {
        auto r = result(DnsStatus::Answer, 300);
        r.server = fmt::format("192.0.2.{}:53", i);
        cache.insert(fmt::format("k{}", i), r, t0, t0 + 300s);
    }
    for (int i = 0; i < 40; ++i) {
        const auto hit = cache.find(fmt::format("k{}", i), t0);
        REQUIRE(hit);
        CHECK(hit->server == fmt::format("192.0.2.{}:53", i));
    }
    cache.clear();
    CHECK(cache.size() == 0);
    CHECK_FALSE(cache.find("k0", t0));
    auto r = result(DnsStatus::Answer, 300);
    r.server = "[::1]:53";
    cache.insert("k0", r, t0, t0 + 300s);
    REQUIRE(cache.find("k0", t0));
    CHECK(cache.find("k0", t0)->server == "[::1]:53");
}

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

TEST_CASE("dns cache: replacing a key keeps one entry, the new one, most recently used", "[dns][cache]") {
    const dns::TimePoint t0{};
    dns::Cache cache(2);
    auto big = everything(DnsStatus::Answer);
    cache.insert("a", result(DnsStatus::NxDomain, 60), t0, t0 + 60s);
    cache.insert("b", result(DnsStatus::Answer, 300), t0, t0 + 300s);
    cache.insert("a", big, t0, t0 + 100s);   // larger now, and a new expiry
    CHECK(cache.size() == 2);
    CHECK(cache.evictions() == 0);
    auto hit = cache.find("a", t0 + 50s);
    REQUIRE(hit);
    big.ttl = 50;
    check_same(*hit, big);
    cache.insert("a", result(DnsStatus::NoData, 30), t0, t0 + 30s);   // smaller again
    CHECK(cache.find("a", t0)->status == DnsStatus::NoData);
    cache.insert("c", result(DnsStatus::Answer, 300), t0, t0 + 300s);   // b is the oldest
    CHECK(cache.evictions() == 1);
    CHECK_FALSE(cache.find("b", t0));
    CHECK(cache.find("a", t0));
    CHECK(cache.find("a", t0 + 30s) == std::nullopt);   // the replacement's expiry counts
}

TEST_CASE("dns cache: TTL is the smaller of its own and what is left, rounded up", "[dns][cache]") {
    const dns::TimePoint t0{};
    dns::Cache cache(10);
    cache.insert("short", result(DnsStatus::Answer, 10), t0, t0 + 300s);
    CHECK(cache.find("short", t0 + 100s)->ttl == 10);   // its own TTL was smaller
    cache.insert("frac", result(DnsStatus::Answer, 300), t0, t0 + 1500ms);
    CHECK(cache.find("frac", t0)->ttl == 2);
    CHECK(cache.find("frac", t0 + 1499ms)->ttl == 1);
    CHECK_FALSE(cache.find("frac", t0 + 1500ms));
    cache.insert("late", result(DnsStatus::Answer, 300), t0 + 10s, t0 + 20s);
    CHECK(cache.find("late", t0 + 10s)->ttl == 10);
    cache.insert("past", result(DnsStatus::Answer, 300), t0 + 10s, t0 + 5s);
    CHECK_FALSE(cache.find("past", t0));
}

// Random inserts, finds and expiries against a plain model of the same behaviour: the
// index (open addressing, entries moved on deletion) must never lose or invent an entry.
TEST_CASE("dns cache: random operations agree with a simple model", "[dns][cache]") {
    for (const std::size_t capacity : {1u, 2u, 7u, 100u, 1000u}) {
        INFO("capacity " << capacity);
        dns::Cache cache(capacity);
        std::list<std::string> lru;   // front = most recently used
        std::map<std::string, std::pair<dns::TimePoint, std::uint32_t>> model;   // expiry, ttl
        std::size_t evictions = 0;
        std::mt19937 rng(static_cast<unsigned>(capacity));
        dns::TimePoint now{};
        const int keys = static_cast<int>(capacity) * 3 + 5;
        for (int step = 0; step < 20'000; ++step) {
            const auto key = fmt::format("key-{}", rng() % static_cast<unsigned>(keys));
            const auto op = rng() % 10;
            if (op < 4) {
                const std::uint32_t ttl = rng() % 100;
                const auto expires = now + std::chrono::seconds{rng() % 50};
                cache.insert(key, result(DnsStatus::Answer, ttl, key.c_str()), now, expires);
                if (expires > now) {
                    if (model.count(key) != 0) {
                        lru.remove(key);
                        model.erase(key);
                    }
                    while (model.size() >= capacity) {
                        model.erase(lru.back());
                        lru.pop_back();
                        ++evictions;
                    }
                    model[key] = {expires, ttl};
                    lru.push_front(key);
                }
            } else if (op < 9) {
                const auto hit = cache.find(key, now);
                const auto it = model.find(key);
                const bool live = it != model.end() && it->second.first > now;
                if (it != model.end() && !live) {
                    model.erase(it);
                    lru.remove(key);
                }
                REQUIRE(hit.has_value() == live);
                if (live) {
                    CHECK(hit->name == key);
                    lru.remove(key);
                    lru.push_front(key);
                }
            } else {
                now += std::chrono::seconds{rng() % 5};
            }
            REQUIRE(cache.size() == model.size());
            REQUIRE(cache.evictions() == evictions);
        }
    }
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
