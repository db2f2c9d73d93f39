// The three checks on canned DNS results: every outcome, every DnsStatus kind at each
// lookup position, IPv4 and IPv6 clients, and the questions they ask.
#include <catch2/catch.hpp>

#include "checks/client.hpp"
#include "checks/helo.hpp"
#include "checks/hostname.hpp"
#include "checks/sender.hpp"
#include "support/fake_resolver.hpp"

using namespace rpd;
using checks::ClientOutcome;
using checks::HeloOutcome;
using checks::SenderOutcome;
using dns::DnsStatus;
using dns::RrType;
using test::FakeResolver;

namespace {

constexpr DnsStatus all_statuses[] = {
    DnsStatus::Answer,  DnsStatus::NxDomain, DnsStatus::NoData,      DnsStatus::ServFail,
    DnsStatus::Refused, DnsStatus::Timeout,  DnsStatus::BadResponse, DnsStatus::NetError,
};

constexpr const char* v4 = "203.0.113.9";
constexpr const char* v4_ptr = "9.113.0.203.in-addr.arpa";
constexpr const char* v6 = "2001:db8::9";
constexpr const char* v6_ptr = "9.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";

template <class C>
auto drive(FakeResolver& dns, C& check) {
    int finished_calls = 0;
    check.set_on_finish([&finished_calls] { ++finished_calls; });
    check.start();
    const bool finished_at_start = check.finished();
    dns.run_pending();
    REQUIRE(check.finished());
    // on_finish runs once for a check that asked questions, never for one decided at start.
    CHECK(finished_calls == (finished_at_start ? 0 : 1));
    return check.result();
}

checks::ClientResult run_client(FakeResolver& dns, const std::string& address, checks::ClientCheckOptions o = {}) {
    checks::ClientCheck check(dns, address, o);
    return drive(dns, check);
}

checks::HeloResult run_helo(FakeResolver& dns, const std::string& helo, const std::string& address = v4,
                            checks::HeloCheckOptions o = {}) {
    checks::HeloCheck check(dns, helo, address, o);
    return drive(dns, check);
}

checks::SenderResult run_sender(FakeResolver& dns, const std::string& sender, const std::string& address = v4,
                                checks::SenderCheckOptions o = {}) {
    checks::SenderCheck check(dns, sender, address, o);
    return drive(dns, check);
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("hostname: Postfix's valid_hostname rules", "[checks][hostname]") {
    const std::string label63(63, 'a'), label64(64, 'a');
    std::string long_name;
    while (long_name.size() < 250) long_name += "abcdefghi.";
    long_name += "test";   // 254 bytes
    struct Case { std::string name; bool want; };
    const Case cases[] = {
        {"mail.example.test", true},     {"MAIL.Example.TEST", true},   {"a_b-c.example.test", true},
        {"x", true},                     {"1.2.3.4x", true},            {"123abc", true},
        {label63 + ".test", true},       {long_name.substr(1), true},   {"192.0.2.28", false},
        {"123", false},                  {"", false},                   {label64 + ".test", false},
        {long_name, false},              {"-a.test", false},            {"a-.test", false},
        {"a.-b.test", false},            {"a..b", false},               {".a.b", false},
        {"a.b.", false},                 {"bad\\032name.test", false},  {"a b.test", false},
        {"evil.test\r\naction=OK", false}, {"ex\xc3\xa4mple.test", false}, {"a.b\\.c", false},
    };
    for (const auto& c : cases) {
        INFO("name: '" << c.name << "'");
        CHECK(checks::valid_hostname(c.name) == c.want);
    }
    CHECK(checks::strip_trailing_dot("a.b.") == "a.b");
    CHECK(checks::strip_trailing_dot("a.b..") == "a.b..");
    CHECK(checks::strip_trailing_dot(".") == ".");
}

TEST_CASE("hostname: RFC 5321 address literals", "[checks][hostname]") {
    struct Case { const char* text; bool literal; const char* want; };
    const Case cases[] = {
        {"[192.0.2.1]", true, "192.0.2.1"},         {"[IPv6:2001:db8::1]", true, "2001:db8::1"},
        {"[ipv6:2001:DB8::1]", true, "2001:db8::1"}, {"[IPv6:::ffff:192.0.2.1]", true, "::ffff:192.0.2.1"},
        {"[300.0.0.1]", true, nullptr},             {"[::1]", true, nullptr},
        {"[IPv6:192.0.2.1]", true, nullptr},        {"[192.0.2.1", true, nullptr},
        {"[]", true, nullptr},                      {"[x:1.2.3.4]", true, nullptr},
        {"[192.0.2.1 ]", true, nullptr},            {"192.0.2.1", false, nullptr},
        {"mail.example.test", false, nullptr},
    };
    for (const auto& c : cases) {
        INFO("text: " << c.text);
        const auto lit = checks::parse_address_literal(c.text);
        CHECK(lit.is_literal == c.literal);
        if (c.want != nullptr) {
            REQUIRE(lit.address);
            CHECK(lit.address->to_string() == c.want);
        } else {
            CHECK_FALSE(lit.address);
        }
    }
}

// ---------------------------------------------------------------- client

TEST_CASE("client: the PTR lookup, every status", "[checks][client]") {
    for (const auto status : all_statuses) {
        INFO("PTR status: " << dns::to_string(status));
        FakeResolver dns;
        if (status == DnsStatus::Answer) {
            dns.set_ptr(v4_ptr, {"mail.example.test"});
        } else {
            dns.set(v4_ptr, RrType::Ptr, status);
        }
        dns.set_a("mail.example.test", {v4});
        const auto r = run_client(dns, v4);
        if (status == DnsStatus::Answer) {
            CHECK(r.outcome == ClientOutcome::Pass);
            CHECK(r.confirmed_names == std::vector<std::string>{"mail.example.test"});
            CHECK(dns.questions() == 2);
            CHECK(r.lookups.size() == 2);
        } else if (dns::proves_absence(status)) {
            CHECK(r.outcome == ClientOutcome::NoPtr);
            CHECK(r.detail == std::string("PTR ") + v4_ptr + ": " + std::string(dns::to_string(status)));
            CHECK(dns.questions() == 1);
        } else {
            CHECK(r.outcome == ClientOutcome::TempFail);
            CHECK(r.ptr_failed);
            CHECK(dns.questions() == 1);
        }
        REQUIRE_FALSE(r.lookups.empty());
        CHECK(r.lookups.front().name == v4_ptr);
        CHECK(r.lookups.front().type == RrType::Ptr);
        CHECK(r.lookups.front().status == status);
    }
}

TEST_CASE("client: the forward lookup, every status, IPv4 and IPv6", "[checks][client]") {
    struct Family { const char* address; const char* ptr; RrType type; const char* other; };
    const Family families[] = {
        {v4, v4_ptr, RrType::A, "192.0.2.77"},
        {v6, v6_ptr, RrType::Aaaa, "2001:db8::77"},
        {"::ffff:203.0.113.9", v4_ptr, RrType::A, "192.0.2.77"},   // IPv4-mapped: an IPv4 client
    };
    for (const auto& f : families) {
        for (const auto status : all_statuses) {
            for (const bool matching : {true, false}) {
                if (status != DnsStatus::Answer && !matching) continue;
                INFO("client " << f.address << ", forward " << dns::to_string(status) << ", matching " << matching);
                FakeResolver dns;
                dns.set_ptr(f.ptr, {"mail.example.test."});
                if (status == DnsStatus::Answer) {
                    dns.set_a("mail.example.test", {matching ? f.address : f.other}, f.type);
                } else {
                    dns.set("mail.example.test", f.type, status);
                }
                // The other family answers the client address: it must not count.
                dns.set_a("mail.example.test", {f.type == RrType::A ? "2001:db8::9" : "203.0.113.9"},
                          f.type == RrType::A ? RrType::Aaaa : RrType::A);
                const auto r = run_client(dns, f.address);
                CHECK(dns.questions("mail.example.test", f.type) == 1);
                CHECK(dns.questions() == 2);
                if (status == DnsStatus::Answer && matching) {
                    CHECK(r.outcome == ClientOutcome::Pass);
                    CHECK(r.confirmed_names == std::vector<std::string>{"mail.example.test"});
                } else if (status == DnsStatus::Answer || dns::proves_absence(status)) {
                    CHECK(r.outcome == ClientOutcome::Mismatch);
                    CHECK(r.confirmed_names.empty());
                } else {
                    CHECK(r.outcome == ClientOutcome::TempFail);
                    CHECK_FALSE(r.ptr_failed);
                }
            }
        }
    }
}

TEST_CASE("client: details name the evidence", "[checks][client]") {
    FakeResolver dns;
    dns.set_ptr(v4_ptr, {"mail.example.test"});
    dns.set_a("mail.example.test", {"192.0.2.77"});
    auto r = run_client(dns, v4);
    CHECK(r.outcome == ClientOutcome::Mismatch);
    CHECK(r.detail == "mail.example.test has no A for 203.0.113.9");

    FakeResolver nx;
    r = run_client(nx, v4);
    CHECK(r.detail == "PTR 9.113.0.203.in-addr.arpa: NXDOMAIN");
}

TEST_CASE("client: several PTR names, any confirmation wins, unknowns block mismatch", "[checks][client]") {
    struct Case {
        const char* label;
        DnsStatus first;            // forward status of a.example.test (Answer = another address)
        DnsStatus second;           // forward status of b.example.test (Answer = the client address)
        ClientOutcome want;
    };
    const Case cases[] = {
        {"second confirms after a mismatch", DnsStatus::Answer, DnsStatus::Answer, ClientOutcome::Pass},
        {"second confirms after NXDOMAIN", DnsStatus::NxDomain, DnsStatus::Answer, ClientOutcome::Pass},
        {"second confirms after SERVFAIL", DnsStatus::ServFail, DnsStatus::Answer, ClientOutcome::Pass},
        {"SERVFAIL then NXDOMAIN", DnsStatus::ServFail, DnsStatus::NxDomain, ClientOutcome::TempFail},
        {"NODATA then TIMEOUT", DnsStatus::NoData, DnsStatus::Timeout, ClientOutcome::TempFail},
        {"NXDOMAIN then NODATA", DnsStatus::NxDomain, DnsStatus::NoData, ClientOutcome::Mismatch},
    };
    for (const auto& c : cases) {
        INFO(c.label);
        FakeResolver dns;
        dns.set_ptr(v4_ptr, {"a.example.test", "b.example.test"});
        if (c.first == DnsStatus::Answer) dns.set_a("a.example.test", {"192.0.2.1"});
        else dns.set("a.example.test", RrType::A, c.first);
        if (c.second == DnsStatus::Answer) dns.set_a("b.example.test", {v4});
        else dns.set("b.example.test", RrType::A, c.second);
        const auto r = run_client(dns, v4);
        CHECK(r.outcome == c.want);
        CHECK(dns.questions() == 3);
        if (c.want == ClientOutcome::Pass) CHECK(r.confirmed_names == std::vector<std::string>{"b.example.test"});
    }
}

TEST_CASE("client: invalid PTR names are ignored; none left is no_ptr", "[checks][client]") {
    const std::vector<std::string> bad = {
        "192.0.2.28", "bad\\032name.example.test", "a..b.example.test", "-x.example.test",
        "evil.example.test\r\naction=OK", std::string(64, 'a') + ".example.test", "", "x.example.test\\.",
    };
    for (const auto& name : bad) {
        INFO("PTR name: " << name);
        FakeResolver dns;
        dns.set_ptr(v4_ptr, {name});
        const auto r = run_client(dns, v4);
        CHECK(r.outcome == ClientOutcome::NoPtr);
        CHECK(dns.questions() == 1);   // no forward lookup for an invalid name
        CHECK(r.detail.find('\r') == std::string::npos);
        CHECK(r.detail.find('\n') == std::string::npos);
        for (const auto& shown : r.ptr_names) CHECK(shown.find_first_of("\r\n") == std::string::npos);
    }
    // An invalid name next to a valid one: only the valid one is asked.
    FakeResolver dns;
    dns.set_ptr(v4_ptr, {"evil\r\n.example.test", "Mail_1.Example.TEST."});
    dns.set_a("mail_1.example.test", {v4});
    const auto r = run_client(dns, v4);
    CHECK(r.outcome == ClientOutcome::Pass);
    CHECK(r.confirmed_names == std::vector<std::string>{"mail_1.example.test"});
    CHECK(dns.questions() == 2);
    CHECK(r.ptr_names.size() == 2);

    FakeResolver empty;   // an Answer without a PTR name (odd, but not a crash)
    dns::DnsResult answer;
    answer.status = DnsStatus::Answer;
    empty.set(v4_ptr, RrType::Ptr, answer);
    CHECK(run_client(empty, v4).outcome == ClientOutcome::NoPtr);
}

TEST_CASE("client: max_ptr_names and duplicate names bound the forward lookups", "[checks][client]") {
    FakeResolver dns;
    dns.set_ptr(v4_ptr, {"a.example.test", "A.example.test.", "b.example.test", "c.example.test"});
    dns.set_a("c.example.test", {v4});
    const auto r = run_client(dns, v4, checks::ClientCheckOptions{2});
    CHECK(dns.questions() == 3);   // PTR + a + b; the duplicate once; c is beyond the limit
    CHECK(dns.questions("c.example.test", RrType::A) == 0);
    CHECK(r.outcome == ClientOutcome::Mismatch);
}

TEST_CASE("client: RFC 2317 classless PTR through a CNAME", "[checks][client]") {
    FakeResolver dns;
    dns::DnsResult ptr;
    ptr.status = DnsStatus::Answer;
    ptr.cname_chain = {"9.0-25.113.0.203.in-addr.arpa"};
    ptr.names = {"mail.example.test"};
    dns.set(v4_ptr, RrType::Ptr, ptr);
    dns.set_a("mail.example.test", {v4});
    const auto r = run_client(dns, v4);
    CHECK(r.outcome == ClientOutcome::Pass);
    REQUIRE_FALSE(r.lookups.empty());
    CHECK(r.lookups.front().cname_chain == ptr.cname_chain);
}

TEST_CASE("client: no or bad client_address is skip, nothing asked", "[checks][client]") {
    for (const char* address : {"", "unknown", "203.0.113", "203.0.113.9\r\n", "[203.0.113.9]"}) {
        INFO("address: " << address);
        FakeResolver dns;
        const auto r = run_client(dns, address);
        CHECK(r.outcome == ClientOutcome::Skip);
        CHECK(dns.questions() == 0);
        CHECK(r.detail.find_first_of("\r\n") == std::string::npos);
    }
}

TEST_CASE("client: before it finishes, unanswered questions count as Timeout", "[checks][client]") {
    FakeResolver dns;
    dns.set_ptr(v4_ptr, {"a.example.test", "b.example.test"});
    dns.set_a("a.example.test", {"192.0.2.1"});
    dns.set_a("b.example.test", {v4});
    checks::ClientCheck check(dns, v4, {});
    check.start();
    auto r = check.result();
    CHECK(r.outcome == ClientOutcome::TempFail);   // PTR still out
    CHECK(r.ptr_failed);
    REQUIRE(r.lookups.size() == 1);
    CHECK(r.lookups[0].status == DnsStatus::Timeout);
    REQUIRE(dns.deliver_one());                    // the PTR
    REQUIRE(dns.deliver_one());                    // a: another address
    r = check.result();
    CHECK(r.outcome == ClientOutcome::TempFail);   // b still out
    CHECK_FALSE(r.ptr_failed);
    CHECK_FALSE(check.finished());
    REQUIRE(dns.deliver_one());
    CHECK(check.finished());
    CHECK(check.result().outcome == ClientOutcome::Pass);
}

TEST_CASE("client: cancel drops the tickets; no callback afterwards", "[checks][client]") {
    FakeResolver dns;
    dns.set_ptr(v4_ptr, {"mail.example.test"});
    {
        checks::ClientCheck check(dns, v4, {});
        check.set_on_finish([] { FAIL("on_finish after cancel"); });
        check.start();
        check.cancel();
        CHECK(dns.waiting() == 0);
        CHECK(dns.cancelled() == 1);
    }
    {
        checks::ClientCheck check(dns, v4, {});
        check.start();
    }   // destroyed with a question out
    CHECK(dns.waiting() == 0);
    CHECK(dns.run_pending() == 0);
}

// ---------------------------------------------------------------- helo

TEST_CASE("helo: syntax outcomes ask nothing", "[checks][helo]") {
    struct Case { const char* label; std::string helo; const char* client; HeloOutcome want; bool bad_literal; };
    const Case cases[] = {
        {"no HELO yet", "", v4, HeloOutcome::Skip, false},
        {"literal = client", "[203.0.113.9]", v4, HeloOutcome::Pass, false},
        {"literal = mapped client", "[203.0.113.9]", "::ffff:203.0.113.9", HeloOutcome::Pass, false},
        {"literal != client", "[192.0.2.1]", v4, HeloOutcome::Forged, false},
        {"IPv6 literal = client", "[IPv6:2001:db8::9]", v6, HeloOutcome::Pass, false},
        {"IPv6 literal != client", "[IPv6:2001:db8::1]", v6, HeloOutcome::Forged, false},
        {"IPv4 literal, IPv6 client", "[203.0.113.9]", v6, HeloOutcome::Forged, false},
        {"literal, no client address", "[192.0.2.1]", "", HeloOutcome::Pass, false},
        {"bad IPv4 literal", "[300.0.0.1]", v4, HeloOutcome::Invalid, true},
        {"IPv6 literal without tag", "[2001:db8::9]", v6, HeloOutcome::Invalid, true},
        {"IPv6 tag with IPv4", "[IPv6:203.0.113.9]", v4, HeloOutcome::Invalid, true},
        {"unterminated literal", "[203.0.113.9", v4, HeloOutcome::Invalid, true},
        {"bare IPv4", "203.0.113.9", v4, HeloOutcome::NonFqdn, false},
        {"bare IPv6", "2001:db8::9", v6, HeloOutcome::NonFqdn, false},
        {"no dot", "localhost", v4, HeloOutcome::NonFqdn, false},
        {"no dot, trailing dot", "mailhost.", v4, HeloOutcome::NonFqdn, false},
        {"space", "mail example.test", v4, HeloOutcome::Invalid, false},
        {"leading hyphen", "-mail.example.test", v4, HeloOutcome::Invalid, false},
        {"empty label", "mail..example.test", v4, HeloOutcome::Invalid, false},
        {"8-bit", "m\xc3\xa4il.example.test", v4, HeloOutcome::Invalid, false},
        {"CR LF", "mail.example.test\r\nDUNNO", v4, HeloOutcome::Invalid, false},
        {"label of 64", std::string(64, 'a') + ".example.test", v4, HeloOutcome::Invalid, false},
        {"all numeric", "192.0.2", v4, HeloOutcome::Invalid, false},
        {"only a dot", ".", v4, HeloOutcome::Invalid, false},
    };
    for (const auto& c : cases) {
        INFO(c.label << ": '" << c.helo << "'");
        FakeResolver dns;
        const auto r = run_helo(dns, c.helo, c.client);
        CHECK(r.outcome == c.want);
        CHECK(r.bad_literal == c.bad_literal);
        CHECK(dns.questions() == 0);
        CHECK(r.detail.find_first_of("\r\n") == std::string::npos);
    }
}

TEST_CASE("helo: resolution, every status at each of A, AAAA, MX", "[checks][helo]") {
    // Two of the three prove absence; the third takes each status in turn.
    const RrType positions[] = {RrType::A, RrType::Aaaa, RrType::Mx};
    for (const auto position : positions) {
        for (const auto status : all_statuses) {
            INFO("position " << dns::to_string(position) << ", status " << dns::to_string(status));
            FakeResolver dns;
            for (const auto other : positions) dns.set("mx.example.test", other, DnsStatus::NoData);
            if (status == DnsStatus::Answer) {
                if (position == RrType::A) dns.set_a("mx.example.test", {v4});
                if (position == RrType::Aaaa) dns.set_aaaa("mx.example.test", {"2001:db8::1"});
                if (position == RrType::Mx) dns.set_mx("mx.example.test", {{10, "relay.example.test"}});
                dns.set_a("relay.example.test", {"192.0.2.99"});
            } else {
                dns.set("mx.example.test", position, status);
            }
            const auto r = run_helo(dns, "mx.example.test.");
            CHECK(dns.questions("mx.example.test", RrType::A) == 1);
            CHECK(dns.questions("mx.example.test", RrType::Aaaa) == 1);
            CHECK(dns.questions("mx.example.test", RrType::Mx) == 1);
            if (status == DnsStatus::Answer) {
                // A holds the client: pass. AAAA only (IPv4 client): forged. MX to elsewhere: forged.
                CHECK(r.outcome == (position == RrType::A ? HeloOutcome::Pass : HeloOutcome::Forged));
            } else if (dns::proves_absence(status)) {
                CHECK(r.outcome == HeloOutcome::NotFound);
            } else {
                CHECK(r.outcome == HeloOutcome::TempFail);
                CHECK(contains(r.detail, std::string(dns::to_string(status))));
            }
        }
    }
}

TEST_CASE("helo: NXDOMAIN everywhere is not_found, with the evidence", "[checks][helo]") {
    FakeResolver dns;   // default: NXDOMAIN
    const auto r = run_helo(dns, "nowhere.example.test");
    CHECK(r.outcome == HeloOutcome::NotFound);
    CHECK(r.lookups.size() == 3);
    CHECK(contains(r.detail, "A nowhere.example.test: NXDOMAIN"));
}

TEST_CASE("helo: the forged comparison through MX hosts, every status", "[checks][helo]") {
    for (const auto status : all_statuses) {
        for (const bool matching : {true, false}) {
            if (status != DnsStatus::Answer && !matching) continue;
            INFO("MX host status " << dns::to_string(status) << ", matching " << matching);
            FakeResolver dns;
            dns.set_a("mx.example.test", {"192.0.2.1"});
            dns.set("mx.example.test", RrType::Aaaa, DnsStatus::NoData);
            dns.set_mx("mx.example.test", {{20, "b.example.test"}, {10, "a.example.test"}, {30, "."}});
            dns.set_a("a.example.test", {"192.0.2.2"});
            if (status == DnsStatus::Answer) dns.set_a("b.example.test", {matching ? v4 : "192.0.2.3"});
            else dns.set("b.example.test", RrType::A, status);
            const auto r = run_helo(dns, "mx.example.test");
            CHECK(dns.questions("a.example.test", RrType::A) == 1);
            CHECK(dns.questions("b.example.test", RrType::A) == 1);
            CHECK(dns.questions("a.example.test", RrType::Aaaa) == 0);   // IPv4 client: A only
            CHECK(dns.questions() == 5);
            if (status == DnsStatus::Answer && matching) {
                CHECK(r.outcome == HeloOutcome::Pass);
                CHECK(contains(r.detail, "MX host b.example.test"));
            } else if (status == DnsStatus::Answer || dns::proves_absence(status)) {
                CHECK(r.outcome == HeloOutcome::Forged);
            } else {
                CHECK(r.outcome == HeloOutcome::TempFail);
            }
        }
    }
}

TEST_CASE("helo: unknowns where the client address could be are tempfail, not forged", "[checks][helo]") {
    for (const auto status : all_statuses) {
        if (!dns::is_unknown(status)) continue;
        INFO("status " << dns::to_string(status));
        {   // A unknown, AAAA answers (IPv4 client): resolves, but the A could hold the client.
            FakeResolver dns;
            dns.set("mx.example.test", RrType::A, status);
            dns.set_aaaa("mx.example.test", {"2001:db8::1"});
            dns.set("mx.example.test", RrType::Mx, DnsStatus::NoData);
            CHECK(run_helo(dns, "mx.example.test").outcome == HeloOutcome::TempFail);
        }
        {   // A answers elsewhere, MX unknown: its hosts could hold the client.
            FakeResolver dns;
            dns.set_a("mx.example.test", {"192.0.2.1"});
            dns.set("mx.example.test", RrType::Aaaa, DnsStatus::NoData);
            dns.set("mx.example.test", RrType::Mx, status);
            CHECK(run_helo(dns, "mx.example.test").outcome == HeloOutcome::TempFail);
        }
        {   // AAAA unknown does not matter for an IPv4 client whose A answered elsewhere.
            FakeResolver dns;
            dns.set_a("mx.example.test", {"192.0.2.1"});
            dns.set("mx.example.test", RrType::Aaaa, status);
            dns.set("mx.example.test", RrType::Mx, DnsStatus::NoData);
            CHECK(run_helo(dns, "mx.example.test").outcome == HeloOutcome::Forged);
        }
    }
}

TEST_CASE("helo: IPv6 client compares AAAA, and asks MX hosts for AAAA", "[checks][helo]") {
    FakeResolver dns;
    dns.set_a("mx.example.test", {"192.0.2.1"});
    dns.set_aaaa("mx.example.test", {"2001:db8::1"});
    dns.set_mx("mx.example.test", {{10, "relay.example.test"}});
    dns.set_aaaa("relay.example.test", {v6});
    const auto r = run_helo(dns, "mx.example.test", v6);
    CHECK(r.outcome == HeloOutcome::Pass);
    CHECK(dns.questions("relay.example.test", RrType::Aaaa) == 1);
    CHECK(dns.questions("relay.example.test", RrType::A) == 0);
}

TEST_CASE("helo: options say which questions are asked", "[checks][helo]") {
    {   // forged not needed: a name that resolves passes; no MX host lookups
        FakeResolver dns;
        dns.set_a("mx.example.test", {"192.0.2.1"});
        dns.set_mx("mx.example.test", {{10, "relay.example.test"}});
        const auto r = run_helo(dns, "mx.example.test", v4, checks::HeloCheckOptions{10, true, false});
        CHECK(r.outcome == HeloOutcome::Pass);
        CHECK(dns.questions() == 3);
    }
    {   // nothing depends on resolution: skip, nothing asked; syntax still judged
        FakeResolver dns;
        CHECK(run_helo(dns, "mx.example.test", v4, checks::HeloCheckOptions{10, false, false}).outcome ==
              HeloOutcome::Skip);
        CHECK(run_helo(dns, "localhost", v4, checks::HeloCheckOptions{10, false, false}).outcome ==
              HeloOutcome::NonFqdn);
        CHECK(dns.questions() == 0);
    }
    {   // the name's own A matched before the MX answer: its MX hosts are not asked
        FakeResolver dns;
        dns.set_a("mx.example.test", {v4});
        dns.set_mx("mx.example.test", {{10, "relay.example.test"}});
        CHECK(run_helo(dns, "mx.example.test").outcome == HeloOutcome::Pass);
        CHECK(dns.questions() == 3);
    }
    {   // max_mx_hosts
        FakeResolver dns;
        dns.set_a("mx.example.test", {"192.0.2.1"});
        dns.set_mx("mx.example.test", {{10, "a.example.test"}, {20, "b.example.test"}, {30, "c.example.test"}});
        CHECK(run_helo(dns, "mx.example.test", v4, checks::HeloCheckOptions{2, true, true}).outcome ==
              HeloOutcome::Forged);
        CHECK(dns.questions() == 5);
        CHECK(dns.questions("c.example.test", RrType::A) == 0);
    }
}

TEST_CASE("helo: an expired check is tempfail while the name is unresolved", "[checks][helo]") {
    FakeResolver dns;
    dns.set_a("mx.example.test", {"192.0.2.1"});
    checks::HeloCheck check(dns, "mx.example.test", v4, {});
    check.start();
    CHECK(check.result().outcome == HeloOutcome::TempFail);
    REQUIRE(dns.deliver_one());   // A elsewhere; AAAA and MX still out
    CHECK(check.result().outcome == HeloOutcome::TempFail);
    dns.run_pending();            // AAAA, MX: NXDOMAIN by default
    CHECK(check.result().outcome == HeloOutcome::Forged);
}

// ---------------------------------------------------------------- sender

TEST_CASE("sender: syntax outcomes ask nothing", "[checks][sender]") {
    struct Case { const char* label; const char* sender; const char* client; SenderOutcome want; };
    const Case cases[] = {
        {"null sender", "", v4, SenderOutcome::Skip},
        {"null sender, bracketed", "<>", v4, SenderOutcome::Skip},
        {"no domain", "postmaster", v4, SenderOutcome::Skip},
        {"empty domain", "user@", v4, SenderOutcome::Skip},
        {"literal = client", "user@[203.0.113.9]", v4, SenderOutcome::Pass},
        {"literal != client", "user@[192.0.2.1]", v4, SenderOutcome::Forged},
        {"IPv6 literal = client", "user@[IPv6:2001:db8::9]", v6, SenderOutcome::Pass},
        {"malformed literal", "user@[300.1.1.1]", v4, SenderOutcome::NotFound},
        {"invalid domain", "user@exa mple.test", v4, SenderOutcome::NotFound},
        {"numeric domain", "user@192.0.2.1", v4, SenderOutcome::NotFound},
        {"CR LF in domain", "user@example.test\r\nOK", v4, SenderOutcome::NotFound},
        {"non-ASCII domain", "user@b\xc3\xbc" "cher.example", v4, SenderOutcome::Skip},
    };
    for (const auto& c : cases) {
        INFO(c.label);
        FakeResolver dns;
        const auto r = run_sender(dns, c.sender, c.client);
        CHECK(r.outcome == c.want);
        CHECK(dns.questions() == 0);
        CHECK(r.detail.find_first_of("\r\n") == std::string::npos);
    }
}

TEST_CASE("sender: the MX lookup, every status", "[checks][sender]") {
    for (const auto status : all_statuses) {
        INFO("MX status " << dns::to_string(status));
        FakeResolver dns;
        dns.set("example.test", RrType::A, DnsStatus::NoData);
        dns.set("example.test", RrType::Aaaa, DnsStatus::NoData);
        if (status == DnsStatus::Answer) {
            dns.set_mx("example.test", {{10, "mx.example.test"}});
            dns.set_a("mx.example.test", {v4});
        } else {
            dns.set("example.test", RrType::Mx, status);
        }
        const auto r = run_sender(dns, "user@Example.TEST.");
        CHECK(dns.questions("example.test", RrType::Mx) == 1);
        if (status == DnsStatus::Answer) {
            CHECK(r.outcome == SenderOutcome::Pass);
            CHECK(dns.questions("mx.example.test", RrType::A) == 1);      // the client's family,
            CHECK(dns.questions("mx.example.test", RrType::Aaaa) == 0);   // for the comparison only
        } else if (dns::proves_absence(status)) {
            CHECK(r.outcome == SenderOutcome::NotFound);   // NXDOMAIN, or NODATA with no A/AAAA
        } else {
            CHECK(r.outcome == SenderOutcome::TempFail);
        }
    }
}

TEST_CASE("sender: the implicit MX (no MX records), every status of A and AAAA", "[checks][sender]") {
    for (const auto position : {RrType::A, RrType::Aaaa}) {
        for (const auto status : all_statuses) {
            INFO("position " << dns::to_string(position) << ", status " << dns::to_string(status));
            FakeResolver dns;
            dns.set("example.test", RrType::Mx, DnsStatus::NoData);
            dns.set("example.test", RrType::A, DnsStatus::NoData);
            dns.set("example.test", RrType::Aaaa, DnsStatus::NoData);
            if (status == DnsStatus::Answer) {
                if (position == RrType::A) dns.set_a("example.test", {v4});
                else dns.set_aaaa("example.test", {"2001:db8::1"});
            } else {
                dns.set("example.test", position, status);
            }
            const auto r = run_sender(dns, "user@example.test");
            CHECK(dns.questions() == 3);
            if (status == DnsStatus::Answer) {
                // A holds the client: pass. Only AAAA (IPv4 client): forged.
                CHECK(r.outcome == (position == RrType::A ? SenderOutcome::Pass : SenderOutcome::Forged));
            } else if (dns::proves_absence(status)) {
                CHECK(r.outcome == SenderOutcome::NotFound);
                CHECK(r.detail == "example.test has no MX, A or AAAA");
            } else {
                CHECK(r.outcome == SenderOutcome::TempFail);
            }
        }
    }
}

TEST_CASE("sender: an MX host's status never makes the domain not_found (Postfix 3.7)", "[checks][sender]") {
    // reject_unknown_sender_domain needs an MX or an address record; whether the MX
    // hosts resolve only matters to the forged comparison.
    for (const bool forged_matters : {true, false}) {
        for (const auto status : all_statuses) {
            INFO("MX host A status " << dns::to_string(status) << ", forged matters " << forged_matters);
            FakeResolver dns;
            dns.set_mx("example.test", {{10, "mx.example.test"}});
            dns.set("example.test", RrType::A, DnsStatus::NoData);
            dns.set("example.test", RrType::Aaaa, DnsStatus::NoData);
            if (status == DnsStatus::Answer) dns.set_a("mx.example.test", {"192.0.2.1"});
            else dns.set("mx.example.test", RrType::A, status);
            checks::SenderCheckOptions o;
            o.forged_matters = forged_matters;
            const auto r = run_sender(dns, "user@example.test", v4, o);
            CHECK(dns.questions() == 4);   // MX, A, AAAA; the host's A (IPv4 client)
            CHECK(r.outcome != SenderOutcome::NotFound);
            if (!dns::is_unknown(status)) {
                CHECK(r.outcome == SenderOutcome::Forged);   // 203.0.113.9 is not there
            } else if (forged_matters) {
                CHECK(r.outcome == SenderOutcome::TempFail);
                CHECK(contains(r.detail, "mx.example.test"));
            } else {
                CHECK(r.outcome == SenderOutcome::Pass);
                CHECK(contains(r.detail, "forged comparison unfinished"));
            }
        }
    }
}

TEST_CASE("sender: MX hosts that do not resolve, but the domain has an address", "[checks][sender]") {
    FakeResolver dns;
    dns.set_mx("example.test", {{10, "gone.example.test"}});
    dns.set_a("example.test", {"192.0.2.1"});
    const auto r = run_sender(dns, "user@example.test");
    CHECK(r.outcome == SenderOutcome::Forged);
}

TEST_CASE("sender: null MX and malformed MX", "[checks][sender]") {
    for (const char* exchange : {"", "."}) {
        FakeResolver dns;
        dns.set_mx("example.test", {{0, exchange}});
        dns.set_a("example.test", {"192.0.2.1"});
        const auto r = run_sender(dns, "user@example.test");
        CHECK(r.outcome == SenderOutcome::NullMx);
        CHECK(dns.questions() == 3);   // no MX host lookups
    }
    {   // more than one record, one of them "." and one malformed: no usable host
        FakeResolver dns;
        dns.set_mx("example.test", {{0, ""}, {10, "bad name.example.test"}});
        dns.set("example.test", RrType::A, DnsStatus::NoData);
        dns.set("example.test", RrType::Aaaa, DnsStatus::NoData);
        const auto r = run_sender(dns, "user@example.test");
        CHECK(r.outcome == SenderOutcome::NotFound);
        CHECK(contains(r.detail, "malformed MX"));
        CHECK(dns.questions() == 3);
    }
}

TEST_CASE("sender: MX unknown, the domain's A decides what it can", "[checks][sender]") {
    for (const auto status : all_statuses) {
        if (!dns::is_unknown(status)) continue;
        INFO("MX status " << dns::to_string(status));
        {
            FakeResolver dns;
            dns.set("example.test", RrType::Mx, status);
            dns.set_a("example.test", {v4});
            CHECK(run_sender(dns, "user@example.test").outcome == SenderOutcome::Pass);
        }
        {
            FakeResolver dns;
            dns.set("example.test", RrType::Mx, status);
            dns.set_a("example.test", {"192.0.2.1"});
            CHECK(run_sender(dns, "user@example.test").outcome == SenderOutcome::TempFail);
        }
        {   // NXDOMAIN on the MX settles not_found even if A is unknown
            FakeResolver dns;
            dns.set("example.test", RrType::Mx, DnsStatus::NxDomain);
            dns.set("example.test", RrType::A, status);
            CHECK(run_sender(dns, "user@example.test").outcome == SenderOutcome::NotFound);
        }
    }
}

TEST_CASE("sender: IPv6 client and forged comparison", "[checks][sender]") {
    FakeResolver dns;
    dns.set_mx("example.test", {{10, "mx.example.test"}});
    dns.set_a("mx.example.test", {"192.0.2.1"});
    dns.set_aaaa("mx.example.test", {v6});
    CHECK(run_sender(dns, "user@example.test", v6).outcome == SenderOutcome::Pass);
    FakeResolver other;
    other.set_mx("example.test", {{10, "mx.example.test"}});
    other.set_aaaa("mx.example.test", {"2001:db8::1"});
    other.set("mx.example.test", RrType::A, DnsStatus::Timeout);   // A does not matter for an IPv6 client
    CHECK(run_sender(other, "user@example.test", v6).outcome == SenderOutcome::Forged);
}

TEST_CASE("sender: options say which questions are asked", "[checks][sender]") {
    const auto options = [](unsigned max_mx_hosts, bool lookup, bool forged) {
        checks::SenderCheckOptions o;
        o.max_mx_hosts = max_mx_hosts;
        o.lookup = lookup;
        o.forged = forged;
        return o;
    };
    {   // nothing depends on it
        FakeResolver dns;
        CHECK(run_sender(dns, "user@example.test", v4, options(10, false, false)).outcome == SenderOutcome::Skip);
        CHECK(dns.questions() == 0);
    }
    {   // no forged comparison: an MX with a valid host passes, hosts not asked
        FakeResolver dns;
        dns.set_mx("example.test", {{10, "gone.example.test"}});
        CHECK(run_sender(dns, "user@example.test", v4, options(10, true, false)).outcome == SenderOutcome::Pass);
        CHECK(dns.questions() == 3);
    }
    {   // forged: hosts asked in the client's family only
        FakeResolver dns;
        dns.set_mx("example.test", {{10, "mx.example.test"}});
        dns.set_a("mx.example.test", {"192.0.2.1"});
        CHECK(run_sender(dns, "user@example.test", v4, options(10, true, true)).outcome == SenderOutcome::Forged);
        CHECK(dns.questions("mx.example.test", RrType::A) == 1);
        CHECK(dns.questions("mx.example.test", RrType::Aaaa) == 0);
    }
    {   // max_mx_hosts
        FakeResolver dns;
        dns.set_mx("example.test", {{10, "a.example.test"}, {20, "b.example.test"}, {5, "c.example.test"}});
        run_sender(dns, "user@example.test", v4, options(1, true, true));
        CHECK(dns.questions("c.example.test", RrType::A) == 1);
        CHECK(dns.questions("a.example.test", RrType::A) == 0);
        CHECK(dns.questions() == 4);
    }
}

TEST_CASE("sender: an expired check never says forged or not_found for what it did not hear", "[checks][sender]") {
    FakeResolver dns;
    dns.set_mx("example.test", {{10, "mx.example.test"}});
    dns.set("example.test", RrType::A, DnsStatus::NoData);
    dns.set("example.test", RrType::Aaaa, DnsStatus::NoData);
    checks::SenderCheck check(dns, "user@example.test", v4, {});
    check.start();
    CHECK(check.result().outcome == SenderOutcome::TempFail);
    dns.run_pending();   // MX hosts: NXDOMAIN by default
    CHECK(check.result().outcome == SenderOutcome::Forged);
    CHECK(check.finished());
}

TEST_CASE("helo: an unfinished forged comparison defers only when forged matters", "[checks][helo]") {
    // The name resolves (its A is another address); its MX host cannot be looked up.
    for (const bool forged_matters : {true, false}) {
        for (const auto status : all_statuses) {
            INFO("MX host A status " << dns::to_string(status) << ", forged matters " << forged_matters);
            FakeResolver dns;
            dns.set_a("mx.example.test", {"192.0.2.1"});
            dns.set("mx.example.test", RrType::Aaaa, DnsStatus::NoData);
            dns.set_mx("mx.example.test", {{10, "relay.example.test"}});
            if (status == DnsStatus::Answer) dns.set_a("relay.example.test", {"192.0.2.2"});
            else dns.set("relay.example.test", RrType::A, status);
            checks::HeloCheckOptions o;
            o.forged_matters = forged_matters;
            const auto r = run_helo(dns, "mx.example.test", v4, o);
            CHECK(dns.questions() == 4);   // A, AAAA, MX; the MX host's A
            CHECK(r.outcome != HeloOutcome::NotFound);
            if (!dns::is_unknown(status)) {
                CHECK(r.outcome == HeloOutcome::Forged);   // 203.0.113.9 is in neither
            } else if (forged_matters) {
                CHECK(r.outcome == HeloOutcome::TempFail);
                CHECK(contains(r.detail, "relay.example.test"));
            } else {
                CHECK(r.outcome == HeloOutcome::Pass);
                CHECK(contains(r.detail, "forged comparison unfinished"));
                CHECK(contains(r.detail, "relay.example.test"));
            }
        }
    }
}
