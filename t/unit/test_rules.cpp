// The decision rules of SPEC §4 on given outcomes: mapping, tempfail, exemptions,
// severity, the warning header, placeholders, the log line, sanitising.
#include <catch2/catch.hpp>

#include <functional>

#include "rules/decision.hpp"
#include "support/test_config.hpp"

using namespace rpd;
using checks::ClientOutcome;
using checks::HeloOutcome;
using checks::SenderOutcome;
using test::act;

namespace {

policy::Request request(const char* state = "RCPT") {
    policy::Request r;
    r.request = "smtpd_access_policy";
    r.protocol_state = state;
    r.client_address = "203.0.113.9";
    r.helo_name = "mx.example.test";
    r.sender = "a@example.test";
    r.recipient = "b@example.org";
    r.instance = "1a2b.5f3e1c2d.1a2b3.0";
    return r;
}

checks::ClientResult client(ClientOutcome o, bool ptr_failed = false, std::vector<std::string> confirmed = {}) {
    checks::ClientResult r;
    r.outcome = o;
    r.ptr_failed = ptr_failed;
    r.detail = "client detail";
    r.confirmed_names = std::move(confirmed);
    if (o == ClientOutcome::Pass && r.confirmed_names.empty()) r.confirmed_names = {"mail.example.test"};
    return r;
}
checks::HeloResult helo(HeloOutcome o, bool bad_literal = false) {
    checks::HeloResult r;
    r.outcome = o;
    r.bad_literal = bad_literal;
    r.detail = "helo detail";
    return r;
}
checks::SenderResult sender(SenderOutcome o) {
    checks::SenderResult r;
    r.outcome = o;
    r.detail = "sender detail";
    return r;
}

rules::CheckResults all_pass() {
    return {client(ClientOutcome::Pass), helo(HeloOutcome::Pass), sender(SenderOutcome::Pass)};
}

rules::Verdict decide(const config::Config& c, const rules::CheckResults& r, const policy::Request& q = request(),
                      bool header_sent = false) {
    return rules::decide(c, q, r, header_sent);
}

}  // namespace

TEST_CASE("rules: each outcome maps to its check's action", "[rules]") {
    auto c = test::quiet_config();
    c.client.no_ptr = act("REJECT no ptr");
    c.client.mismatch = act("REJECT mismatch");
    c.helo.invalid = act("REJECT invalid");
    c.helo.non_fqdn = act("REJECT non fqdn");
    c.helo.not_found = act("REJECT helo not found");
    c.helo.forged = act("REJECT helo forged");
    c.sender.not_found = act("REJECT sender not found");
    c.sender.null_mx = act("REJECT null mx");
    c.sender.forged = act("REJECT sender forged");
    struct Case { const char* label; rules::CheckResults results; const char* action; const char* rule; };
    const Case cases[] = {
        {"all pass", all_pass(), "DUNNO", "-"},
        {"client no_ptr", {client(ClientOutcome::NoPtr), helo(HeloOutcome::Pass), sender(SenderOutcome::Pass)},
         "REJECT no ptr", "client.no_ptr"},
        {"client mismatch", {client(ClientOutcome::Mismatch), std::nullopt, std::nullopt}, "REJECT mismatch",
         "client.mismatch"},
        {"client skip", {client(ClientOutcome::Skip), std::nullopt, std::nullopt}, "DUNNO", "-"},
        {"helo invalid", {client(ClientOutcome::Pass), helo(HeloOutcome::Invalid), std::nullopt}, "REJECT invalid",
         "helo.invalid"},
        {"helo non_fqdn", {client(ClientOutcome::Pass), helo(HeloOutcome::NonFqdn), std::nullopt},
         "REJECT non fqdn", "helo.non_fqdn"},
        {"helo not_found", {client(ClientOutcome::Pass), helo(HeloOutcome::NotFound), std::nullopt},
         "REJECT helo not found", "helo.not_found"},
        {"helo forged", {client(ClientOutcome::Pass), helo(HeloOutcome::Forged), std::nullopt},
         "REJECT helo forged", "helo.forged"},
        {"helo skip", {client(ClientOutcome::Pass), helo(HeloOutcome::Skip), std::nullopt}, "DUNNO", "-"},
        {"sender not_found", {client(ClientOutcome::Pass), helo(HeloOutcome::Pass), sender(SenderOutcome::NotFound)},
         "REJECT sender not found", "sender.not_found"},
        {"sender null_mx", {client(ClientOutcome::Pass), helo(HeloOutcome::Pass), sender(SenderOutcome::NullMx)},
         "REJECT null mx", "sender.null_mx"},
        {"sender forged", {client(ClientOutcome::Pass), helo(HeloOutcome::Pass), sender(SenderOutcome::Forged)},
         "REJECT sender forged", "sender.forged"},
        {"sender skip", {client(ClientOutcome::Pass), helo(HeloOutcome::Pass), sender(SenderOutcome::Skip)}, "DUNNO",
         "-"},
    };
    for (const auto& k : cases) {
        INFO(k.label);
        const auto v = decide(c, k.results);
        CHECK(v.action == k.action);
        CHECK(v.rule == k.rule);
    }
}

TEST_CASE("rules: the most severe action wins; a tie goes to the first check", "[rules]") {
    const char* order[] = {"521 5.7.1 bye", "REJECT r", "550 5.7.1 x", "421 4.7.1 bye", "DEFER d", "450 4.7.1 y",
                           "DEFER_IF_PERMIT 4.7.1 p", "DEFER_IF_REJECT 4.7.1 q", "HOLD h", "PREPEND X-A: b",
                           "WARN w", "DUNNO"};
    // Rank by severity as SPEC §4 lists them; equal severities are interchangeable.
    for (const char* a : order) {
        for (const char* b : order) {
            INFO("client " << a << ", sender " << b);
            auto c = test::quiet_config();
            c.client.no_ptr = act(a);
            c.sender.not_found = act(b);
            const auto v = decide(c, {client(ClientOutcome::NoPtr), helo(HeloOutcome::Pass),
                                      sender(SenderOutcome::NotFound)});
            const auto sa = act(a).severity, sb = act(b).severity;
            if (sa == rules::Severity::Dunno && sb == rules::Severity::Dunno) {
                CHECK(v.action == "DUNNO");
            } else if (sa >= sb) {
                CHECK(v.action == a);
                CHECK(v.rule == "client.no_ptr");
            } else {
                CHECK(v.action == b);
                CHECK(v.rule == "sender.not_found");
            }
        }
    }
    // The spec's order of severities, most severe first.
    CHECK(act("521 5.7.1 x").severity > act("421 4.7.1 x").severity);
    CHECK(act("REJECT").severity > act("DEFER").severity);
    CHECK(act("DEFER").severity > act("DEFER_IF_PERMIT").severity);
    CHECK(act("DEFER_IF_PERMIT").severity > act("DEFER_IF_REJECT").severity);
    CHECK(act("DEFER_IF_REJECT").severity > act("HOLD").severity);
    CHECK(act("DISCARD").severity > act("PREPEND X-A: b").severity);
    CHECK(act("PREPEND X-A: b").severity > act("WARN x").severity);
    CHECK(act("WARN x").severity > act("DUNNO").severity);
}

TEST_CASE("rules: tempfail auto, explicit, never permanent", "[rules]") {
    struct Case {
        const char* label;
        rules::CheckResults results;
        std::function<void(config::Config&)> tweak;
        const char* action;
        const char* rule;
    };
    const auto tf_client = rules::CheckResults{client(ClientOutcome::TempFail, true), helo(HeloOutcome::Pass),
                                               sender(SenderOutcome::Pass)};
    const auto tf_helo = rules::CheckResults{client(ClientOutcome::Pass), helo(HeloOutcome::TempFail),
                                             sender(SenderOutcome::Pass)};
    const auto tf_sender = rules::CheckResults{client(ClientOutcome::Pass), helo(HeloOutcome::Pass),
                                               sender(SenderOutcome::TempFail)};
    const Case cases[] = {
        {"client auto, others DUNNO: logged only", tf_client, [](config::Config&) {}, "DUNNO",
         "-"},
        {"client auto, no_ptr rejects", tf_client, [](config::Config& c) { c.client.no_ptr = act("550 5.7.1 no"); },
         "DEFER_IF_PERMIT 4.4.3 temporary DNS failure looking up reverse name of 203.0.113.9, try again later",
         "client.tempfail (auto)"},
        {"client auto, mismatch defers", tf_client,
         [](config::Config& c) { c.client.mismatch = act("DEFER_IF_PERMIT x"); },
         "DEFER_IF_PERMIT 4.4.3 temporary DNS failure looking up reverse name of 203.0.113.9, try again later",
         "client.tempfail (auto)"},
        {"client auto, mismatch only WARNs", tf_client, [](config::Config& c) { c.client.mismatch = act("WARN x"); },
         "DUNNO", "-"},
        {"helo auto, invalid rejects", tf_helo, [](config::Config& c) { c.helo.invalid = act("501 5.5.2 bad"); },
         "DEFER_IF_PERMIT 4.4.3 temporary DNS failure looking up HELO name mx.example.test, try again later",
         "helo.tempfail (auto)"},
        {"sender auto, not_found defers", tf_sender,
         [](config::Config& c) { c.sender.not_found = act("451 4.1.8 nf"); },
         "DEFER_IF_PERMIT 4.4.3 temporary DNS failure looking up sender domain example.test, try again later",
         "sender.tempfail (auto)"},
        {"sender explicit", tf_sender,
         [](config::Config& c) { c.sender.tempfail = act("450 4.4.3 try later {sender_domain}"); },
         "450 4.4.3 try later example.test", "sender.tempfail"},
        {"explicit DUNNO", tf_sender,
         [](config::Config& c) {
             c.sender.not_found = act("REJECT");
             c.sender.tempfail = act("DUNNO");
         },
         "DUNNO", "-"},
        {"permanent tempfail action is refused", tf_helo,
         [](config::Config& c) { c.helo.tempfail = act("554 5.7.1 go away"); },
         "DEFER_IF_PERMIT 4.4.3 temporary DNS failure looking up HELO name mx.example.test, try again later",
         "helo.tempfail (permanent action refused)"},
        {"REJECT as tempfail action is refused", tf_client,
         [](config::Config& c) { c.client.tempfail = act("REJECT"); },
         "DEFER_IF_PERMIT 4.4.3 temporary DNS failure looking up reverse name of 203.0.113.9, try again later",
         "client.tempfail (permanent action refused)"},
    };
    for (const auto& k : cases) {
        INFO(k.label);
        auto c = test::quiet_config();
        k.tweak(c);
        const auto v = decide(c, k.results);
        CHECK(v.action == k.action);
        CHECK(v.rule == k.rule);
        CHECK(act(v.action).severity != rules::Severity::Reject);   // never permanent
    }
    // Logged only: the log line still shows the tempfail.
    const auto v = decide(test::quiet_config(), tf_client);
    CHECK(v.log_line.find("check=client outcome=tempfail") != std::string::npos);
}

TEST_CASE("rules: preset postfix texts", "[rules]") {
    const auto c = test::postfix_config();
    struct Case { const char* label; rules::CheckResults results; const char* action; };
    const Case cases[] = {
        {"no_ptr", {client(ClientOutcome::NoPtr), std::nullopt, std::nullopt},
         "450 4.7.1 cannot find your reverse hostname, [203.0.113.9]"},
        {"mismatch", {client(ClientOutcome::Mismatch), std::nullopt, std::nullopt},
         "450 4.7.25 cannot find your hostname, [203.0.113.9]"},
        {"tempfail on the PTR", {client(ClientOutcome::TempFail, true), std::nullopt, std::nullopt},
         "DEFER_IF_PERMIT 4.7.1 cannot find your reverse hostname, [203.0.113.9]"},
        {"tempfail on a forward lookup", {client(ClientOutcome::TempFail, false), std::nullopt, std::nullopt},
         "DEFER_IF_PERMIT 4.7.25 cannot find your hostname, [203.0.113.9]"},
        {"helo invalid name", {client(ClientOutcome::Pass), helo(HeloOutcome::Invalid), std::nullopt},
         "501 5.5.2 Invalid name"},
        {"helo bad literal", {client(ClientOutcome::Pass), helo(HeloOutcome::Invalid, true), std::nullopt},
         "501 5.5.2 invalid ip address"},
        {"helo non_fqdn", {client(ClientOutcome::Pass), helo(HeloOutcome::NonFqdn), std::nullopt},
         "504 5.5.2 need fully-qualified hostname"},
        {"helo not_found", {client(ClientOutcome::Pass), helo(HeloOutcome::NotFound), std::nullopt},
         "450 4.7.1 Host not found"},
        {"helo tempfail", {client(ClientOutcome::Pass), helo(HeloOutcome::TempFail), std::nullopt},
         "DEFER_IF_PERMIT 4.7.1 Host not found"},
        {"helo forged", {client(ClientOutcome::Pass), helo(HeloOutcome::Forged), std::nullopt}, "DUNNO"},
        {"sender not_found", {client(ClientOutcome::Pass), helo(HeloOutcome::Pass), sender(SenderOutcome::NotFound)},
         "450 4.1.8 Domain not found"},
        {"sender null_mx", {client(ClientOutcome::Pass), helo(HeloOutcome::Pass), sender(SenderOutcome::NullMx)},
         "550 5.7.27 Domain example.test does not accept mail (nullMX)"},
        {"sender tempfail", {client(ClientOutcome::Pass), helo(HeloOutcome::Pass), sender(SenderOutcome::TempFail)},
         "DEFER_IF_PERMIT 4.1.8 Domain not found"},
        {"sender forged", {client(ClientOutcome::Pass), helo(HeloOutcome::Pass), sender(SenderOutcome::Forged)},
         "DUNNO"},
    };
    for (const auto& k : cases) {
        INFO(k.label);
        CHECK(decide(c, k.results).action == k.action);
    }
    // An overridden invalid text stays as written for a bad literal too.
    auto overridden = c;
    overridden.helo.invalid = act("550 5.5.2 go away");
    CHECK(decide(overridden, {client(ClientOutcome::Pass), helo(HeloOutcome::Invalid, true), std::nullopt}).action ==
          "550 5.5.2 go away");
    // Client tempfail with no_ptr overridden to DUNNO: falls back to auto (mismatch still defers).
    overridden = c;
    overridden.client.no_ptr = act("DUNNO");
    CHECK(decide(overridden, {client(ClientOutcome::TempFail, true), std::nullopt, std::nullopt}).action ==
          "DEFER_IF_PERMIT 4.4.3 temporary DNS failure looking up reverse name of 203.0.113.9, try again later");
}

TEST_CASE("rules: exemptions", "[rules]") {
    const rules::CheckResults failing{client(ClientOutcome::NoPtr, false, {}), helo(HeloOutcome::NotFound),
                                      sender(SenderOutcome::NotFound)};
    const rules::CheckResults confirmed{client(ClientOutcome::Pass, false, {"mail.relay.example.net"}),
                                        helo(HeloOutcome::NotFound), sender(SenderOutcome::NotFound)};
    struct Case {
        const char* label;
        std::function<void(config::Config&, policy::Request&)> tweak;
        const rules::CheckResults* results;
        const char* action;
    };
    auto base = test::quiet_config();
    base.client.no_ptr = act("550 5.7.1 client");
    base.helo.not_found = act("450 4.7.1 helo");
    base.sender.not_found = act("451 4.1.8 sender");
    const Case cases[] = {
        {"nothing exempt", [](config::Config&, policy::Request&) {}, &failing, "550 5.7.1 client"},
        {"loopback IPv4 always", [](config::Config&, policy::Request& r) { r.client_address = "127.0.0.2"; },
         &failing, "DUNNO"},
        {"loopback IPv6 always", [](config::Config&, policy::Request& r) { r.client_address = "::1"; }, &failing,
         "DUNNO"},
        {"authenticated, exempt_authenticated on client only",
         [](config::Config& c, policy::Request& r) {
             c.client.exempt_authenticated = true;
             r.sasl_username = "alice";
         },
         &failing, "450 4.7.1 helo"},
        {"authenticated, exempt on all",
         [](config::Config& c, policy::Request& r) {
             c.client.exempt_authenticated = c.helo.exempt_authenticated = c.sender.exempt_authenticated = true;
             r.sasl_username = "alice";
         },
         &failing, "DUNNO"},
        {"not authenticated at RCPT: punitive",
         [](config::Config& c, policy::Request&) { c.client.exempt_authenticated = true; }, &failing,
         "550 5.7.1 client"},
        {"exempt_authenticated waits for MAIL at CONNECT",
         [](config::Config& c, policy::Request& r) {
             c.client.exempt_authenticated = true;
             r.protocol_state = "CONNECT";
         },
         &failing, "450 4.7.1 helo"},
        {"exempt_authenticated waits for MAIL at EHLO",
         [](config::Config& c, policy::Request& r) {
             c.client.exempt_authenticated = c.helo.exempt_authenticated = true;
             r.protocol_state = "EHLO";
         },
         &failing, "451 4.1.8 sender"},
        {"allowlisted client CIDR",
         [](config::Config& c, policy::Request&) {
             c.allowlist.clients = {*util::Cidr::parse("203.0.113.0/24")};
             c.client.exempt_allowlisted = c.helo.exempt_allowlisted = c.sender.exempt_allowlisted = true;
         },
         &failing, "DUNNO"},
        {"allowlisted client CIDR, exempt_allowlisted off",
         [](config::Config& c, policy::Request&) { c.allowlist.clients = {*util::Cidr::parse("203.0.113.0/24")}; },
         &failing, "550 5.7.1 client"},
        {"allowlisted client CIDR, other network",
         [](config::Config& c, policy::Request&) {
             c.allowlist.clients = {*util::Cidr::parse("198.51.100.0/24")};
             c.client.exempt_allowlisted = true;
         },
         &failing, "550 5.7.1 client"},
        {"allowlisted client name by suffix",
         [](config::Config& c, policy::Request&) {
             c.allowlist.client_names = {".example.net"};
             c.helo.exempt_allowlisted = c.sender.exempt_allowlisted = true;
         },
         &confirmed, "DUNNO"},
        {"client name suffix does not match the name itself",
         [](config::Config& c, policy::Request&) {
             c.allowlist.client_names = {".mail.relay.example.net"};
             c.helo.exempt_allowlisted = true;
         },
         &confirmed, "450 4.7.1 helo"},
        {"allowlisted client name exact, case-insensitive",
         [](config::Config& c, policy::Request&) {
             c.allowlist.client_names = {"Mail.Relay.Example.NET."};
             c.helo.exempt_allowlisted = c.sender.exempt_allowlisted = true;
         },
         &confirmed, "DUNNO"},
        {"client names match only forward-confirmed names",
         [](config::Config& c, policy::Request& r) {
             c.allowlist.client_names = {"mail.example.test"};
             c.client.exempt_allowlisted = true;
             r.client_name = "mail.example.test";   // what Postfix says does not count
         },
         &failing, "550 5.7.1 client"},
        {"allowlisted HELO name",
         [](config::Config& c, policy::Request&) {
             c.allowlist.helo_names = {"mx.example.test"};
             c.client.exempt_allowlisted = c.helo.exempt_allowlisted = true;
         },
         &failing, "451 4.1.8 sender"},
        {"allowlisted sender address",
         [](config::Config& c, policy::Request&) {
             c.allowlist.senders = {"A@Example.test"};
             c.client.exempt_allowlisted = c.helo.exempt_allowlisted = c.sender.exempt_allowlisted = true;
         },
         &failing, "DUNNO"},
        {"allowlisted sender domain",
         [](config::Config& c, policy::Request&) {
             c.allowlist.senders = {"@example.test"};
             c.sender.exempt_allowlisted = true;
         },
         &failing, "550 5.7.1 client"},
        {"sender subdomain pattern does not match the domain",
         [](config::Config& c, policy::Request&) {
             c.allowlist.senders = {".example.test"};
             c.client.exempt_allowlisted = true;
         },
         &failing, "550 5.7.1 client"},
        {"sender subdomain pattern matches a subdomain",
         [](config::Config& c, policy::Request& r) {
             c.allowlist.senders = {".example.test"};
             c.client.exempt_allowlisted = c.helo.exempt_allowlisted = c.sender.exempt_allowlisted = true;
             r.sender = "a@lists.example.test";
         },
         &failing, "DUNNO"},
    };
    for (const auto& k : cases) {
        INFO(k.label);
        auto c = base;
        auto q = request();
        k.tweak(c, q);
        CHECK(decide(c, *k.results, q).action == k.action);
    }
}

TEST_CASE("rules: matching helpers", "[rules]") {
    CHECK(rules::name_matches("mail.example.test", "MAIL.example.test."));
    CHECK(rules::name_matches(".example.test", "a.b.example.test"));
    CHECK_FALSE(rules::name_matches(".example.test", "example.test"));
    CHECK_FALSE(rules::name_matches(".example.test", "badexample.test"));
    CHECK_FALSE(rules::name_matches("example.test", "a.example.test"));
    CHECK_FALSE(rules::name_matches("", "a.example.test"));
    CHECK(rules::sender_matches("user@example.org", "USER@example.org"));
    CHECK_FALSE(rules::sender_matches("user@example.org", "other@example.org"));
    CHECK(rules::sender_matches("@example.org", "x@Example.ORG"));
    CHECK_FALSE(rules::sender_matches("@example.org", "x@sub.example.org"));
    CHECK(rules::sender_matches(".example.org", "x@sub.example.org"));
    CHECK_FALSE(rules::sender_matches(".example.org", "x@example.org"));
    CHECK_FALSE(rules::sender_matches("@example.org", ""));
    CHECK_FALSE(rules::sender_matches("@example.org", "example.org"));
}

TEST_CASE("rules: the warning header", "[rules]") {
    const rules::CheckResults one_failed{client(ClientOutcome::NoPtr), helo(HeloOutcome::Pass),
                                         sender(SenderOutcome::TempFail)};
    auto on = test::quiet_config();
    on.headers.warning = true;
    const char* header = "PREPEND X-Reverse-Lookup: client=no_ptr helo=pass sender=tempfail";
    struct Case {
        const char* label;
        std::function<void(config::Config&, policy::Request&)> tweak;
        rules::CheckResults results;
        bool sent_before;
        const char* action;
    };
    const auto none = [](config::Config&, policy::Request&) {};
    const Case cases[] = {
        {"RCPT, a failure", none, one_failed, false, header},
        {"MAIL", [](config::Config&, policy::Request& r) { r.protocol_state = "MAIL"; }, one_failed, false, header},
        {"DATA", [](config::Config&, policy::Request& r) { r.protocol_state = "DATA"; }, one_failed, false, header},
        {"already sent for this instance", none, one_failed, true, "DUNNO"},
        {"never at END-OF-MESSAGE", [](config::Config&, policy::Request& r) { r.protocol_state = "END-OF-MESSAGE"; },
         one_failed, false, "DUNNO"},
        {"not at CONNECT", [](config::Config&, policy::Request& r) { r.protocol_state = "CONNECT"; },
         {client(ClientOutcome::NoPtr), std::nullopt, std::nullopt}, false, "DUNNO"},
        {"headers.warning off", [](config::Config& c, policy::Request&) { c.headers.warning = false; }, one_failed,
         false, "DUNNO"},
        {"all pass", none, all_pass(), false, "DUNNO"},
        {"skips are no failure", none,
         {client(ClientOutcome::Skip), helo(HeloOutcome::Skip), sender(SenderOutcome::Skip)}, false, "DUNNO"},
        {"a rejecting action wins over the header",
         [](config::Config& c, policy::Request&) { c.client.no_ptr = act("REJECT"); }, one_failed, false, "REJECT"},
        {"a configured WARN is not replaced",
         [](config::Config& c, policy::Request&) { c.client.no_ptr = act("WARN no ptr"); }, one_failed, false,
         "WARN no ptr"},
        {"a failure of an exempt check alone does not trigger it",
         [](config::Config& c, policy::Request& r) {
             c.client.exempt_authenticated = true;
             r.sasl_username = "alice";
         },
         {client(ClientOutcome::NoPtr), helo(HeloOutcome::Pass), sender(SenderOutcome::Pass)}, false, "DUNNO"},
        {"an exempt check is marked",
         [](config::Config& c, policy::Request& r) {
             c.client.exempt_authenticated = true;
             r.sasl_username = "alice";
         },
         one_failed, false, "PREPEND X-Reverse-Lookup: client=no_ptr(exempt) helo=pass sender=tempfail"},
        {"header name from the config",
         [](config::Config& c, policy::Request&) { c.headers.name = "X-RL"; },
         {client(ClientOutcome::Pass), helo(HeloOutcome::Forged), sender(SenderOutcome::Pass)}, false,
         "PREPEND X-RL: client=pass helo=forged sender=pass"},
    };
    for (const auto& k : cases) {
        INFO(k.label);
        auto c = on;
        auto q = request();
        k.tweak(c, q);
        const auto v = decide(c, k.results, q, k.sent_before);
        CHECK(v.action == k.action);
        CHECK(v.header == (std::string_view(k.action).substr(0, 8) == "PREPEND "));
        if (v.header) CHECK(v.rule == "headers.warning");
    }
}

TEST_CASE("rules: placeholders expand with sanitised values", "[rules]") {
    rules::Placeholders p;
    p.client_address = "203.0.113.9";
    p.client_name = "a_b-c.example.test";
    p.helo_name = "mx.example.test";
    p.sender_domain = "example.test";
    p.check = "client";
    p.outcome = "no_ptr";
    CHECK(rules::expand("450 4.7.1 {client_name}[{client_address}] {check}/{outcome}", p) ==
          "450 4.7.1 a_b-c.example.test[203.0.113.9] client/no_ptr");
    CHECK(rules::expand("{unknown} {sender_domain} {", p) == "{unknown} example.test {");
    CHECK(rules::expand("{{helo_name}}", p) == "{mx.example.test}");
    CHECK(rules::expand("", p).empty());
    CHECK(rules::expand("no placeholders", p) == "no placeholders");

    // Through decide(): every placeholder, values from the request and the checks.
    auto c = test::quiet_config();
    c.client.mismatch = act("550 5.7.1 {client_address} {client_name} {ptr_names} {helo_name} {sender} "
                            "{sender_domain} {recipient} {queue_id} {check} {outcome} {detail}");
    auto q = request();
    q.queue_id = "4F9D21C3A";
    auto cr = client(ClientOutcome::Mismatch);
    cr.ptr_names = {"a.example.test", "b.example.test"};
    cr.detail = "a.example.test has no A for 203.0.113.9";
    const auto v = decide(c, {cr, helo(HeloOutcome::Pass), sender(SenderOutcome::Pass)}, q);
    CHECK(v.action == "550 5.7.1 203.0.113.9 unknown a.example.test,b.example.test mx.example.test a@example.test "
                      "example.test b@example.org 4F9D21C3A client mismatch a.example.test has no A for 203.0.113.9");
}

TEST_CASE("rules: a confirmed exotic but valid name goes through {client_name}", "[rules]") {
    auto c = test::quiet_config();
    c.helo.forged = act("REJECT HELO {helo_name} is not {client_name}");
    const auto name = "x_1-" + std::string(59, 'b') + ".example.test";
    const auto v = decide(c, {client(ClientOutcome::Pass, false, {name}), helo(HeloOutcome::Forged), std::nullopt});
    CHECK(v.action == "REJECT HELO mx.example.test is not " + name);
    CHECK(v.log_line.find("client=" + name + "[203.0.113.9]") != std::string::npos);
}

TEST_CASE("rules: values from DNS and the client cannot break the one-line reply", "[rules]") {
    auto c = test::quiet_config();
    c.client.no_ptr = act("REJECT {ptr_names} {helo_name} {sender} {detail}");
    auto q = request();
    q.helo_name = "evil\r\naction=OK\r\n";
    q.sender = "x\n@example.test";
    q.recipient = "r\r@example.org";
    q.queue_id = "Q\n1";
    q.protocol_state = "RCPT";
    auto cr = client(ClientOutcome::NoPtr);
    cr.ptr_names = {"evil.example.test\r\naction=OK\r\n\r\n"};
    cr.detail = "PTR: \x01\x7f\xff";
    const auto v = decide(c, {cr, std::nullopt, std::nullopt}, q);
    for (const auto* text : {&v.action, &v.log_line}) {
        INFO(*text);
        for (const char ch : *text) {
            const auto u = static_cast<unsigned char>(ch);
            CHECK((u >= 0x20 && u < 0x7f));
        }
    }
    CHECK(v.action.rfind("REJECT evil.example.test??action=OK", 0) == 0);
    CHECK(v.action.size() <= 512);
    // A long value is capped.
    cr.ptr_names = {std::string(5000, 'a')};
    CHECK(decide(c, {cr, std::nullopt, std::nullopt}, q).action.size() <= 512);
}

TEST_CASE("rules: the decision log line", "[rules]") {
    auto c = test::quiet_config();
    c.client.no_ptr = act("REJECT");
    auto q = request();
    q.queue_id = "4F9D21C3A";
    auto v = decide(c, {client(ClientOutcome::NoPtr), helo(HeloOutcome::Pass), sender(SenderOutcome::Pass)}, q);
    CHECK(v.log_line == "4F9D21C3A: action=REJECT check=client outcome=no_ptr client=unknown[203.0.113.9] "
                        "helo=<mx.example.test> sender=<a@example.test> recipient=<b@example.org> state=RCPT");
    q.queue_id.clear();
    q.protocol_state = "CONNECT";
    q.helo_name.clear();
    q.sender.clear();
    q.recipient.clear();
    v = decide(c, {client(ClientOutcome::Pass), std::nullopt, std::nullopt}, q);
    CHECK(v.log_line == "NOQUEUE: action=DUNNO check=- outcome=- client=mail.example.test[203.0.113.9] helo=<> "
                        "sender=<> recipient=<> state=CONNECT");
    q.client_address.clear();
    q.protocol_state.clear();
    v = decide(c, {client(ClientOutcome::Skip), std::nullopt, std::nullopt}, q);
    CHECK(v.log_line == "NOQUEUE: action=DUNNO check=- outcome=- client=unknown[unknown] helo=<> sender=<> "
                        "recipient=<> state=UNKNOWN");
    // Nothing won: the first failed check is named.
    v = decide(test::quiet_config(), {client(ClientOutcome::Pass), helo(HeloOutcome::Forged),
                                      sender(SenderOutcome::NotFound)}, request());
    CHECK(v.log_line.find("action=DUNNO check=helo outcome=forged") != std::string::npos);
    // The header: the action is the whole PREPEND.
    auto on = test::quiet_config();
    on.headers.warning = true;
    v = decide(on, {client(ClientOutcome::Pass), helo(HeloOutcome::Forged), sender(SenderOutcome::Pass)}, request());
    CHECK(v.log_line.rfind("NOQUEUE: action=PREPEND X-Reverse-Lookup: client=pass helo=forged sender=pass "
                           "check=helo outcome=forged ", 0) == 0);
}

TEST_CASE("rules: verdicts per check explain what each asked for", "[rules]") {
    auto c = test::quiet_config();
    c.client.no_ptr = act("REJECT");
    c.client.exempt_authenticated = true;
    auto q = request();
    q.sasl_username = "alice";
    const auto v = decide(c, {client(ClientOutcome::NoPtr), helo(HeloOutcome::Pass), std::nullopt}, q);
    const auto& cv = v.checks[0];
    CHECK(cv.evaluated);
    CHECK(cv.outcome == "no_ptr");
    CHECK(cv.rule == "client.no_ptr");
    CHECK(cv.action == "REJECT");
    CHECK(cv.exempt == "authenticated as alice");
    CHECK(v.action == "DUNNO");
    CHECK_FALSE(v.checks[2].evaluated);
    CHECK(v.checks[2].outcome == "-");
}

TEST_CASE("rules: policy_context chooses the checks whose actions count", "[rules][policy_context]") {
    const auto c = test::postfix_config();
    // PTR tempfail and sender not found: Postfix's client list defers, its sender list rejects.
    const rules::CheckResults results{client(ClientOutcome::TempFail, true), helo(HeloOutcome::Pass),
                                      sender(SenderOutcome::NotFound)};
    struct Case { const char* label; const char* context; const char* action; const char* rule; };
    const Case cases[] = {
        {"none: every check counts", "", "450 4.1.8 Domain not found", "sender.not_found"},
        {"client list", "client", "DEFER_IF_PERMIT 4.7.1 cannot find your reverse hostname, [203.0.113.9]",
         "client.tempfail (preset postfix)"},
        {"helo list", "helo", "DUNNO", "-"},
        {"sender list", "sender", "450 4.1.8 Domain not found", "sender.not_found"},
        {"case and blanks", " Sender ", "450 4.1.8 Domain not found", "sender.not_found"},
        {"a list of them", "helo,client", "DEFER_IF_PERMIT 4.7.1 cannot find your reverse hostname, [203.0.113.9]",
         "client.tempfail (preset postfix)"},
        {"an empty item is ignored", "helo,", "DUNNO", "-"},
        {"someone else's context: all count", "submission", "450 4.1.8 Domain not found", "sender.not_found"},
        {"one unknown word: all count", "helo,rcpt", "450 4.1.8 Domain not found", "sender.not_found"},
    };
    for (const auto& k : cases) {
        INFO(k.label);
        auto q = request();
        q.policy_context = k.context;
        const auto v = decide(c, results, q);
        CHECK(v.action == k.action);
        CHECK(v.rule == k.rule);
        // The others are still evaluated and shown.
        CHECK(v.checks[0].outcome == "tempfail");
        CHECK(v.checks[2].outcome == "not_found");
    }
    auto q = request();
    q.policy_context = "helo";
    const auto v = decide(c, results, q);
    CHECK_FALSE(v.checks[0].in_context);
    CHECK(v.checks[1].in_context);
    CHECK_FALSE(v.checks[2].in_context);
    // The log line still names the tempfail, though nothing acted on it.
    CHECK(v.log_line.find("action=DUNNO check=client outcome=tempfail") != std::string::npos);
}

// Reply and log line byte for byte, for typical and hostile input: pins what every
// request's hot path produces, so that making it cheaper cannot change it.
TEST_CASE("rules: reply and log line, byte for byte", "[rules][golden]") {
    struct Case {
        const char* label;
        std::function<void(config::Config&, policy::Request&, rules::CheckResults&)> setup;
        std::string action;
        std::string log_line;
    };
    const Case cases[] = {
        {"every check passes (the cached benchmark's shape)", [](auto&, auto&, auto&) {},
         "DUNNO",
         "NOQUEUE: action=DUNNO check=- outcome=- client=mail.example.test[203.0.113.9] helo=<mx.example.test> sender=<a@example.test> recipient=<b@example.org> state=RCPT"},
        {"no rule, queue id and everything empty",
         [](auto&, auto& q, auto& r) {
             q = policy::Request{};
             r = {client(ClientOutcome::Skip), std::nullopt, std::nullopt};
         },
         "DUNNO",
         "NOQUEUE: action=DUNNO check=- outcome=- client=unknown[unknown] helo=<> sender=<> recipient=<> state=UNKNOWN"},
        {"hostile values with no rule",
         [](auto&, auto& q, auto& r) {
             q.queue_id = "Q\n1";
             q.client_address = std::string("203.0.113.9\x01\0", 13);
             q.helo_name = "evil\r\nNOQUEUE: action=OK\r\n";
             q.sender = std::string("a\0\xc3\xa9@example.test", 17);
             q.recipient = std::string(1000, 'r');
             q.protocol_state = "RCPT\r";
             r.client->confirmed_names = {"bad\x7fname.example.test", "second.example.test"};
         },
         "DUNNO",
         std::string("Q?1: action=DUNNO check=- outcome=- client=bad?name.example.test[203.0.113.9?\?] helo=<evil?\?NOQUEUE: action=OK?\?> sender=<a?\?\?@example.test> recipient=<") + std::string(252, 'r') + std::string("...> state=RCPT?")},
        {"an empty confirmed name, a 255-, 256- and 300-byte value",
         [](auto&, auto& q, auto& r) {
             q.helo_name = std::string(255, 'h');
             q.sender = std::string(256, 's');
             q.recipient = std::string(300, 'r');
             r.client->confirmed_names = {""};
         },
         "DUNNO",
         std::string("NOQUEUE: action=DUNNO check=- outcome=- client=[203.0.113.9] helo=<") + std::string(255, 'h') + std::string("> sender=<") + std::string(252, 's') + std::string("...> recipient=<") + std::string(252, 'r') + std::string("...> state=RCPT")},
        {"a rule with every placeholder and hostile values",
         [](auto& c, auto& q, auto& r) {
             c.client.no_ptr = act("REJECT {client_address} {client_name} {ptr_names} {helo_name} {sender} "
                                   "{sender_domain} {recipient} {queue_id} {check} {outcome} {detail}");
             q.queue_id = "4F9D21C3A";
             q.helo_name = "evil\r\naction=OK";
             q.sender = "x\x01y@Example.TEST";
             r.client = client(ClientOutcome::NoPtr);
             r.client->ptr_names = {"p1.example.test", "p2\n.example.test"};
             r.client->detail = "PTR: \x01\x7f\xff";
         },
         "REJECT 203.0.113.9 unknown p1.example.test,p2?.example.test evil?\?action=OK x?y@Example.TEST example.test b@example.org 4F9D21C3A client no_ptr PTR: ?\?\?",
         "4F9D21C3A: action=REJECT 203.0.113.9 unknown p1.example.test,p2?.example.test evil?\?action=OK x?y@Example.TEST example.test b@example.org 4F9D21C3A client no_ptr PTR: ?\?\? check=client outcome=no_ptr client=unknown[203.0.113.9] helo=<evil?\?action=OK> sender=<x?y@Example.TEST> recipient=<b@example.org> state=RCPT"},
        {"an action longer than 512 bytes is capped",
         [](auto& c, auto& q, auto& r) {
             c.helo.forged = act("550 5.7.1 {helo_name} {helo_name} {helo_name}");
             q.helo_name = std::string(250, 'h');
             r.helo = helo(HeloOutcome::Forged);
         },
         std::string("550 5.7.1 ") + std::string(250, 'h') + std::string(" ") + std::string(248, 'h') + std::string("..."),
         std::string("NOQUEUE: action=550 5.7.1 ") + std::string(250, 'h') + std::string(" ") + std::string(248, 'h') + std::string("... check=helo outcome=forged client=mail.example.test[203.0.113.9] helo=<") + std::string(250, 'h') + std::string("> sender=<a@example.test> recipient=<b@example.org> state=RCPT")},
        {"tempfail auto names the sender domain",
         [](auto& c, auto& q, auto& r) {
             c.sender.not_found = act("REJECT");
             q.sender = "u@Sub.Example.TEST";
             r.sender = sender(SenderOutcome::TempFail);
         },
         "DEFER_IF_PERMIT 4.4.3 temporary DNS failure looking up sender domain sub.example.test, try again later",
         "NOQUEUE: action=DEFER_IF_PERMIT 4.4.3 temporary DNS failure looking up sender domain sub.example.test, try again later check=sender outcome=tempfail client=mail.example.test[203.0.113.9] helo=<mx.example.test> sender=<u@Sub.Example.TEST> recipient=<b@example.org> state=RCPT"},
        {"the warning header with an exempt check",
         [](auto& c, auto& q, auto& r) {
             c.headers.warning = true;
             c.sender.exempt_authenticated = true;
             q.sasl_username = "user\r\n";
             r.client = client(ClientOutcome::Mismatch);
             r.sender = sender(SenderOutcome::NotFound);
         },
         "PREPEND X-Reverse-Lookup: client=mismatch helo=pass sender=not_found(exempt)",
         "NOQUEUE: action=PREPEND X-Reverse-Lookup: client=mismatch helo=pass sender=not_found(exempt) check=client outcome=mismatch client=unknown[203.0.113.9] helo=<mx.example.test> sender=<a@example.test> recipient=<b@example.org> state=RCPT"},
        {"preset postfix client tempfail",
         [](auto& c, auto& q, auto& r) {
             c.preset_postfix = true;
             c.client.no_ptr = act("450 4.7.1 cannot find your reverse hostname, [{client_address}]");
             q.protocol_state = "CONNECT";
             r = {client(ClientOutcome::TempFail, true), std::nullopt, std::nullopt};
         },
         "DEFER_IF_PERMIT 4.7.1 cannot find your reverse hostname, [203.0.113.9]",
         "NOQUEUE: action=DEFER_IF_PERMIT 4.7.1 cannot find your reverse hostname, [203.0.113.9] check=client outcome=tempfail client=unknown[203.0.113.9] helo=<mx.example.test> sender=<a@example.test> recipient=<b@example.org> state=CONNECT"},
    };
    for (const auto& c : cases) {
        INFO(c.label);
        auto config = test::quiet_config();
        auto q = request();
        auto results = all_pass();
        c.setup(config, q, results);
        const auto v = decide(config, results, q);
        CHECK(v.action == c.action);
        CHECK(v.log_line == c.log_line);
    }
}
