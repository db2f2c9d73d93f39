// The checks against a real resolver: Debian's unbound serving the test world
// (t/data/zones, see its README.md), under three configs -- the defaults,
// etc/examples/strict.toml and etc/examples/postfix.toml (the preset) -- each with
// [server] and [dns] sections appended. Every case asserts the three outcomes and the
// final action under each config:
// - all of them in-process through cli::explain_request (the code path of `check`:
//   StubResolver + checks::Engine on an event loop of its own);
// - a subset through the binary, `reverse-policyd check --json`, parsing its JSON;
// - a subset through the real daemon over its unix socket (reply and decision log line),
//   with policy_context for the preset, and a PTR that carries CR/LF and "action=OK".
// Clients are documentation addresses: the checks skip loopback clients.
#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/check.hpp"
#include "config/config.hpp"
#include "support/daemon.hpp"
#include "support/dns_unbound.hpp"
#include "support/json.hpp"

using namespace rpd;
using namespace std::chrono_literals;

namespace {

test::UnboundServer& world() {
    static test::UnboundServer unbound;
    return unbound;
}

enum Cfg : std::size_t { Default, Strict, Postfix };
constexpr std::array<const char*, 3> cfg_names{"default", "strict", "postfix"};

std::string read_source(const std::string& relative) {
    std::ifstream in(std::string(RPD_SOURCE_DIR) + "/" + relative);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// A short per-try timeout so that the timeout cases take 300 ms, not 4 s.
std::string dns_section(std::uint16_t port) {
    return fmt::format(
        "\n[dns]\n"
        "nameservers = [\"127.0.0.1:{}\"]\n"
        "timeout = \"300ms\"\n"
        "attempts = 1\n",
        port);
}

std::string example_text(Cfg cfg) {
    switch (cfg) {
    case Default: return "";
    case Strict: return read_source("etc/examples/strict.toml");
    case Postfix: return read_source("etc/examples/postfix.toml");
    }
    return "";
}

// The example file, then [server] (listen only when given) and [dns].
std::string config_text(Cfg cfg, const std::string& listen = {}, const std::string& more = {}) {
    std::string text = example_text(cfg);
    text += "\n[server]\nrequest_deadline = \"5s\"\n";
    if (!listen.empty()) text += "listen = [\"unix:" + listen + "\"]\n";
    text += dns_section(world().port());
    text += more;
    return text;
}

std::shared_ptr<const config::Config> load(Cfg cfg) {
    auto loaded = config::load_string(config_text(cfg), std::string(cfg_names[cfg]) + ".toml");
    if (auto* errors = std::get_if<std::vector<config::ConfigError>>(&loaded)) {
        for (const auto& e : *errors) FAIL(e.to_string());
    }
    return std::get<std::shared_ptr<const config::Config>>(std::move(loaded));
}

std::string header(const char* client, const char* helo, const char* sender) {
    std::string h = std::string("PREPEND X-Reverse-Lookup: client=") + client;
    if (std::string_view(helo) != "-") h += std::string(" helo=") + helo;
    return h + " sender=" + sender;
}

struct Case {
    std::string label;
    std::string client;
    std::string helo;     // "" = no HELO yet (not evaluated)
    std::string sender;   // "" = null sender (skip)
    std::array<std::string, 3> outcomes;   // client, helo ("-" = not evaluated), sender
    std::array<std::string, 3> actions;    // default, strict, postfix
};

// Expected texts, written out from the example files and SPEC §2.
std::string strict_no_ptr(const std::string& ip) { return "550 5.7.25 Client host [" + ip + "] has no reverse DNS"; }
std::string strict_mismatch(const std::string& ip, const std::string& names) {
    return "550 5.7.25 Client host [" + ip + "] reverse name " + names + " does not resolve back to it";
}
std::string auto_defer(const std::string& what) {
    return "DEFER_IF_PERMIT 4.4.3 temporary DNS failure looking up " + what + ", try again later";
}
std::string pf_no_ptr(const std::string& ip) { return "450 4.7.1 cannot find your reverse hostname, [" + ip + "]"; }
std::string pf_mismatch(const std::string& ip) { return "450 4.7.25 cannot find your hostname, [" + ip + "]"; }
std::string pf_defer_no_ptr(const std::string& ip) {
    return "DEFER_IF_PERMIT 4.7.1 cannot find your reverse hostname, [" + ip + "]";
}
std::string pf_defer_mismatch(const std::string& ip) {
    return "DEFER_IF_PERMIT 4.7.25 cannot find your hostname, [" + ip + "]";
}
const std::string dunno = "DUNNO";

Case client_case(std::string label, std::string ip, std::string outcome, std::array<std::string, 3> actions) {
    return Case{std::move(label), std::move(ip), "", "", {std::move(outcome), "-", "skip"}, std::move(actions)};
}
Case client_pass(std::string label, std::string ip) {
    return client_case(std::move(label), std::move(ip), "pass", {dunno, dunno, dunno});
}
Case client_no_ptr(std::string label, const std::string& ip) {
    return client_case(std::move(label), ip, "no_ptr",
                       {header("no_ptr", "-", "skip"), strict_no_ptr(ip), pf_no_ptr(ip)});
}
Case client_mismatch(std::string label, const std::string& ip, const std::string& names) {
    return client_case(std::move(label), ip, "mismatch",
                       {header("mismatch", "-", "skip"), strict_mismatch(ip, names), pf_mismatch(ip)});
}
Case client_tempfail(std::string label, const std::string& ip, bool ptr_failed) {
    return client_case(std::move(label), ip, "tempfail",
                       {header("tempfail", "-", "skip"), auto_defer("reverse name of " + ip),
                        ptr_failed ? pf_defer_no_ptr(ip) : pf_defer_mismatch(ip)});
}

Case helo_case(std::string label, std::string ip, std::string helo, std::string outcome,
               std::array<std::string, 3> actions) {
    return Case{std::move(label), std::move(ip), std::move(helo), "", {"pass", std::move(outcome), "skip"},
                std::move(actions)};
}
Case helo_pass(std::string label, std::string ip, std::string helo) {
    return helo_case(std::move(label), std::move(ip), std::move(helo), "pass", {dunno, dunno, dunno});
}
// Forged has no action in any of the three configs: the default and strict configs
// (headers.warning on) note it in the header, the preset (headers off) says DUNNO.
Case helo_forged(std::string label, std::string ip, std::string helo) {
    const auto h = header("pass", "forged", "skip");
    return helo_case(std::move(label), std::move(ip), std::move(helo), "forged", {h, h, dunno});
}
Case helo_tempfail(std::string label, const std::string& helo) {
    return helo_case(std::move(label), "192.0.2.10", helo, "tempfail",
                     {header("pass", "tempfail", "skip"), auto_defer("HELO name " + helo),
                      "DEFER_IF_PERMIT 4.7.1 Host not found"});
}

Case sender_case(std::string label, std::string ip, std::string domain, std::string outcome,
                 std::array<std::string, 3> actions) {
    return Case{std::move(label), std::move(ip), "", "user@" + domain, {"pass", "-", std::move(outcome)},
                std::move(actions)};
}
Case sender_pass(std::string label, std::string ip, std::string domain) {
    return sender_case(std::move(label), std::move(ip), std::move(domain), "pass", {dunno, dunno, dunno});
}
Case sender_forged(std::string label, std::string ip, std::string domain) {
    const auto h = header("pass", "-", "forged");
    return sender_case(std::move(label), std::move(ip), std::move(domain), "forged", {h, h, dunno});
}
Case sender_not_found(std::string label, const std::string& domain) {
    return sender_case(std::move(label), "192.0.2.10", domain, "not_found",
                       {"451 4.1.8 Sender domain " + domain + " not found",
                        "550 5.1.8 Sender domain " + domain + " not found", "450 4.1.8 Domain not found"});
}
Case sender_tempfail(std::string label, const std::string& domain) {
    const auto defer = auto_defer("sender domain " + domain);
    return sender_case(std::move(label), "192.0.2.10", domain, "tempfail",
                       {defer, defer, "DEFER_IF_PERMIT 4.1.8 Domain not found"});
}

const std::vector<Case>& cases() {
    static const std::vector<Case> all = [] {
        std::vector<Case> v;
        // client: PTR, then forward confirmation
        v.push_back(client_pass("client: FCrDNS pass, IPv4", "192.0.2.10"));
        v.push_back(client_pass("client: FCrDNS pass, IPv6", "2001:db8::10"));
        v.push_back(client_no_ptr("client: no PTR (NXDOMAIN)", "192.0.2.20"));
        v.push_back(client_no_ptr("client: no PTR, IPv6", "2001:db8::20"));
        v.push_back(client_no_ptr("client: PTR NODATA", "192.0.2.29"));
        v.push_back(client_mismatch("client: PTR name does not resolve", "192.0.2.21", "nonexistent.example.test"));
        v.push_back(client_mismatch("client: PTR name does not resolve, IPv6", "2001:db8::21",
                                    "nonexistent.example.test"));
        v.push_back(client_mismatch("client: PTR name's A points elsewhere", "192.0.2.22", "elsewhere.example.test"));
        v.push_back(client_mismatch("client: PTR name's AAAA points elsewhere", "2001:db8::22",
                                    "elsewhere.example.test"));
        v.push_back(client_pass("client: two PTR names, only the second confirms", "192.0.2.23"));
        v.push_back(client_pass("client: two PTR names, only the second confirms, IPv6", "2001:db8::23"));
        v.push_back(client_tempfail("client: PTR SERVFAIL", "192.0.2.30", true));
        v.push_back(client_tempfail("client: PTR SERVFAIL, IPv6", "2001:db8::30", true));
        v.push_back(client_tempfail("client: PTR timeout", "192.0.2.40", true));
        v.push_back(client_tempfail("client: PTR timeout, IPv6", "2001:db8::40", true));
        v.push_back(client_tempfail("client: PTR REFUSED", "192.0.2.41", true));
        v.push_back(client_tempfail("client: PTR found, its A SERVFAIL", "192.0.2.42", false));
        v.push_back(client_tempfail("client: PTR found, its A times out", "192.0.2.43", false));
        v.push_back(client_no_ptr("client: PTR name with illegal characters", "192.0.2.24"));
        v.push_back(client_no_ptr("client: PTR name with a control byte", "192.0.2.28"));
        v.push_back(client_no_ptr("client: PTR name with CR/LF and action=OK", "192.0.2.44"));
        v.push_back(client_no_ptr("client: all-numeric PTR name", "192.0.2.26"));
        v.push_back(client_pass("client: underscore in the PTR name (tolerated)", "192.0.2.27"));
        v.push_back(client_pass("client: RFC 2317 classless PTR via CNAME", "203.0.113.9"));
        v.push_back(client_mismatch("client: RFC 2317, the name points elsewhere", "203.0.113.10",
                                    "classless-mismatch.example.test"));
        v.push_back(client_no_ptr("client: RFC 2317, the CNAME target is NXDOMAIN", "203.0.113.11"));

        // helo (client 192.0.2.10 = host.example.test unless said)
        v.push_back(helo_pass("helo: matches the client", "192.0.2.10", "host.example.test"));
        v.push_back(helo_pass("helo: matches, IPv6", "2001:db8::10", "host.example.test"));
        v.push_back(helo_pass("helo: only A, matches", "192.0.2.11", "v4only.example.test"));
        v.push_back(helo_forged("helo: forged (resolves elsewhere)", "192.0.2.10", "mail.example.test"));
        v.push_back(helo_case("helo: NXDOMAIN", "192.0.2.10", "nonexistent.example.test", "not_found",
                              {header("pass", "not_found", "skip"),
                               "550 5.7.1 HELO name nonexistent.example.test not found in DNS",
                               "450 4.7.1 Host not found"}));
        v.push_back(helo_case("helo: exists, no A/AAAA/MX", "192.0.2.10", "nodata.example.test", "not_found",
                              {header("pass", "not_found", "skip"),
                               "550 5.7.1 HELO name nodata.example.test not found in DNS",
                               "450 4.7.1 Host not found"}));
        v.push_back(helo_pass("helo: only MX, the client is its MX host", "192.0.2.25", "mx-only.example.test"));
        v.push_back(helo_forged("helo: only MX, elsewhere: forged, not not_found", "192.0.2.10",
                                "mx-only.example.test"));
        for (const char* name : {"mailhost", "192.0.2.10"}) {
            v.push_back(helo_case(std::string("helo: not an FQDN: ") + name, "192.0.2.10", name, "non_fqdn",
                                  {header("pass", "non_fqdn", "skip"), "504 5.5.2 HELO name must be fully qualified",
                                   "504 5.5.2 need fully-qualified hostname"}));
        }
        v.push_back(helo_pass("helo: address literal, the client", "192.0.2.10", "[192.0.2.10]"));
        v.push_back(helo_pass("helo: IPv6 address literal, the client", "2001:db8::10", "[IPv6:2001:db8::10]"));
        v.push_back(helo_forged("helo: address literal, not the client", "192.0.2.10", "[192.0.2.99]"));
        v.push_back(helo_case("helo: invalid name", "192.0.2.10", "bad!name.example.test", "invalid",
                              {header("pass", "invalid", "skip"), "501 5.5.2 Invalid HELO name",
                               "501 5.5.2 Invalid name"}));
        v.push_back(helo_case("helo: malformed address literal", "192.0.2.10", "[300.1.1.1]", "invalid",
                              {header("pass", "invalid", "skip"), "501 5.5.2 Invalid HELO name",
                               "501 5.5.2 invalid ip address"}));
        v.push_back(helo_tempfail("helo: SERVFAIL", "servfail.example.test"));
        v.push_back(helo_tempfail("helo: timeout", "timeout.example.test"));

        // sender (client 192.0.2.10 unless said)
        v.push_back(sender_pass("sender: MX (and the client is the domain's A)", "192.0.2.10", "host.example.test"));
        v.push_back(sender_pass("sender: MX, the client is its MX host", "192.0.2.25", "host.example.test"));
        v.push_back(sender_pass("sender: only A", "192.0.2.11", "v4only.example.test"));
        v.push_back(sender_pass("sender: only AAAA", "2001:db8::11", "v6only.example.test"));
        v.push_back(sender_forged("sender: only AAAA, IPv4 client: exists, forged", "192.0.2.10",
                                  "v6only.example.test"));
        v.push_back(sender_pass("sender: MX host with only AAAA, IPv6 client", "2001:db8::11", "aaaa-mx.example.test"));
        v.push_back(sender_not_found("sender: NXDOMAIN", "nonexistent.example.test"));
        v.push_back(sender_not_found("sender: exists, no MX/A/AAAA", "nodata.example.test"));
        v.push_back(sender_case("sender: null MX", "192.0.2.10", "nullmx.example.test", "null_mx",
                                {header("pass", "-", "null_mx"),
                                 "550 5.7.27 Sender domain nullmx.example.test does not accept mail (nullMX)",
                                 "550 5.7.27 Domain nullmx.example.test does not accept mail (nullMX)"}));
        // Postfix 3.7 accepts these: an MX record is enough, whatever its host does.
        v.push_back(sender_forged("sender: MX to a name that does not resolve", "192.0.2.10",
                                  "mx-nxhost.example.test"));
        v.push_back(sender_pass("sender: MX host SERVFAIL (forged has no action)", "192.0.2.10",
                                "mx-servfail.example.test"));
        v.push_back(sender_pass("sender: MX host times out (forged has no action)", "192.0.2.10",
                                "mx-timeout.example.test"));
        v.push_back(sender_tempfail("sender: SERVFAIL", "servfail.example.test"));
        v.push_back(sender_tempfail("sender: timeout", "timeout.example.test"));
        v.push_back(sender_tempfail("sender: REFUSED", "refused.example.test"));
        return v;
    }();
    return all;
}

policy::Request request_for(const Case& c, const std::string& recipient = "rcpt@example.org") {
    cli::CheckOptions o;
    o.client_address = c.client;
    o.helo = c.helo;
    o.sender = c.sender;
    o.recipient = recipient;
    return cli::make_request(o);
}

void require_world() {
    INFO(world().error());
    REQUIRE(world().running());
}

}  // namespace

TEST_CASE("checks world: every case, three configs, in-process (the check code path)",
          "[.integration][checks]") {
    require_world();
    const std::array<std::shared_ptr<const config::Config>, 3> configs{load(Default), load(Strict), load(Postfix)};
    REQUIRE(configs[Postfix]->preset_postfix);
    for (const auto& c : cases()) {
        for (std::size_t k = 0; k < configs.size(); ++k) {
            INFO(c.label << " [" << cfg_names[k] << "]");
            auto ran = cli::explain_request(configs[k], request_for(c));
            REQUIRE(std::holds_alternative<cli::CheckReport>(ran));
            const auto& e = std::get<cli::CheckReport>(ran).explanation;
            CHECK_FALSE(e.expired);
            CHECK(e.checks[0].outcome == c.outcomes[0]);
            CHECK(e.checks[1].outcome == c.outcomes[1]);
            CHECK(e.checks[2].outcome == c.outcomes[2]);
            CHECK(e.decision.action == c.actions[k]);
            CHECK(e.decision.log_line.find("action=" + c.actions[k] + " check=") != std::string::npos);
            CHECK(e.decision.log_line.find("[" + c.client + "]") != std::string::npos);
            CHECK(e.decision.log_line.find_first_of("\r\n") == std::string::npos);
            // The evidence: every evaluated check that looked something up shows it.
            for (const auto& ce : e.checks) {
                for (const auto& l : ce.lookups) {
                    CHECK_FALSE(l.name.empty());
                    CHECK(l.server == fmt::format("127.0.0.1:{}", world().port()));
                }
            }
        }
    }
}

TEST_CASE("checks world: policy_context gives each restriction list its own answer (preset)",
          "[.integration][checks][policy_context]") {
    require_world();
    const auto config = load(Postfix);
    // Postfix 3.7 with PTR SERVFAIL and an unknown sender domain: the client list defers,
    // the sender list rejects; without policy_context the most severe counts.
    Case c{"PTR SERVFAIL + sender NXDOMAIN", "192.0.2.30", "host.example.test", "user@nonexistent.example.test",
           {"tempfail", "forged", "not_found"}, {}};
    const std::pair<const char*, std::string> contexts[] = {
        {"", "450 4.1.8 Domain not found"},
        {"client", pf_defer_no_ptr("192.0.2.30")},
        {"helo", "DUNNO"},
        {"sender", "450 4.1.8 Domain not found"},
        {"client,helo", pf_defer_no_ptr("192.0.2.30")},
    };
    for (const auto& [context, action] : contexts) {
        INFO("policy_context=" << context);
        auto r = request_for(c);
        r.policy_context = context;
        auto ran = cli::explain_request(config, r);
        REQUIRE(std::holds_alternative<cli::CheckReport>(ran));
        const auto& e = std::get<cli::CheckReport>(ran).explanation;
        CHECK(e.checks[0].outcome == "tempfail");
        CHECK(e.checks[2].outcome == "not_found");
        CHECK(e.decision.action == action);
    }
}

TEST_CASE("checks world: reverse-policyd check --json", "[.integration][checks][cli]") {
    require_world();
    test::TempDir dir;
    std::array<std::string, 3> paths;
    for (std::size_t k = 0; k < paths.size(); ++k) {
        paths[k] = dir.file(std::string(cfg_names[k]) + ".toml");
        test::write_file(paths[k], config_text(static_cast<Cfg>(k)));
    }
    const std::vector<std::string> chosen{
        "client: no PTR (NXDOMAIN)",          "client: PTR SERVFAIL",
        "client: PTR timeout, IPv6",          "client: RFC 2317 classless PTR via CNAME",
        "client: PTR name with CR/LF and action=OK", "helo: NXDOMAIN",
        "helo: address literal, not the client", "sender: null MX",
        "sender: MX to a name that does not resolve", "sender: timeout",
    };
    std::size_t ran_count = 0;
    for (const auto& c : cases()) {
        if (std::find(chosen.begin(), chosen.end(), c.label) == chosen.end()) continue;
        ++ran_count;
        for (std::size_t k = 0; k < paths.size(); ++k) {
            INFO(c.label << " [" << cfg_names[k] << "]");
            std::vector<std::string> args{"check", "-c", paths[k], "--client-address", c.client, "--json"};
            if (!c.helo.empty()) args.insert(args.end(), {"--helo", c.helo});
            if (!c.sender.empty()) args.insert(args.end(), {"--sender", c.sender});
            const auto run = test::run_binary(args, 20s);
            INFO("stderr: " << run.err);
            REQUIRE(run.exit_code == 0);
            const auto json = test::parse_json(run.out);
            INFO("stdout: " << run.out);
            REQUIRE(json);
            const auto& j = *json;
            CHECK(j["action"].str() == c.actions[k]);
            CHECK(j["checks"]["client"]["outcome"].str() == c.outcomes[0]);
            CHECK(j["checks"]["helo"]["outcome"].str() == c.outcomes[1]);
            CHECK(j["checks"]["sender"]["outcome"].str() == c.outcomes[2]);
            CHECK_FALSE(j["rule"].str().empty());
            const auto& lookups = j["checks"]["client"]["lookups"];
            REQUIRE(lookups.size() >= 1);
            CHECK(lookups[0]["type"].str() == "PTR");
            CHECK_FALSE(lookups[0]["status"].str().empty());
            CHECK(lookups[0]["server"].str() == fmt::format("127.0.0.1:{}", world().port()));
            CHECK(lookups[0]["records"].is_array());
            CHECK(run.out.find('\r') == std::string::npos);
        }
    }
    CHECK(ran_count == chosen.size());

    // The text form of the same: questions, outcome, rule, action.
    const auto text = test::run_binary({"check", "-c", paths[Strict], "--client-address", "192.0.2.22", "--helo",
                                        "host.example.test", "--sender", "user@nullmx.example.test"},
                                       20s);
    REQUIRE(text.exit_code == 0);
    CHECK(text.out.find("client: mismatch") != std::string::npos);
    CHECK(text.out.find("PTR 22.2.0.192.in-addr.arpa: ANSWER") != std::string::npos);
    CHECK(text.out.find("A elsewhere.example.test: ANSWER") != std::string::npos);
    CHECK(text.out.find("IN A 192.0.2.99") != std::string::npos);   // the record (its TTL counts down in the cache)
    CHECK(text.out.find("rule: client.mismatch") != std::string::npos);
    CHECK(text.out.find("action: " + strict_mismatch("192.0.2.22", "elsewhere.example.test")) != std::string::npos);

    // Usage and config errors exit 1.
    CHECK(test::run_binary({"check", "-c", paths[Default]}).exit_code == 1);
    CHECK(test::run_binary({"check", "-c", dir.file("missing.toml"), "--client-address", "192.0.2.10"}).exit_code ==
          1);
}

TEST_CASE("checks world: the daemon answers with the decision (three configs)", "[.integration][checks][daemon]") {
    require_world();
    const std::vector<std::string> chosen{
        "client: no PTR (NXDOMAIN)", "client: PTR SERVFAIL", "client: two PTR names, only the second confirms, IPv6",
        "helo: NXDOMAIN",            "helo: not an FQDN: 192.0.2.10", "sender: NXDOMAIN",
        "sender: null MX",           "sender: MX to a name that does not resolve", "sender: timeout",
    };
    for (std::size_t k = 0; k < 3; ++k) {
        INFO("config " << cfg_names[k]);
        test::TempDir dir;
        const auto sock = dir.file("policy.sock");
        test::Daemon daemon(config_text(static_cast<Cfg>(k), sock, "\n[log]\nto = \"stderr\"\n"), dir);
        REQUIRE(daemon.started());
        auto client = test::PolicyClient::connect_unix(sock);
        REQUIRE(client);
        std::size_t n = 0;
        for (const auto& c : cases()) {
            if (std::find(chosen.begin(), chosen.end(), c.label) == chosen.end()) continue;
            INFO(c.label);
            ++n;
            const auto recipient = fmt::format("case{}@example.org", n);
            // Each request its own instance: nothing reused between cases.
            const auto extra = fmt::format("helo_name={}\nsender={}\nrecipient={}\ninstance=world.{}.{}\n", c.helo,
                                           c.sender, recipient, k, n);
            const auto reply = client->ask(test::rcpt_request(c.client, extra), 10s);
            REQUIRE(reply);
            CHECK(*reply == c.actions[k]);
            const auto line = fmt::format("action={} check=", c.actions[k]);
            CHECK(daemon.wait_for_log("recipient=<" + recipient + "> state=RCPT delay=", 5s));
            const auto log = daemon.log();
            const auto at = log.find("recipient=<" + recipient + ">");
            REQUIRE(at != std::string::npos);
            const auto start = log.rfind('\n', at) + 1;
            const auto decision = log.substr(start, log.find('\n', at) - start);
            CHECK(decision.find(line) != std::string::npos);
            CHECK(decision.find("[" + c.client + "]") != std::string::npos);
        }
        CHECK(n == chosen.size());
    }
}

TEST_CASE("checks world: a PTR carrying CR/LF and action=OK through the daemon", "[.integration][checks][daemon]") {
    require_world();
    test::TempDir dir;
    const auto sock = dir.file("policy.sock");
    // The PTR names go into the reply, the worst case for framing.
    const std::string more =
        "\n[log]\nto = \"stderr\"\n"
        "\n[client]\nno_ptr = \"REJECT no valid PTR among {ptr_names}: {detail}\"\n";
    test::Daemon daemon(config_text(Default, sock, more), dir);
    REQUIRE(daemon.started());
    auto client = test::PolicyClient::connect_unix(sock);
    REQUIRE(client);
    const auto reply = client->ask(test::rcpt_request("192.0.2.44", "recipient=evil@example.org\ninstance=evil.1\n"),
                                   10s);
    // read_reply accepts only "action=<one line>\n\n".
    REQUIRE(reply);
    CHECK(reply->rfind("REJECT no valid PTR among evil", 0) == 0);
    CHECK(reply->find("action=OK") != std::string::npos);   // there, but inside the one REJECT line
    CHECK(reply->find_first_of("\r\n") == std::string::npos);
    // Nothing else follows the reply, and the connection stays in step.
    CHECK_FALSE(client->read_reply(300ms));
    const auto next = client->ask(test::rcpt_request("192.0.2.10", "helo_name=host.example.test\n"
                                                                   "sender=user@host.example.test\ninstance=evil.2\n"),
                                  10s);
    REQUIRE(next);
    CHECK(*next == "DUNNO");
    // The log: every line is one of ours, so no CR/LF split the decision line.
    REQUIRE(daemon.wait_for_log("recipient=<evil@example.org>", 5s));
    std::istringstream lines(daemon.log());
    std::string line;
    std::size_t count = 0;
    while (std::getline(lines, line)) {
        ++count;
        INFO(line);
        CHECK(line.rfind("reverse-policyd[", 0) == 0);
        CHECK(line.find('\r') == std::string::npos);
    }
    CHECK(count > 2);
}

TEST_CASE("checks world: the daemon's debug lines, resolver trouble once, [dns] reload",
          "[.integration][checks][daemon]") {
    require_world();
    test::TempDir dir;
    const auto sock = dir.file("policy.sock");
    const auto dead = test::free_port();   // nothing listens there: connection refused
    const auto text_with = [&](const std::string& nameservers, const char* level) {
        return fmt::format(
            "[server]\nlisten = [\"unix:{}\"]\nrequest_deadline = \"5s\"\n"
            "[log]\nto = \"stderr\"\nlevel = \"{}\"\n"
            "[dns]\nnameservers = [{}]\ntimeout = \"300ms\"\nattempts = 1\n",
            sock, level, nameservers);
    };
    const auto live = fmt::format("\"127.0.0.1:{}\"", world().port());
    const auto down = fmt::format("\"127.0.0.1:{}\"", dead);
    test::Daemon daemon(text_with(down + ", " + live, "debug"), dir);
    REQUIRE(daemon.started());
    auto client = test::PolicyClient::connect_unix(sock);
    REQUIRE(client);
    for (int i = 0; i < 5; ++i) {
        const auto reply = client->ask(
            test::rcpt_request("192.0.2.20", fmt::format("helo_name=\nsender=user@nonexistent.example.test\n"
                                                         "instance=dbg.{}\n",
                                                         i)),
            10s);
        REQUIRE(reply);
        CHECK(*reply == "451 4.1.8 Sender domain nonexistent.example.test not found");
    }
    // Every question and answer at debug level...
    CHECK(daemon.wait_for_log("dns: ask 20.2.0.192.in-addr.arpa PTR", 2s));
    CHECK(daemon.log_count("dns: 20.2.0.192.in-addr.arpa PTR -> NXDOMAIN") >= 1);
    CHECK(daemon.log_count("dns: nonexistent.example.test MX -> NXDOMAIN") >= 1);
    // ...but the dead nameserver is reported once, not per query.
    CHECK(daemon.log_count("is not answering") == 1);

    // [dns] changes on SIGHUP: a new resolver for new requests. Only the dead server now.
    test::write_file(daemon.config_path(), text_with(down, "info"));
    REQUIRE(daemon.signal(SIGHUP));
    REQUIRE(daemon.wait_for_log("configuration reloaded", 5s));
    const auto reply = client->ask(
        test::rcpt_request("192.0.2.20", "helo_name=\nsender=user@nonexistent.example.test\ninstance=dbg.after\n"),
        10s);
    REQUIRE(reply);
    CHECK(*reply == auto_defer("sender domain nonexistent.example.test"));
    CHECK(daemon.log_count("[dns] changed: new requests use a new resolver") == 1);
}
