// The resolver against a real recursive server: Debian's unbound on a free loopback port,
// serving t/data/zones (see t/data/zones/README.md for what each name is for).
#include <catch2/catch.hpp>

#include <algorithm>

#include "dns/resolver.hpp"
#include "support/dns_loop.hpp"
#include "support/dns_unbound.hpp"

using namespace rpd;
using namespace std::chrono_literals;
using dns::DnsStatus;
using dns::RrType;

namespace {

// One unbound for the whole file: starting it per test case costs a second each.
test::UnboundServer& server() {
    static test::UnboundServer unbound;
    return unbound;
}

struct Fixture {
    test::TestLoop loop;
    std::unique_ptr<dns::StubResolver> resolver;
    std::vector<std::string> debug_lines;

    Fixture() {
        INFO(server().error());
        REQUIRE(server().running());
        config::DnsConfig cfg;
        cfg.nameservers = {server().nameserver()};
        cfg.timeout = 2s;
        resolver = std::make_unique<dns::StubResolver>(loop.base(), cfg);
        resolver->set_debug([this](const dns::DebugEvent& ev) {
            debug_lines.push_back(std::string(ev.transport) + " " + std::string(ev.name) + " " +
                                  std::string(dns::to_string(ev.type)) + " " + std::string(ev.detail));
        });
    }

    dns::DnsResult ask(const std::string& name, RrType type) {
        auto r = test::ask(loop, *resolver, name, type);
        REQUIRE(r);
        CHECK(r->name + (name.ends_with('.') ? "." : "") == name);   // as asked, without the root's dot
        CHECK(r->type == type);
        CHECK(r->server == server().nameserver().text);
        CHECK_FALSE(r->from_cache);
        return *r;
    }
};

std::vector<std::string> texts(const std::vector<util::IpAddress>& a) {
    std::vector<std::string> out;
    for (const auto& ip : a) out.push_back(ip.to_string());
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

}  // namespace

TEST_CASE("dns/unbound: A and AAAA", "[.integration][dns]") {
    Fixture f;
    auto a = f.ask("host.example.test", RrType::A);
    CHECK(a.status == DnsStatus::Answer);
    CHECK(texts(a.addresses) == std::vector<std::string>{"192.0.2.10"});
    CHECK(a.ttl > 0);
    CHECK(a.ttl <= 300);
    CHECK(a.records == std::vector<std::string>{"host.example.test. 300 IN A 192.0.2.10"});
    CHECK(a.elapsed > 0us);

    auto aaaa = f.ask("host.example.test.", RrType::Aaaa);
    CHECK(aaaa.status == DnsStatus::Answer);
    CHECK(texts(aaaa.addresses) == std::vector<std::string>{"2001:db8::10"});

    auto mixed_case = f.ask("MX2.Example.TEST", RrType::Aaaa);
    CHECK(mixed_case.status == DnsStatus::Answer);
    CHECK(texts(mixed_case.addresses) == std::vector<std::string>{"2001:db8::32"});

    CHECK(f.resolver->counters().queries_sent == 3);
    CHECK(f.resolver->counters().dropped == 0);
    CHECK_FALSE(f.debug_lines.empty());
}

TEST_CASE("dns/unbound: MX, several and null", "[.integration][dns]") {
    Fixture f;
    auto mx = f.ask("multi-mx.example.test", RrType::Mx);
    REQUIRE(mx.status == DnsStatus::Answer);
    auto records = mx.mx;
    std::sort(records.begin(), records.end(), [](auto& x, auto& y) { return x.preference < y.preference; });
    CHECK(records == std::vector<dns::MxRecord>{{10, "mx1.example.test"}, {20, "mx2.example.test"}});

    auto null_mx = f.ask("nullmx.example.test", RrType::Mx);
    CHECK(null_mx.status == DnsStatus::Answer);
    CHECK(null_mx.mx == std::vector<dns::MxRecord>{{0, ""}});   // RFC 7505

    CHECK(f.ask("v4only.example.test", RrType::Mx).status == DnsStatus::NoData);
}

TEST_CASE("dns/unbound: PTR for IPv4 and IPv6 (ip6.arpa nibbles)", "[.integration][dns]") {
    Fixture f;
    auto v4 = f.ask(util::IpAddress::parse("192.0.2.10")->reverse_name(), RrType::Ptr);
    CHECK(v4.status == DnsStatus::Answer);
    CHECK(v4.names == std::vector<std::string>{"host.example.test"});

    auto v6 = f.ask(util::IpAddress::parse("2001:db8::10")->reverse_name(), RrType::Ptr);
    CHECK(v6.status == DnsStatus::Answer);
    CHECK(v6.names == std::vector<std::string>{"host.example.test"});

    auto two = f.ask("23.2.0.192.in-addr.arpa", RrType::Ptr);
    CHECK(two.status == DnsStatus::Answer);
    CHECK(sorted(two.names) == std::vector<std::string>{"first.example.test", "second.example.test"});

    // A control byte in a PTR name arrives escaped, never raw.
    auto odd = f.ask("28.2.0.192.in-addr.arpa", RrType::Ptr);
    CHECK(odd.status == DnsStatus::Answer);
    CHECK(odd.names == std::vector<std::string>{"bad\\010name.example.test"});

    CHECK(f.ask(util::IpAddress::parse("192.0.2.20")->reverse_name(), RrType::Ptr).status == DnsStatus::NxDomain);
    CHECK(f.ask(util::IpAddress::parse("2001:db8::20")->reverse_name(), RrType::Ptr).status == DnsStatus::NxDomain);
}

TEST_CASE("dns/unbound: NXDOMAIN and NODATA carry the RFC 2308 negative TTL", "[.integration][dns]") {
    Fixture f;
    auto nx = f.ask("nonexistent.example.test", RrType::A);
    CHECK(nx.status == DnsStatus::NxDomain);
    CHECK(nx.ttl > 0);
    CHECK(nx.ttl <= 60);   // SOA minimum 60 < SOA TTL 300
    CHECK(nx.addresses.empty());

    auto nodata = f.ask("nodata.example.test", RrType::A);
    CHECK(nodata.status == DnsStatus::NoData);
    CHECK(nodata.ttl > 0);
    CHECK(nodata.ttl <= 60);

    auto nodata_ptr = f.ask("29.2.0.192.in-addr.arpa", RrType::Ptr);
    CHECK(nodata_ptr.status == DnsStatus::NoData);
}

TEST_CASE("dns/unbound: a CNAME chain, and a dangling CNAME", "[.integration][dns]") {
    Fixture f;
    auto r = f.ask("alias1.example.test", RrType::A);
    CHECK(r.status == DnsStatus::Answer);
    CHECK(r.cname_chain == std::vector<std::string>{"alias2.example.test", "alias3.example.test", "host.example.test"});
    CHECK(texts(r.addresses) == std::vector<std::string>{"192.0.2.10"});
    CHECK(r.records.size() == 4);

    auto dangling = f.ask("dangling.example.test", RrType::A);
    CHECK(dangling.status == DnsStatus::NxDomain);
    CHECK(dangling.cname_chain == std::vector<std::string>{"nonexistent.example.test"});
}

TEST_CASE("dns/unbound: RFC 2317 classless reverse delegation", "[.integration][dns]") {
    Fixture f;
    auto r = f.ask(util::IpAddress::parse("203.0.113.9")->reverse_name(), RrType::Ptr);
    CHECK(r.status == DnsStatus::Answer);
    CHECK(r.cname_chain == std::vector<std::string>{"9.0/25.113.0.203.in-addr.arpa"});
    CHECK(r.names == std::vector<std::string>{"classless.example.test"});

    auto none = f.ask("11.113.0.203.in-addr.arpa", RrType::Ptr);
    CHECK(none.status == DnsStatus::NxDomain);
    CHECK(none.cname_chain == std::vector<std::string>{"11.0/25.113.0.203.in-addr.arpa"});
}

TEST_CASE("dns/unbound: a large answer is truncated over UDP and complete over TCP", "[.integration][dns]") {
    Fixture f;
    auto r = f.ask("big.example.test", RrType::A);
    CHECK(r.status == DnsStatus::Answer);
    CHECK(r.addresses.size() == 100);
    CHECK(f.resolver->counters().tcp_retries == 1);
    CHECK(f.resolver->counters().queries_sent == 2);   // UDP, then TCP

    auto txt = f.ask("bigtxt.example.test", RrType::Txt);
    CHECK(txt.status == DnsStatus::Answer);
    CHECK(txt.records.size() == 60);
    CHECK(f.resolver->counters().tcp_retries == 2);
}

TEST_CASE("dns/unbound: SERVFAIL from the server is SERVFAIL, not absence", "[.integration][dns]") {
    Fixture f;
    // 30.2.0.192.in-addr.arpa is a CNAME into a delegation unbound may not ask.
    auto r = f.ask("30.2.0.192.in-addr.arpa", RrType::Ptr);
    CHECK(r.status == DnsStatus::ServFail);
    CHECK(dns::is_unknown(r.status));
    auto again = test::ask(f.loop, *f.resolver, "30.2.0.192.in-addr.arpa", RrType::Ptr);
    REQUIRE(again);
    CHECK(again->from_cache);   // remembered for tempfail_ttl ...
    CHECK(again->status == DnsStatus::ServFail);   // ... as a failure
}

TEST_CASE("dns/unbound: a second lookup within the TTL is answered from the cache", "[.integration][dns]") {
    Fixture f;
    CHECK(f.ask("mail.example.test", RrType::A).status == DnsStatus::Answer);
    const auto sent = f.resolver->counters().queries_sent;
    auto again = test::ask(f.loop, *f.resolver, "Mail.Example.Test.", RrType::A);
    REQUIRE(again);
    CHECK(again->from_cache);
    CHECK(again->name == "Mail.Example.Test");
    CHECK(texts(again->addresses) == std::vector<std::string>{"192.0.2.25"});
    CHECK(f.resolver->counters().queries_sent == sent);
    CHECK(f.resolver->counters().cache_hits == 1);
}

// Every row of t/data/zones/README.md that the checks will rely on, at the DNS level.
TEST_CASE("dns/unbound: the test zones hold what their README says", "[.integration][dns][zones]") {
    Fixture f;
    struct Row { const char* name; RrType type; DnsStatus status; std::vector<std::string> data; };
    auto ptr = [](const char* ip) { return util::IpAddress::parse(ip)->reverse_name(); };
    const std::string p10 = ptr("192.0.2.10"), p21 = ptr("192.0.2.21"), p22 = ptr("192.0.2.22"), p24 = ptr("192.0.2.24"),
                      p25 = ptr("192.0.2.25"), p26 = ptr("192.0.2.26"), p27 = ptr("192.0.2.27"),
                      p11 = ptr("192.0.2.11"), c10 = ptr("203.0.113.10"), c12 = ptr("203.0.113.12"),
                      v6_11 = ptr("2001:db8::11"), v6_22 = ptr("2001:db8::22"), v6_23 = ptr("2001:db8::23"),
                      v6_25 = ptr("2001:db8::25");
    const Row rows[] = {
        {"host.example.test", RrType::Mx, DnsStatus::Answer, {"10 mail.example.test"}},
        {"mail.example.test", RrType::Aaaa, DnsStatus::Answer, {"2001:db8::25"}},
        {"v4only.example.test", RrType::Aaaa, DnsStatus::NoData, {}},
        {"v6only.example.test", RrType::A, DnsStatus::NoData, {}},
        {"v6only.example.test", RrType::Aaaa, DnsStatus::Answer, {"2001:db8::11"}},
        {"nodata.example.test", RrType::Mx, DnsStatus::NoData, {}},
        {"shortttl.example.test", RrType::A, DnsStatus::Answer, {"192.0.2.12"}},
        {"mx-only.example.test", RrType::Mx, DnsStatus::Answer, {"10 mail.example.test"}},
        {"mx-only.example.test", RrType::A, DnsStatus::NoData, {}},
        {"mx-only.example.test", RrType::Aaaa, DnsStatus::NoData, {}},
        {"mx1.example.test", RrType::A, DnsStatus::Answer, {"192.0.2.31"}},
        {"mx2.example.test", RrType::A, DnsStatus::Answer, {"192.0.2.32"}},
        {"mx-nxhost.example.test", RrType::Mx, DnsStatus::Answer, {"10 nonexistent.example.test"}},
        {"mx-and-a.example.test", RrType::Mx, DnsStatus::Answer, {"10 mail.example.test"}},
        {"mx-and-a.example.test", RrType::A, DnsStatus::Answer, {"192.0.2.33"}},
        {"elsewhere.example.test", RrType::A, DnsStatus::Answer, {"192.0.2.99"}},
        {"elsewhere.example.test", RrType::Aaaa, DnsStatus::Answer, {"2001:db8::99"}},
        {"first.example.test", RrType::A, DnsStatus::Answer, {"192.0.2.98"}},
        {"first.example.test", RrType::Aaaa, DnsStatus::NoData, {}},
        {"second.example.test", RrType::A, DnsStatus::Answer, {"192.0.2.23"}},
        {"second.example.test", RrType::Aaaa, DnsStatus::Answer, {"2001:db8::23"}},
        {"under_score.example.test", RrType::A, DnsStatus::Answer, {"192.0.2.27"}},
        {"classless.example.test", RrType::A, DnsStatus::Answer, {"203.0.113.9"}},
        {"classless-mismatch.example.test", RrType::A, DnsStatus::Answer, {"203.0.113.99"}},
        {"x.broken.example.test", RrType::A, DnsStatus::ServFail, {}},
        {"nothing-here.example.test", RrType::A, DnsStatus::NxDomain, {}},
        {"example.invalid", RrType::A, DnsStatus::NxDomain, {}},
        {p10.c_str(), RrType::Ptr, DnsStatus::Answer, {"host.example.test"}},
        {p11.c_str(), RrType::Ptr, DnsStatus::Answer, {"v4only.example.test"}},
        {p21.c_str(), RrType::Ptr, DnsStatus::Answer, {"nonexistent.example.test"}},
        {p22.c_str(), RrType::Ptr, DnsStatus::Answer, {"elsewhere.example.test"}},
        {p24.c_str(), RrType::Ptr, DnsStatus::Answer, {"bad!name.example.test"}},
        {p25.c_str(), RrType::Ptr, DnsStatus::Answer, {"mail.example.test"}},
        {p26.c_str(), RrType::Ptr, DnsStatus::Answer, {"192.0.2.26"}},
        {p27.c_str(), RrType::Ptr, DnsStatus::Answer, {"under_score.example.test"}},
        {c10.c_str(), RrType::Ptr, DnsStatus::Answer, {"classless-mismatch.example.test"}},
        {c12.c_str(), RrType::Ptr, DnsStatus::NxDomain, {}},
        {v6_11.c_str(), RrType::Ptr, DnsStatus::Answer, {"v6only.example.test"}},
        {v6_22.c_str(), RrType::Ptr, DnsStatus::Answer, {"elsewhere.example.test"}},
        {v6_23.c_str(), RrType::Ptr, DnsStatus::Answer, {"first.example.test", "second.example.test"}},
        {v6_25.c_str(), RrType::Ptr, DnsStatus::Answer, {"mail.example.test"}},
    };
    for (const auto& row : rows) {
        INFO(row.name << " " << dns::to_string(row.type));
        auto r = test::ask(f.loop, *f.resolver, row.name, row.type);
        REQUIRE(r);
        CHECK(r->status == row.status);
        std::vector<std::string> data;
        for (const auto& ip : r->addresses) data.push_back(ip.to_string());
        for (const auto& n : r->names) data.push_back(n);
        for (const auto& mx : r->mx) data.push_back(std::to_string(mx.preference) + " " + mx.exchange);
        CHECK(sorted(data) == sorted(row.data));
    }
}
