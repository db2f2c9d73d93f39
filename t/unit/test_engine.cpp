// The engine on a FakeResolver and a FakeScheduler: state gating, reuse per instance,
// shared in-flight checks, the header once per instance, expire(), cancellation, the
// questions it asks, end-to-end answers under the default and the postfix configs.
#include <catch2/catch.hpp>

#include <deque>
#include <optional>

#include "checks/engine.hpp"
#include "support/fake_resolver.hpp"
#include "support/test_config.hpp"

using namespace rpd;
using namespace std::chrono_literals;
using dns::DnsStatus;
using dns::RrType;
using test::act;

namespace {

constexpr const char* v4 = "203.0.113.9";
constexpr const char* v4_ptr = "9.113.0.203.in-addr.arpa";

policy::Request request(const char* state, const char* instance = "inst-1") {
    policy::Request r;
    r.request = "smtpd_access_policy";
    r.protocol_state = state;
    r.client_address = v4;
    r.instance = instance;
    const std::string s = state;
    if (s != "CONNECT") r.helo_name = "mx.example.test";
    if (s == "MAIL" || s == "RCPT" || s == "DATA" || s == "END-OF-MESSAGE") r.sender = "a@example.test";
    if (s == "RCPT" || s == "DATA" || s == "END-OF-MESSAGE") r.recipient = "b@example.org";
    return r;
}

void no_domain(test::FakeResolver& dns) {
    for (const auto type : {RrType::Mx, RrType::A, RrType::Aaaa}) dns.set("example.test", type, DnsStatus::NxDomain);
}

// A world where everything passes.
void good_world(test::FakeResolver& dns) {
    dns.set_ptr(v4_ptr, {"mx.example.test"});
    dns.set_a("mx.example.test", {v4});
    dns.set("mx.example.test", RrType::Aaaa, DnsStatus::NoData);
    dns.set("mx.example.test", RrType::Mx, DnsStatus::NoData);
    dns.set_mx("example.test", {{10, "mx.example.test"}});
    dns.set_a("example.test", {"192.0.2.10"});
    dns.set("example.test", RrType::Aaaa, DnsStatus::NoData);
}

struct Harness {
    test::FakeResolver dns;
    test::FakeScheduler loop;
    std::chrono::steady_clock::time_point now{std::chrono::hours(1)};
    checks::Engine engine;
    std::shared_ptr<const config::Config> config;

    explicit Harness(config::Config c = test::default_config(), checks::Engine::Options o = {})
        : engine(dns, loop.poster(), o, [this] { return now; }),
          config(std::make_shared<const config::Config>(std::move(c))) {}

    void run() {   // the event loop: answers, then posted closures, until both are idle
        for (int i = 0; i < 100 && (dns.waiting() != 0 || loop.waiting() != 0); ++i) {
            dns.run_pending();
            loop.run();
        }
    }

    struct Got {
        int calls = 0;
        std::optional<checks::Explanation> explanation;
        const std::string& action() const { return explanation->decision.action; }
    };
    // The engine refers to a request until its answer (decider.hpp): the harness keeps a
    // copy of each, as the server keeps them next to their jobs, so a test may pass a
    // temporary.
    std::deque<policy::Request> requests;

    // Starts a decision; its answer lands in the returned Got.
    std::unique_ptr<policy::Decider::Job> start(const policy::Request& r, const std::shared_ptr<Got>& got) {
        const auto& kept = requests.emplace_back(r);
        return engine.explain(config, kept, [got](checks::Explanation e) {
            ++got->calls;
            got->explanation = std::move(e);
        });
    }
    Got decide(const policy::Request& r) {
        auto got = std::make_shared<Got>();
        auto job = start(r, got);
        run();
        REQUIRE(got->calls == 1);
        return *got;
    }
};

bool one_line(const std::string& s) {
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f) return false;
    }
    return true;
}

}  // namespace

TEST_CASE("engine: done runs from the loop, never inside decide()", "[engine]") {
    Harness h;
    auto r = request("CONNECT");
    r.client_address = "127.0.0.1";   // loopback: nothing to ask, known at once
    auto got = std::make_shared<Harness::Got>();
    int plain_calls = 0;
    auto job = h.start(r, got);
    auto plain = h.engine.decide(h.config, r, [&plain_calls](policy::Decision d) {
        ++plain_calls;
        CHECK(d.action == "DUNNO");
    });
    CHECK(got->calls == 0);
    CHECK(plain_calls == 0);
    CHECK(h.loop.waiting() == 1);   // both ready jobs decided by one post
    h.run();
    CHECK(got->calls == 1);
    CHECK(plain_calls == 1);
    CHECK(h.dns.questions() == 0);
    CHECK(got->action() == "DUNNO");
    CHECK(got->explanation->checks[0].outcome == "skip");
}

TEST_CASE("engine: evaluation per protocol_state", "[engine]") {
    struct Case { const char* state; bool helo; bool sender; std::size_t questions; };
    const Case cases[] = {
        {"CONNECT", false, false, 2},   // PTR + A
        {"EHLO", true, false, 5},       // + A, AAAA, MX of the HELO name
        {"HELO", true, false, 5},
        {"MAIL", true, true, 9},       // + MX, A, AAAA of example.test, A of its MX host (forged)
        {"RCPT", true, true, 9},
        {"DATA", true, true, 9},
        {"END-OF-MESSAGE", true, true, 9},
        {"VRFY", true, false, 5},
    };
    for (const auto& c : cases) {
        INFO("state " << c.state);
        Harness h;
        good_world(h.dns);
        const auto got = h.decide(request(c.state));
        const auto& e = *got.explanation;
        CHECK(e.checks[0].evaluated);
        CHECK(e.checks[0].outcome == "pass");
        CHECK(e.checks[1].evaluated == c.helo);
        CHECK(e.checks[2].evaluated == c.sender);
        CHECK(h.dns.questions() == c.questions);
        CHECK(got.action() == "DUNNO");
        CHECK(e.decision.log_line.find(std::string("state=") + c.state) != std::string::npos);
    }
    // RCPT without a HELO name: helo is not evaluated.
    Harness h;
    good_world(h.dns);
    auto r = request("RCPT");
    r.helo_name.clear();
    const auto got = h.decide(r);
    CHECK_FALSE(got.explanation->checks[1].evaluated);
    CHECK(got.explanation->checks[2].evaluated);
}

// Only the transaction's own reuse: nothing shared across instances.
checks::Engine::Options per_transaction() {
    checks::Engine::Options o;
    o.max_shared_results = 0;
    return o;
}

TEST_CASE("engine: results are reused across the requests of one instance", "[engine]") {
    Harness h(test::default_config(), per_transaction());
    good_world(h.dns);
    h.decide(request("CONNECT"));
    CHECK(h.dns.questions() == 2);
    h.decide(request("EHLO"));
    CHECK(h.dns.questions() == 5);     // the client check is not asked again
    h.decide(request("MAIL"));
    CHECK(h.dns.questions() == 9);
    for (int i = 0; i < 3; ++i) h.decide(request("RCPT"));
    h.decide(request("DATA"));
    h.decide(request("END-OF-MESSAGE"));
    CHECK(h.dns.questions() == 9);     // nothing new for RCPT x3, DATA, END-OF-MESSAGE
    h.decide(request("RCPT", "inst-2"));
    CHECK(h.dns.questions() == 18);    // another instance: its own lookups
    CHECK(h.engine.transactions() == 2);

    // A changed input is a new check: a second HELO with another name.
    auto r = request("RCPT", "inst-2");
    r.helo_name = "other.example.test";
    h.decide(r);
    CHECK(h.dns.questions() == 21);

    // A request without instance shares nothing.
    auto anon = request("RCPT", "");
    h.decide(anon);
    h.decide(anon);
    CHECK(h.dns.questions() == 39);
}

TEST_CASE("engine: concurrent requests of one instance share the checks in flight", "[engine]") {
    Harness h;
    good_world(h.dns);
    auto a = std::make_shared<Harness::Got>(), b = std::make_shared<Harness::Got>();
    auto ja = h.start(request("RCPT"), a);
    auto jb = h.start(request("RCPT"), b);
    CHECK(h.dns.questions() == 7);   // PTR, 3 HELO, 3 sender; forward and MX hosts come later
    h.run();
    CHECK(h.dns.questions() == 9);
    CHECK(a->calls == 1);
    CHECK(b->calls == 1);
    CHECK(a->action() == "DUNNO");
    CHECK(b->action() == "DUNNO");
}

TEST_CASE("engine: the warning header once per instance, never at END-OF-MESSAGE", "[engine]") {
    Harness h;   // default config: headers.warning = true; no PTR anywhere
    good_world(h.dns);
    h.dns.set(v4_ptr, RrType::Ptr, DnsStatus::NxDomain);
    const char* header = "PREPEND X-Reverse-Lookup: client=no_ptr helo=pass sender=pass";
    CHECK(h.decide(request("CONNECT")).action() == "DUNNO");   // no header before MAIL
    CHECK(h.decide(request("MAIL")).action() == header);
    CHECK(h.decide(request("RCPT")).action() == "DUNNO");
    CHECK(h.decide(request("RCPT")).action() == "DUNNO");
    CHECK(h.decide(request("END-OF-MESSAGE", "inst-2")).action() == "DUNNO");
    CHECK(h.decide(request("RCPT", "inst-2")).action() == header);
    const auto got = h.decide(request("DATA", "inst-3"));
    CHECK(got.action() == header);
    CHECK(got.explanation->header);
    CHECK(got.explanation->rule == "headers.warning");
}

TEST_CASE("engine: expire() decides now; unanswered lookups are tempfail, never permanent", "[engine]") {
    auto c = test::default_config();
    c.client.no_ptr = act("550 5.7.1 no PTR");
    c.client.mismatch = act("550 5.7.1 mismatch");
    Harness h(c);
    good_world(h.dns);
    auto got = std::make_shared<Harness::Got>();
    auto job = h.start(request("RCPT"), got);
    job->expire();   // nothing answered yet
    REQUIRE(got->calls == 1);
    const auto& e = *got->explanation;
    CHECK(e.expired);
    CHECK(e.checks[0].outcome == "tempfail");
    CHECK_FALSE(e.checks[0].finished);
    CHECK(e.checks[1].outcome == "tempfail");
    CHECK(e.checks[2].outcome == "tempfail");
    CHECK(got->action() ==
          "DEFER_IF_PERMIT 4.4.3 temporary DNS failure looking up reverse name of 203.0.113.9, try again later");
    REQUIRE_FALSE(e.checks[0].lookups.empty());
    CHECK(e.checks[0].lookups[0].status == DnsStatus::Timeout);
    job->expire();   // once only
    h.run();
    CHECK(got->calls == 1);

    // The checks went on: the next request of the instance has the answers.
    const auto before = h.dns.questions();
    CHECK(h.decide(request("RCPT")).action() == "DUNNO");
    CHECK(h.dns.questions() == before);
}

TEST_CASE("engine: expire() after the answer was posted does not answer twice", "[engine]") {
    Harness h;
    good_world(h.dns);
    auto got = std::make_shared<Harness::Got>();
    auto job = h.start(request("CONNECT"), got);
    h.dns.run_pending();
    CHECK(h.loop.waiting() == 1);
    job->expire();
    CHECK(got->calls == 1);
    CHECK(got->explanation->checks[0].outcome == "pass");   // everything was in
    CHECK_FALSE(got->explanation->expired);
    h.loop.run();
    CHECK(got->calls == 1);
}

TEST_CASE("engine: destroying the Job cancels it", "[engine]") {
    Harness h;
    good_world(h.dns);
    auto got = std::make_shared<Harness::Got>();
    auto job = h.start(request("RCPT"), got);
    CHECK(h.dns.waiting() == 7);
    job.reset();
    CHECK(h.dns.waiting() == 0);     // every ticket dropped: nobody else waited
    CHECK(h.dns.cancelled() == 7);
    h.run();
    CHECK(got->calls == 0);
    // The cancelled checks are forgotten: the next request asks again.
    h.decide(request("RCPT"));
    CHECK(h.dns.questions() == 16);

    // Destroyed after its answer was posted: still no call.
    auto late = std::make_shared<Harness::Got>();
    auto job2 = h.start(request("RCPT"), late);
    CHECK(h.loop.waiting() == 1);
    job2.reset();
    h.run();
    CHECK(late->calls == 0);
}

TEST_CASE("engine: a shared check survives one of its requests going away", "[engine]") {
    Harness h;
    good_world(h.dns);
    auto a = std::make_shared<Harness::Got>(), b = std::make_shared<Harness::Got>();
    auto ja = h.start(request("RCPT"), a);
    auto jb = h.start(request("RCPT"), b);
    ja.reset();
    CHECK(h.dns.cancelled() == 0);
    h.run();
    CHECK(a->calls == 0);
    CHECK(b->calls == 1);
    CHECK(b->action() == "DUNNO");
}

TEST_CASE("engine: a PTR with CR/LF and action=OK cannot inject a second action", "[engine]") {
    auto c = test::default_config();
    c.client.no_ptr = act("REJECT no valid PTR among {ptr_names}: {detail}");
    Harness h(c);
    good_world(h.dns);
    h.dns.set_ptr(v4_ptr, {"evil.example.test\r\naction=OK\r\n\r\n", "x\nOK"});
    const auto got = h.decide(request("RCPT"));
    const auto& d = got.explanation->decision;
    CHECK(got.explanation->checks[0].outcome == "no_ptr");
    CHECK(one_line(d.action));
    CHECK(one_line(d.log_line));
    CHECK(d.action.rfind("REJECT no valid PTR among evil.example.test??action=OK????,x?OK", 0) == 0);
    CHECK(h.dns.questions(v4_ptr, RrType::Ptr) == 1);
    CHECK(h.dns.questions() == 8);   // no forward lookups for the invalid names
}

TEST_CASE("engine: only the questions some action, the header or the log needs", "[engine]") {
    struct Case {
        const char* label;
        std::function<void(config::Config&)> tweak;
        std::function<void(policy::Request&)> req;
        std::size_t questions;
    };
    const auto no_req = [](policy::Request&) {};
    const Case cases[] = {
        {"quiet: the client only", [](config::Config&) {}, no_req, 2},
        {"helo not_found matters: A/AAAA/MX, no MX hosts",
         [](config::Config& c) { c.helo.not_found = act("450 4.7.1 Host not found"); }, no_req, 5},
        {"helo forged matters: its MX hosts too",
         [](config::Config& c) { c.helo.forged = act("REJECT forged"); }, no_req, 5},
        {"sender null_mx matters: MX/A/AAAA only",
         [](config::Config& c) { c.sender.null_mx = act("550 5.7.27 nullMX"); }, no_req, 5},
        {"sender not_found matters: MX/A/AAAA, no MX hosts (Postfix needs only an MX)",
         [](config::Config& c) { c.sender.not_found = act("450 4.1.8 Domain not found"); }, no_req, 5},
        {"sender forged matters: MX hosts' A only",
         [](config::Config& c) { c.sender.forged = act("REJECT forged"); }, no_req, 6},
        {"header on: everything", [](config::Config& c) { c.headers.warning = true; }, no_req, 9},
        {"helo tempfail explicit", [](config::Config& c) { c.helo.tempfail = act("DEFER_IF_PERMIT x"); }, no_req, 5},
        {"authenticated, sender exempt_authenticated: sender asks nothing",
         [](config::Config& c) {
             c.headers.warning = true;
             c.sender.exempt_authenticated = true;
         },
         [](policy::Request& r) { r.sasl_username = "alice"; }, 5},
        {"lookup = false",
         [](config::Config& c) {
             c.headers.warning = true;
             c.client.lookup = c.helo.lookup = c.sender.lookup = false;
         },
         no_req, 0},
        {"loopback client", [](config::Config& c) { c.headers.warning = true; },
         [](policy::Request& r) { r.client_address = "::1"; }, 0},
    };
    for (const auto& k : cases) {
        INFO(k.label);
        auto c = test::quiet_config();
        k.tweak(c);
        Harness h(c);
        good_world(h.dns);
        auto r = request("RCPT");
        k.req(r);
        h.decide(r);
        CHECK(h.dns.questions() == k.questions);
    }
    // ask_everything (for `check`): all questions even with the quiet config.
    checks::Engine::Options all;
    all.ask_everything = true;
    Harness h(test::quiet_config(), all);
    good_world(h.dns);
    auto r = request("RCPT");
    r.sasl_username = "alice";
    h.decide(r);
    CHECK(h.dns.questions() == 9);
}

TEST_CASE("engine: end to end under the default config", "[engine]") {
    struct Case {
        const char* label;
        std::function<void(test::FakeResolver&)> world;
        std::function<void(policy::Request&)> req;
        const char* action;
        const char* check;
        const char* outcome;
    };
    const auto none = [](policy::Request&) {};
    const Case cases[] = {
        {"all pass", [](test::FakeResolver&) {}, none, "DUNNO", "-", "-"},
        {"sender NXDOMAIN", no_domain, none,
         "451 4.1.8 Sender domain example.test not found", "sender", "not_found"},
        {"sender MX SERVFAIL and no address: auto tempfail defers",
         [](test::FakeResolver& d) {
             d.set("example.test", RrType::Mx, DnsStatus::ServFail);
             d.set("example.test", RrType::A, DnsStatus::NoData);
         },
         none,
         "DEFER_IF_PERMIT 4.4.3 temporary DNS failure looking up sender domain example.test, try again later",
         "sender", "tempfail"},
        {"sender MX SERVFAIL but an A record: the domain exists (Postfix); forged DUNNO, no tempfail",
         [](test::FakeResolver& d) { d.set("example.test", RrType::Mx, DnsStatus::ServFail); }, none,
         "DUNNO", "-", "-"},
        {"sender NXDOMAIN, authenticated: exempt", no_domain,
         [](policy::Request& r) { r.sasl_username = "alice"; }, "DUNNO", "-", "-"},
        {"no PTR: header only",
         [](test::FakeResolver& d) { d.set(v4_ptr, RrType::Ptr, DnsStatus::NxDomain); }, none,
         "PREPEND X-Reverse-Lookup: client=no_ptr helo=pass sender=pass", "client", "no_ptr"},
        {"null sender: sender skipped", [](test::FakeResolver&) {}, [](policy::Request& r) { r.sender.clear(); },
         "DUNNO", "-", "-"},
        {"HELO forged: header",
         [](test::FakeResolver& d) { d.set_a("mx.example.test", {"192.0.2.1"}); }, none,
         "PREPEND X-Reverse-Lookup: client=mismatch helo=forged sender=forged", "client", "mismatch"},
    };
    for (const auto& k : cases) {
        INFO(k.label);
        Harness h;
        good_world(h.dns);
        k.world(h.dns);
        auto r = request("RCPT");
        k.req(r);
        const auto got = h.decide(r);
        CHECK(got.action() == k.action);
        const auto& line = got.explanation->decision.log_line;
        CHECK(line.find(std::string("check=") + k.check + " outcome=" + k.outcome + " ") != std::string::npos);
        CHECK(one_line(line));
    }
}

TEST_CASE("engine: the postfix preset answers as Postfix would", "[engine]") {
    struct Case {
        const char* label;
        std::function<void(test::FakeResolver&)> world;
        const char* action;
    };
    const Case cases[] = {
        {"no PTR", [](test::FakeResolver& d) { d.set(v4_ptr, RrType::Ptr, DnsStatus::NxDomain); },
         "450 4.7.1 cannot find your reverse hostname, [203.0.113.9]"},
        {"PTR SERVFAIL", [](test::FakeResolver& d) { d.set(v4_ptr, RrType::Ptr, DnsStatus::ServFail); },
         "DEFER_IF_PERMIT 4.7.1 cannot find your reverse hostname, [203.0.113.9]"},
        {"forward mismatch", [](test::FakeResolver& d) { d.set_a("mx.example.test", {"192.0.2.1"}); },
         "450 4.7.25 cannot find your hostname, [203.0.113.9]"},
        {"forward timeout", [](test::FakeResolver& d) { d.set("mx.example.test", RrType::A, DnsStatus::Timeout); },
         "DEFER_IF_PERMIT 4.7.25 cannot find your hostname, [203.0.113.9]"},
        {"null MX",
         [](test::FakeResolver& d) { d.set_mx("example.test", {{0, ""}}); },
         "550 5.7.27 Domain example.test does not accept mail (nullMX)"},
        {"sender domain not found", no_domain,
         "450 4.1.8 Domain not found"},
    };
    for (const auto& k : cases) {
        INFO(k.label);
        Harness h(test::postfix_config());
        good_world(h.dns);
        k.world(h.dns);
        CHECK(h.decide(request("RCPT")).action() == k.action);
    }
    Harness h(test::postfix_config());
    good_world(h.dns);
    auto r = request("RCPT");
    r.helo_name = "[300.1.2.3]";
    CHECK(h.decide(r).action() == "501 5.5.2 invalid ip address");
    r = request("RCPT", "inst-2");
    r.helo_name = "localhost";
    CHECK(h.decide(r).action() == "504 5.5.2 need fully-qualified hostname");
}

TEST_CASE("engine: the transaction table is bounded and forgets", "[engine]") {
    auto o = per_transaction();
    o.max_transactions = 2;
    o.transaction_ttl = 60s;
    Harness h(test::default_config(), o);
    good_world(h.dns);
    h.decide(request("CONNECT", "a"));
    h.decide(request("CONNECT", "b"));
    CHECK(h.dns.questions() == 4);
    h.decide(request("CONNECT", "a"));   // a is now the most recent
    CHECK(h.dns.questions() == 4);
    h.decide(request("CONNECT", "c"));   // evicts b
    CHECK(h.engine.transactions() == 2);
    h.decide(request("CONNECT", "a"));
    CHECK(h.dns.questions() == 6);
    h.decide(request("CONNECT", "b"));   // b was forgotten
    CHECK(h.dns.questions() == 8);

    h.now += 61s;                        // all expire
    h.decide(request("CONNECT", "d"));
    CHECK(h.engine.transactions() == 1);
    h.decide(request("CONNECT", "a"));
    CHECK(h.dns.questions() == 12);
}

TEST_CASE("engine: a new Config object redoes the checks", "[engine]") {
    Harness h;
    good_world(h.dns);
    h.decide(request("CONNECT"));
    h.config = std::make_shared<const config::Config>(test::default_config());
    h.decide(request("CONNECT"));
    CHECK(h.dns.questions() == 4);
}

TEST_CASE("engine: the explanation holds every question, outcome and rule", "[engine]") {
    auto c = test::default_config();
    c.helo.forged = act("REJECT HELO {helo_name} is forged: {detail}");
    Harness h(c);
    good_world(h.dns);
    h.dns.set_a("mx.example.test", {"192.0.2.1"});
    h.dns.set_ptr(v4_ptr, {"mail.example.test"});
    h.dns.set_a("mail.example.test", {v4});
    const auto got = h.decide(request("RCPT"));
    const auto& e = *got.explanation;
    CHECK(e.rule == "helo.forged");
    CHECK(got.action() ==
          "REJECT HELO mx.example.test is forged: 203.0.113.9 is not among the addresses of mx.example.test or its "
          "MX hosts");
    CHECK(e.checks[0].outcome == "pass");
    CHECK(e.checks[0].lookups.size() == 2);
    CHECK(e.checks[1].outcome == "forged");
    CHECK(e.checks[1].rule == "helo.forged");
    REQUIRE(e.checks[1].lookups.size() == 3);
    CHECK(e.checks[1].lookups[0].name == "mx.example.test");
    CHECK(e.checks[1].lookups[0].type == RrType::A);
    CHECK(e.checks[1].lookups[0].server == "192.0.2.53:53");
    CHECK(e.checks[1].lookups[0].records == std::vector<std::string>{"mx.example.test. 300 IN A 192.0.2.1"});
    CHECK(e.checks[2].outcome == "forged");
    CHECK(e.decision.log_line ==
          "NOQUEUE: action=" + got.action() +
              " check=helo outcome=forged client=mail.example.test[203.0.113.9] helo=<mx.example.test> "
              "sender=<a@example.test> recipient=<b@example.org> state=RCPT");
}

TEST_CASE("engine: IPv6 client through the engine", "[engine]") {
    Harness h;
    good_world(h.dns);
    auto r = request("RCPT");
    r.client_address = "2001:db8::9";
    const auto ptr = *util::IpAddress::parse("2001:db8::9");
    h.dns.set_ptr(ptr.reverse_name(), {"v6.example.test"});
    h.dns.set_aaaa("v6.example.test", {"2001:db8::9"});
    h.dns.set_aaaa("mx.example.test", {"2001:db8::9"});
    h.dns.set_aaaa("example.test", {"2001:db8::9"});
    const auto got = h.decide(r);
    CHECK(got.action() == "DUNNO");
    CHECK(got.explanation->checks[0].outcome == "pass");
    CHECK(got.explanation->checks[1].outcome == "pass");
    CHECK(got.explanation->checks[2].outcome == "pass");
    CHECK(got.explanation->decision.log_line.find("client=v6.example.test[2001:db8::9]") != std::string::npos);
}

TEST_CASE("engine: done may destroy its own Job (as the server does)", "[engine]") {
    Harness h;
    good_world(h.dns);
    for (const bool by_expire : {false, true}) {
        INFO("by expire: " << by_expire);
        std::unique_ptr<policy::Decider::Job> job;
        int calls = 0;
        const auto r = request("RCPT", by_expire ? "x" : "y");   // outlives the job, as the server's does
        job = h.engine.decide(h.config, r, [&](policy::Decision d) {
            ++calls;
            CHECK_FALSE(d.action.empty());
            job.reset();   // the connection drops its Job inside the callback
        });
        if (by_expire) job->expire();
        h.run();
        CHECK(calls == 1);
        CHECK(job == nullptr);
    }
}

// A proven absence with a negative TTL (from the SOA), as a real server sends it.
dns::DnsResult absent(DnsStatus status, std::uint32_t ttl = 300) {
    dns::DnsResult r;
    r.status = status;
    r.ttl = ttl;
    return r;
}

// good_world() with TTLs on its negative answers too, so every check can be shared.
void good_world_ttl(test::FakeResolver& dns) {
    good_world(dns);
    dns.set("mx.example.test", RrType::Aaaa, absent(DnsStatus::NoData));
    dns.set("mx.example.test", RrType::Mx, absent(DnsStatus::NoData));
    dns.set("example.test", RrType::Aaaa, absent(DnsStatus::NoData));
}

TEST_CASE("engine: checks are shared across transactions while their answers live", "[engine][shared]") {
    SECTION("another instance, the same client, HELO and sender: nothing asked again") {
        Harness h;
        good_world_ttl(h.dns);
        CHECK(h.decide(request("RCPT", "a")).action() == "DUNNO");
        CHECK(h.dns.questions() == 9);
        const auto got = h.decide(request("RCPT", "b"));
        CHECK(h.dns.questions() == 9);
        CHECK(got.action() == "DUNNO");
        CHECK(got.explanation->checks[0].outcome == "pass");
        CHECK(got.explanation->checks[0].lookups.size() == 2);   // evidence kept by default
        CHECK(h.engine.shared_results() == 3);
        // Another HELO name is another check; the client's is still shared.
        auto r = request("RCPT", "c");
        r.helo_name = "other.example.test";
        h.decide(r);
        CHECK(h.dns.questions() == 12);
    }
    SECTION("until the shortest TTL of the answers used (300 s here) has passed") {
        Harness h;
        good_world_ttl(h.dns);
        h.decide(request("CONNECT", "a"));
        h.now += 299s;
        h.decide(request("CONNECT", "b"));
        CHECK(h.dns.questions() == 2);
        h.now += 2s;
        h.decide(request("CONNECT", "c"));
        CHECK(h.dns.questions() == 4);
    }
    SECTION("a TTL of 0 is not shared") {
        Harness h;
        good_world_ttl(h.dns);
        dns::DnsResult a;
        a.status = DnsStatus::Answer;
        a.addresses = {*util::IpAddress::parse(v4)};
        a.ttl = 0;
        h.dns.set("mx.example.test", RrType::A, a);
        h.decide(request("CONNECT", "a"));
        h.decide(request("CONNECT", "b"));
        CHECK(h.dns.questions() == 4);
    }
    SECTION("a tempfail is never shared: the next transaction asks again") {
        Harness h;
        good_world_ttl(h.dns);
        h.dns.set(v4_ptr, RrType::Ptr, DnsStatus::ServFail);
        CHECK(h.decide(request("CONNECT", "a")).explanation->checks[0].outcome == "tempfail");
        CHECK(h.decide(request("CONNECT", "b")).explanation->checks[0].outcome == "tempfail");
        CHECK(h.dns.questions(v4_ptr, RrType::Ptr) == 2);
        CHECK(h.engine.shared_results() == 0);
    }
    SECTION("a proven absence is shared like an answer") {
        Harness h;
        good_world_ttl(h.dns);
        h.dns.set(v4_ptr, RrType::Ptr, absent(DnsStatus::NxDomain));
        CHECK(h.decide(request("CONNECT", "a")).explanation->checks[0].outcome == "no_ptr");
        CHECK(h.decide(request("CONNECT", "b")).explanation->checks[0].outcome == "no_ptr");
        CHECK(h.dns.questions(v4_ptr, RrType::Ptr) == 1);
    }
    SECTION("a new Config object empties the table") {
        Harness h;
        good_world_ttl(h.dns);
        h.decide(request("CONNECT", "a"));
        h.config = std::make_shared<const config::Config>(test::default_config());
        h.decide(request("CONNECT", "b"));
        CHECK(h.dns.questions() == 4);
    }
    SECTION("at most max_shared_results per kind, least recently used dropped first") {
        auto o = checks::Engine::Options{};
        o.max_shared_results = 2;
        Harness h(test::default_config(), o);
        good_world_ttl(h.dns);
        const char* clients[] = {"203.0.113.1", "203.0.113.2", "203.0.113.3"};
        for (const char* ptr : {"1.113.0.203.in-addr.arpa", "2.113.0.203.in-addr.arpa", "3.113.0.203.in-addr.arpa"}) {
            h.dns.set(ptr, RrType::Ptr, absent(DnsStatus::NxDomain));
        }
        for (const char* c : clients) {
            auto r = request("CONNECT", c);
            r.client_address = c;
            h.decide(r);
        }
        CHECK(h.engine.shared_results() == 2);
        const auto asked = h.dns.questions();
        auto r = request("CONNECT", "again-3");
        r.client_address = clients[2];
        h.decide(r);
        CHECK(h.dns.questions() == asked);        // kept
        r.instance = "again-1";
        r.client_address = clients[0];
        h.decide(r);
        CHECK(h.dns.questions() == asked + 1);    // dropped: its PTR asked again (NXDOMAIN here)
    }
    SECTION("the authenticated exemption is part of the input") {
        auto c = test::default_config();
        c.sender.exempt_authenticated = true;
        Harness h(c);
        good_world_ttl(h.dns);
        auto r = request("RCPT", "a");
        r.sasl_username = "alice";
        h.decide(r);
        CHECK(h.dns.questions("example.test", RrType::Mx) == 0);   // exempt: not asked
        h.decide(request("RCPT", "b"));
        CHECK(h.dns.questions("example.test", RrType::Mx) == 1);   // not exempt: asked
    }
    SECTION("the header is still sent once per instance when every check comes from the table") {
        Harness h;
        good_world_ttl(h.dns);
        h.dns.set(v4_ptr, RrType::Ptr, absent(DnsStatus::NxDomain));
        const std::string header = "PREPEND X-Reverse-Lookup: client=no_ptr helo=pass sender=pass";
        CHECK(h.decide(request("RCPT", "warm")).action() == header);
        const auto asked = h.dns.questions();
        CHECK(h.decide(request("MAIL", "a")).action() == header);
        CHECK(h.decide(request("RCPT", "a")).action() == "DUNNO");
        CHECK(h.decide(request("RCPT", "a")).action() == "DUNNO");
        CHECK(h.decide(request("RCPT", "b")).action() == header);
        CHECK(h.dns.questions() == asked);
    }
    SECTION("without evidence kept, a shared check still decides alike") {
        auto o = checks::Engine::Options{};
        o.keep_evidence = false;
        auto c = test::default_config();
        c.client.no_ptr = act("550 5.7.1 no PTR for {client_address}");
        Harness h(c, o);
        h.dns.set(v4_ptr, RrType::Ptr, absent(DnsStatus::NxDomain));
        const auto first = h.decide(request("CONNECT", "a"));
        const auto second = h.decide(request("CONNECT", "b"));
        CHECK(h.dns.questions() == 1);
        CHECK(first.action() == "550 5.7.1 no PTR for 203.0.113.9");
        CHECK(second.action() == first.action());
        CHECK(second.explanation->checks[0].detail == first.explanation->checks[0].detail);
        CHECK(second.explanation->checks[0].lookups.empty());
    }
}

TEST_CASE("engine: HELO and sender results are shared between clients unless forged is compared", "[engine][shared]") {
    // Two clients with the same HELO name and sender; the second is not in the HELO
    // name's or the sender domain's addresses (it would be forged).
    constexpr const char* other = "198.51.100.7";
    const auto second_client = [&](const char* instance) {
        auto r = request("RCPT", instance);
        r.client_address = other;
        return r;
    };
    const auto world = [&](test::FakeResolver& dns) {
        good_world_ttl(dns);
        dns.set("7.100.51.198.in-addr.arpa", RrType::Ptr, absent(DnsStatus::NxDomain));
    };
    SECTION("forged has no action and no header: one HELO and one sender result for both") {
        Harness h(test::postfix_config());
        world(h.dns);
        const auto first = h.decide(request("RCPT", "a"));
        const auto asked = h.dns.questions();
        const auto got = h.decide(second_client("b"));
        CHECK(h.dns.questions() == asked + 1);   // only the new client's PTR
        CHECK(h.engine.shared_results() == 4);   // two clients, one HELO, one sender
        CHECK(got.explanation->checks[1].outcome == "pass");
        CHECK(got.explanation->checks[2].outcome == "pass");
        // The result does not mention either client: it is the same for both.
        CHECK(got.explanation->checks[1].detail == first.explanation->checks[1].detail);
        CHECK(got.explanation->checks[2].detail == first.explanation->checks[2].detail);
    }
    SECTION("forged with an action: each client has its own result") {
        auto c = test::postfix_config();
        c.helo.forged = act("REJECT forged HELO");
        c.sender.forged = act("REJECT forged sender");
        Harness h(c);
        world(h.dns);
        CHECK(h.decide(request("RCPT", "a")).explanation->checks[1].outcome == "pass");
        const auto got = h.decide(second_client("b"));
        CHECK(got.explanation->checks[1].outcome == "forged");
        CHECK(got.explanation->checks[2].outcome == "forged");
        CHECK(got.action() == "REJECT forged HELO");
        CHECK(h.engine.shared_results() == 6);
    }
    SECTION("the warning header shows forged: each client has its own result") {
        Harness h;   // default config: headers.warning = true
        world(h.dns);
        h.decide(request("RCPT", "a"));
        const auto got = h.decide(second_client("b"));
        CHECK(got.explanation->checks[1].outcome == "forged");
        CHECK(got.explanation->checks[2].outcome == "forged");
    }
    SECTION("an address literal is always compared with the client address") {
        Harness h(test::postfix_config());
        world(h.dns);
        auto r = request("RCPT", "a");
        r.helo_name = "[203.0.113.9]";
        r.sender = "a@[203.0.113.9]";
        const auto first = h.decide(r);
        CHECK(first.explanation->checks[1].outcome == "pass");
        CHECK(first.explanation->checks[2].outcome == "pass");
        r.instance = "b";
        r.client_address = other;
        const auto got = h.decide(r);
        CHECK(got.explanation->checks[1].outcome == "forged");
        CHECK(got.explanation->checks[2].outcome == "forged");
    }
}

TEST_CASE("engine: without evidence, shared results are kept packed and decoded on demand", "[engine][shared]") {
    auto o = checks::Engine::Options{};
    o.keep_evidence = false;
    o.max_decoded_results = 1;   // one decoded per kind: the others come from the packed store
    Harness h(test::default_config(), o);
    good_world_ttl(h.dns);
    const char* clients[] = {"203.0.113.1", "203.0.113.2", "203.0.113.3"};
    const char* ptrs[] = {"1.113.0.203.in-addr.arpa", "2.113.0.203.in-addr.arpa", "3.113.0.203.in-addr.arpa"};
    for (int i = 0; i < 3; ++i) {
        h.dns.set_ptr(ptrs[i], {std::string("h") + std::to_string(i) + ".example.test"});
        h.dns.set_a(std::string("h") + std::to_string(i) + ".example.test", {clients[i]});
    }
    std::vector<std::string> first;
    for (int i = 0; i < 3; ++i) {
        auto r = request("RCPT", clients[i]);
        r.client_address = clients[i];
        const auto got = h.decide(r);
        first.push_back(got.explanation->decision.log_line);
    }
    const auto asked = h.dns.questions();
    CHECK(h.engine.shared_results() == 9);
    for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < 3; ++i) {
            auto r = request("RCPT", clients[i]);
            r.instance = "again-" + std::to_string(round) + "-" + std::to_string(i);
            r.client_address = clients[i];
            const auto got = h.decide(r);
            CHECK(got.explanation->decision.log_line == first[static_cast<std::size_t>(i)]);
            CHECK(got.explanation->checks[0].outcome == "pass");
        }
    }
    CHECK(h.dns.questions() == asked);
    h.now += 301s;   // every answer expired: asked again
    auto r = request("RCPT", "late");
    r.client_address = clients[0];
    h.decide(r);
    CHECK(h.dns.questions() > asked);
}

TEST_CASE("engine: a check in flight is shared by another transaction; cancelling one keeps it for the other",
          "[engine][shared]") {
    Harness h;
    good_world_ttl(h.dns);
    auto a = std::make_shared<Harness::Got>(), b = std::make_shared<Harness::Got>();
    auto ja = h.start(request("CONNECT", "a"), a);
    auto jb = h.start(request("CONNECT", "b"), b);
    CHECK(h.dns.questions() == 1);   // one PTR for both
    ja.reset();                      // a's connection went away: b still waits
    h.run();
    CHECK(a->calls == 0);
    CHECK(b->calls == 1);
    CHECK(b->action() == "DUNNO");
    CHECK(b->explanation->checks[0].outcome == "pass");
    CHECK(h.dns.questions() == 2);

    // Both gone before the answer: the check is cancelled and the next request starts afresh.
    Harness g;
    good_world_ttl(g.dns);
    auto c = std::make_shared<Harness::Got>();
    auto jc = g.start(request("CONNECT", "c"), c);
    jc.reset();
    g.run();
    const auto got = g.decide(request("CONNECT", "d"));
    CHECK(got.explanation->checks[0].outcome == "pass");
    CHECK(g.dns.questions() == 3);   // the cancelled PTR, then PTR and A again
}
