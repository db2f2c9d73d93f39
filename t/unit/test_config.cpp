#include <catch2/catch.hpp>

#include <syslog.h>

#include <fstream>
#include <map>
#include <sstream>

#include <fmt/core.h>
#include <toml++/toml.h>

#include "config/config.hpp"
#include "config/settings.hpp"

using namespace rpd;
using namespace std::chrono_literals;
using config::ConfigError;
using config::Config;

namespace {

const std::string sample_path = RPD_SOURCE_DIR "/etc/reverse-policyd.toml";
const std::string examples_dir = RPD_SOURCE_DIR "/etc/examples/";

std::shared_ptr<const Config> load_ok(std::string_view text) {
    auto got = config::load_string(text, "test.toml");
    if (auto* errors = std::get_if<std::vector<ConfigError>>(&got)) {
        for (const auto& e : *errors) UNSCOPED_INFO(e.to_string());
        FAIL("config did not load");
    }
    return std::get<std::shared_ptr<const Config>>(got);
}

std::vector<std::string> load_errors(std::string_view text) {
    auto got = config::load_string(text, "test.toml");
    std::vector<std::string> out;
    if (auto* errors = std::get_if<std::vector<ConfigError>>(&got)) {
        for (const auto& e : *errors) out.push_back(e.to_string());
    }
    return out;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    REQUIRE(in);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::string describe(const rules::Action& a) { return fmt::format("{}/{}/{}", static_cast<int>(a.kind), a.code, a.text); }
std::string describe(const std::optional<rules::Action>& a) { return a ? describe(*a) : "auto"; }
std::string describe(const config::CheckCommon& c) {
    return fmt::format("lookup={} tempfail={} exempt_auth={} exempt_allow={}", c.lookup, describe(c.tempfail),
                       c.exempt_authenticated, c.exempt_allowlisted);
}

// Every field of a Config as text, so two configs can be compared and a difference shown.
std::string describe(const Config& c) {
    std::string s;
    auto add = [&](std::string_view key, const auto& value) { s += fmt::format("{} = {}\n", key, value); };
    for (const auto& l : c.server.listen) add("server.listen", fmt::format("{}|{}|{}|{}|{}", static_cast<int>(l.kind), l.path, l.host, l.port, l.text));
    add("server.socket_mode", c.server.socket_mode);
    for (const auto& a : c.server.allow) add("server.allow", a.to_string());
    add("server.max_connections", c.server.max_connections);
    add("server.idle_timeout", c.server.idle_timeout.count());
    add("server.request_deadline", c.server.request_deadline.count());
    add("server.user", c.server.user);
    for (const auto& n : c.dns.nameservers) add("dns.nameservers", fmt::format("{}|{}|{}", n.address.to_string(), n.port, n.text));
    add("dns.timeout", c.dns.timeout.count());
    add("dns.attempts", c.dns.attempts);
    add("dns.max_inflight", c.dns.max_inflight);
    add("dns.cache_entries", c.dns.cache_entries);
    add("dns.max_ttl", c.dns.max_ttl.count());
    add("dns.negative_ttl", c.dns.negative_ttl.count());
    add("dns.tempfail_ttl", c.dns.tempfail_ttl.count());
    add("dns.max_ptr_names", c.dns.max_ptr_names);
    add("dns.max_mx_hosts", c.dns.max_mx_hosts);
    add("log.to", static_cast<int>(c.log.to));
    add("log.facility", fmt::format("{}|{}", c.log.facility, c.log.facility_name));
    add("log.level", static_cast<int>(c.log.level));
    add("metrics.listen", c.metrics.listen ? c.metrics.listen->text : "off");
    for (const auto& a : c.allowlist.clients) add("allowlist.clients", a.to_string());
    for (const auto& a : c.allowlist.client_names) add("allowlist.client_names", a);
    for (const auto& a : c.allowlist.helo_names) add("allowlist.helo_names", a);
    for (const auto& a : c.allowlist.senders) add("allowlist.senders", a);
    add("headers", fmt::format("{}|{}", c.headers.warning, c.headers.name));
    add("preset_postfix", c.preset_postfix);
    add("client", describe(static_cast<const config::CheckCommon&>(c.client)));
    add("client.no_ptr", describe(c.client.no_ptr));
    add("client.mismatch", describe(c.client.mismatch));
    add("helo", describe(static_cast<const config::CheckCommon&>(c.helo)));
    add("helo.invalid", describe(c.helo.invalid));
    add("helo.non_fqdn", describe(c.helo.non_fqdn));
    add("helo.not_found", describe(c.helo.not_found));
    add("helo.forged", describe(c.helo.forged));
    add("sender", describe(static_cast<const config::CheckCommon&>(c.sender)));
    add("sender.not_found", describe(c.sender.not_found));
    add("sender.null_mx", describe(c.sender.null_mx));
    add("sender.forged", describe(c.sender.forged));
    return s;
}

// The commented-out example blocks of the sample file, uncommented, by name. A block runs
// from "# --- example: NAME (etc/examples/NAME.toml) ---" to "# --- end ---".
std::map<std::string, std::string> sample_examples() {
    std::istringstream lines(read_file(sample_path));
    std::map<std::string, std::string> out;
    std::optional<std::string> current;
    const std::string head = "# --- example: ";
    for (std::string line; std::getline(lines, line);) {
        if (line.starts_with(head)) {
            REQUIRE_FALSE(current);
            const auto name = line.substr(head.size(), line.find(' ', head.size()) - head.size());
            CHECK(line == head + name + " (etc/examples/" + name + ".toml) ---");
            current = name;
            out[name];
        } else if (line == "# --- end ---") {
            REQUIRE(current);
            current.reset();
        } else if (current) {
            INFO("line: " << line);
            REQUIRE((line == "#" || line.starts_with("# ")));
            out[*current] += (line.size() > 2 ? line.substr(2) : std::string()) + "\n";
        }
    }
    CHECK_FALSE(current);
    return out;
}

}  // namespace

TEST_CASE("config: mistakes are reported as FILE:LINE:COL at the offending key or value", "[config]") {
    struct Case {
        const char* label;
        const char* toml;
        std::vector<std::string> want;
    };
    const Case cases[] = {
        {"unknown key", "[server]\nlisten_on = []\n",
         {"test.toml:2:1: unknown key 'listen_on' in [server]"}},
        {"key in the wrong section", "[server]\ntimeout = \"2s\"\n",
         {"test.toml:2:1: unknown key 'timeout' in [server] (it belongs in [dns])"}},
        {"preset inside a section", "[client]\n  preset = \"postfix\"\n",
         {"test.toml:2:3: unknown key 'preset' in [client] (it belongs at the top of the file)"}},
        {"unknown top-level key", "presets = \"postfix\"\n",
         {"test.toml:1:1: unknown key 'presets'"}},
        {"unknown section", "[log]\nto = \"stderr\"\n[serverr]\nlisten = []\n",
         {"test.toml:3:2: unknown section [serverr] (sections: server, dns, log, metrics, allowlist, headers, "
          "client, helo, sender)"}},
        {"section that is not a table", "dns = \"127.0.0.1\"\n",
         {"test.toml:1:1: [dns] must be a table (a section), got a string"}},
        {"wrong type: string for integer", "[server]\nmax_connections = \"4096\"\n",
         {"test.toml:2:19: server.max_connections: expected an integer, got a string"}},
        {"wrong type: integer for duration", "[dns]\ntimeout = 2\n",
         {"test.toml:2:11: dns.timeout: expected a duration string like \"2s\", got an integer"}},
        {"wrong type: string for bool", "[headers]\nwarning = \"yes\"\n",
         {"test.toml:2:11: headers.warning: expected true or false, got a string"}},
        {"wrong type: string for array", "[server]\nallow = \"127.0.0.0/8\"\n",
         {"test.toml:2:9: server.allow: expected an array of strings, got a string"}},
        {"wrong type inside an array", "[server]\nallow = [\"127.0.0.0/8\", 10]\n",
         {"test.toml:2:25: server.allow[1]: expected a string, got an integer"}},
        {"bad duration", "[dns]\ntimeout = \"2 s\"\n",
         {"test.toml:2:11: dns.timeout: bad duration \"2 s\" (write e.g. \"250ms\", \"2s\", \"5m\", \"1h\", \"1d\")"}},
        {"zero timeout", "[dns]\ntimeout = \"0s\"\n",
         {"test.toml:2:11: dns.timeout: \"0s\" is out of range (want 1ms..1m)"}},
        {"zero request_deadline", "[server]\nrequest_deadline = \"0ms\"\n",
         {"test.toml:2:20: server.request_deadline: \"0ms\" is out of range (want 1ms..1h)"}},
        {"bad CIDR", "[server]\nallow = [\"127.0.0.0/8\", \"10.0.0.0/33\"]\n",
         {"test.toml:2:25: server.allow: bad CIDR \"10.0.0.0/33\" (want e.g. \"192.0.2.0/24\", \"2001:db8::/32\")"}},
        {"bad listen scheme", "[server]\nlisten = [\"tcp:127.0.0.1:10040\"]\n",
         {"test.toml:2:11: server.listen: bad listen address \"tcp:127.0.0.1:10040\": want \"unix:/path\", "
          "\"inet:127.0.0.1:10040\" or \"inet:[::1]:10040\""}},
        {"bad listen port", "[server]\nlisten = [\"unix:/tmp/s\", \"inet:127.0.0.1:65536\"]\n",
         {"test.toml:2:26: server.listen: bad listen address \"inet:127.0.0.1:65536\": bad port \"65536\" (want 1..65535)"}},
        {"listen host is a name", "[server]\nlisten = [\"inet:localhost:10040\"]\n",
         {"test.toml:2:11: server.listen: bad listen address \"inet:localhost:10040\": not an IP address: "
          "\"localhost\" (names are not resolved here)"}},
        {"unbracketed IPv6 listen", "[server]\nlisten = [\"inet:::1:10040\"]\n",
         {"test.toml:2:11: server.listen: bad listen address \"inet:::1:10040\": write an IPv6 address with a port as "
          "[ADDRESS]:PORT"}},
        {"no listener", "[server]\nlisten = []\n",
         {"test.toml:2:10: server.listen: at least one listener is needed"}},
        {"listener twice", "[server]\nlisten = [\"unix:/tmp/a\", \"unix:/tmp/a\"]\n",
         {"test.toml:2:26: server.listen: \"unix:/tmp/a\" is listed twice"}},
        {"bad socket_mode", "[server]\nsocket_mode = \"0999\"\n",
         {"test.toml:2:15: server.socket_mode: bad socket_mode \"0999\" (want an octal string like \"0666\" or \"0660\")"}},
        {"socket_mode as integer", "[server]\nsocket_mode = 666\n",
         {"test.toml:2:15: server.socket_mode: expected an octal string like \"0666\", got an integer"}},
        {"bad action word", "[client]\nno_ptr = \"REJECTT\"\n",
         {"test.toml:2:10: client.no_ptr: bad action \"REJECTT\": unknown action 'REJECTT'"}},
        {"5NN tempfail", "[helo]\ntempfail = \"550 5.7.1 no\"\n",
         {"test.toml:2:12: helo.tempfail: \"550 5.7.1 no\": a tempfail action may never be permanent (5NN or REJECT): "
          "a DNS failure is not proof of anything; use 4NN, DEFER or DEFER_IF_PERMIT"}},
        {"REJECT tempfail", "[sender]\ntempfail = \"REJECT\"\n",
         {"test.toml:2:12: sender.tempfail: \"REJECT\": a tempfail action may never be permanent (5NN or REJECT): "
          "a DNS failure is not proof of anything; use 4NN, DEFER or DEFER_IF_PERMIT"}},
        {"code and enhanced code disagree", "[sender]\nnot_found = \"450 5.1.8 no such domain\"\n",
         {"test.toml:2:13: sender.not_found: bad action \"450 5.1.8 no such domain\": enhanced status code 5.1.8 does "
          "not agree with reply code 450 (want 4.x.x)"}},
        {"bare code", "[helo]\nnot_found = \"450\"\n",
         {"test.toml:2:13: helo.not_found: bad action \"450\": reply code 450 without text: Postfix takes a bare "
          "code as OK"}},
        {"empty action", "[helo]\nforged = \"\"\n",
         {"test.toml:2:10: helo.forged: bad action \"\": an empty action is taken by Postfix as OK"}},
        {"unknown placeholder", "[client]\nmismatch = \"450 4.7.1 {client_ip} unknown\"\n",
         {"test.toml:2:12: client.mismatch: bad action \"450 4.7.1 {client_ip} unknown\": unknown placeholder "
          "{client_ip}"}},
        {"auto outside tempfail", "[client]\nno_ptr = \"auto\"\n",
         {"test.toml:2:10: client.no_ptr: \"auto\" is only for tempfail; write an action such as \"DUNNO\""}},
        {"bad facility", "[log]\nfacility = \"local8\"\n",
         {"test.toml:2:12: log.facility: unknown syslog facility \"local8\" (want mail, daemon, user or local0..local7)"}},
        {"bad log destination", "[log]\nto = \"file\"\n",
         {"test.toml:2:6: log.to: bad log destination \"file\" (want \"syslog\" or \"stderr\")"}},
        {"bad log level", "[log]\nlevel = \"verbose\"\n",
         {"test.toml:2:9: log.level: bad log level \"verbose\" (want \"info\" or \"debug\")"}},
        {"attempts zero", "[dns]\nattempts = 0\n",
         {"test.toml:2:12: dns.attempts: 0 is out of range (want 1..10)"}},
        {"negative cache_entries", "[dns]\ncache_entries = -5\n",
         {"test.toml:2:17: dns.cache_entries: -5 is out of range (want 1..100000000)"}},
        {"bad nameserver", "[dns]\nnameservers = [\"127.0.0.1\", \"ns1.example.net\"]\n",
         {"test.toml:2:29: dns.nameservers: bad nameserver \"ns1.example.net\": not an IP address: \"ns1.example.net\" "
          "(names are not resolved here)"}},
        {"bad nameserver port", "[dns]\nnameservers = [\"[::1]:0\"]\n",
         {"test.toml:2:16: dns.nameservers: bad nameserver \"[::1]:0\": bad port \"0\" (want 1..65535)"}},
        {"bad metrics listen", "[metrics]\nlisten = \"127.0.0.1:9425\"\n",
         {"test.toml:2:10: metrics.listen: bad listen address \"127.0.0.1:9425\": want \"unix:/path\", "
          "\"inet:127.0.0.1:10040\" or \"inet:[::1]:10040\""}},
        {"bad header name", "[headers]\nname = \"X Reverse\"\n",
         {"test.toml:2:8: headers.name: bad header name \"X Reverse\" (want printable ASCII without ':' or spaces, "
          "at most 64 characters, e.g. \"X-Reverse-Lookup\")"}},
        {"bad allowlist name", "[allowlist]\nclient_names = [\"mail..example.com\"]\n",
         {"test.toml:2:17: allowlist.client_names: bad entry \"mail..example.com\" (want a host name like "
          "\"mail.example.com\" or a suffix like \".example.net\")"}},
        {"bad allowlist sender", "[allowlist]\nsenders = [\"@\", \"user@\"]\n",
         {"test.toml:2:12: allowlist.senders: bad entry \"@\" (want \"user@example.org\", \"@example.org\" or "
          "\".example.org\")",
          "test.toml:2:17: allowlist.senders: bad entry \"user@\" (want \"user@example.org\", \"@example.org\" or "
          "\".example.org\")"}},
        {"unknown preset", "preset = \"exim\"\n",
         {"test.toml:1:10: preset: unknown preset \"exim\" (the only preset is \"postfix\")"}},
        {"TOML syntax error", "[server]\nmax_connections = 10\n[dns\n",
         {"test.toml:3:5: TOML syntax error: Error while parsing table header: expected ']', saw '\\n'"}},
        {"TOML duplicate key", "[dns]\nattempts = 2\nattempts = 3\n",
         {"test.toml:3:12: TOML syntax error: Error while parsing key-value pair: cannot redefine existing integer "
          "'attempts'"}},
        {"several mistakes, all reported in file order",
         "[server]\n"
         "max_connections = 0\n"
         "colour = \"blue\"\n"
         "[dns]\n"
         "timeout = \"soon\"\n"
         "nameservers = [\"192.0.2.1:99999\"]\n"
         "[client]\n"
         "no_ptr = \"450\"\n"
         "tempfail = \"REJECT\"\n"
         "[frobnicate]\n",
         {"test.toml:2:19: server.max_connections: 0 is out of range (want 1..1000000)",
          "test.toml:3:1: unknown key 'colour' in [server]",
          "test.toml:5:11: dns.timeout: bad duration \"soon\" (write e.g. \"250ms\", \"2s\", \"5m\", \"1h\", \"1d\")",
          "test.toml:6:16: dns.nameservers: bad nameserver \"192.0.2.1:99999\": bad port \"99999\" (want 1..65535)",
          "test.toml:8:10: client.no_ptr: bad action \"450\": reply code 450 without text: Postfix takes a bare code "
          "as OK",
          "test.toml:9:12: client.tempfail: \"REJECT\": a tempfail action may never be permanent (5NN or REJECT): "
          "a DNS failure is not proof of anything; use 4NN, DEFER or DEFER_IF_PERMIT",
          "test.toml:10:2: unknown section [frobnicate] (sections: server, dns, log, metrics, allowlist, headers, "
          "client, helo, sender)"}},
    };
    for (const auto& c : cases) {
        INFO(c.label << ":\n" << c.toml);
        CHECK(load_errors(c.toml) == c.want);
    }
}

TEST_CASE("config: a file that cannot be read says why, without a position", "[config]") {
    auto missing = config::load_file("/nonexistent/reverse-policyd.toml");
    REQUIRE(std::holds_alternative<std::vector<ConfigError>>(missing));
    const auto& errors = std::get<std::vector<ConfigError>>(missing);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].line == 0);
    CHECK(errors[0].to_string() == "/nonexistent/reverse-policyd.toml: cannot read: No such file or directory");

    auto directory = config::load_file(RPD_SOURCE_DIR "/etc");
    REQUIRE(std::holds_alternative<std::vector<ConfigError>>(directory));
    CHECK(std::get<std::vector<ConfigError>>(directory).at(0).to_string() ==
          RPD_SOURCE_DIR "/etc: cannot read: Is a directory");
}

TEST_CASE("config: an empty file gives SPEC §2's defaults", "[config]") {
    const auto c = load_ok("");
    CHECK(c->path == "test.toml");
    CHECK_FALSE(c->preset_postfix);

    REQUIRE(c->server.listen.size() == 1);
    CHECK(c->server.listen[0].kind == config::ListenAddress::Kind::Unix);
    CHECK(c->server.listen[0].path == "/var/spool/postfix/private/reverse-policyd");
    CHECK(c->server.listen[0].text == "unix:/var/spool/postfix/private/reverse-policyd");
    CHECK(c->server.socket_mode == 0666);
    REQUIRE(c->server.allow.size() == 2);
    CHECK(c->server.allow[0].to_string() == "127.0.0.0/8");
    CHECK(c->server.allow[1].to_string() == "::1/128");
    CHECK(c->server.max_connections == 4096);
    CHECK(c->server.idle_timeout == 300s);
    CHECK(c->server.request_deadline == 10s);
    CHECK(c->server.user.empty());

    CHECK(c->dns.nameservers.empty());
    CHECK(c->dns.timeout == 2s);
    CHECK(c->dns.attempts == 2);
    CHECK(c->dns.max_inflight == 1024);
    CHECK(c->dns.cache_entries == 100000);
    CHECK(c->dns.max_ttl == 24h);
    CHECK(c->dns.negative_ttl == 1h);
    CHECK(c->dns.tempfail_ttl == 30s);
    CHECK(c->dns.max_ptr_names == 10);
    CHECK(c->dns.max_mx_hosts == 10);

    CHECK(c->log.to == config::LogConfig::Sink::Syslog);
    CHECK(c->log.facility == LOG_MAIL);
    CHECK(c->log.facility_name == "mail");
    CHECK(c->log.level == config::LogConfig::Level::Info);
    CHECK_FALSE(c->metrics.listen.has_value());

    CHECK(c->allowlist.clients.empty());
    CHECK(c->allowlist.client_names.empty());
    CHECK(c->allowlist.helo_names.empty());
    CHECK(c->allowlist.senders.empty());
    CHECK(c->headers.warning);
    CHECK(c->headers.name == "X-Reverse-Lookup");

    for (const config::CheckCommon* check : {static_cast<const config::CheckCommon*>(&c->client),
                                             static_cast<const config::CheckCommon*>(&c->helo),
                                             static_cast<const config::CheckCommon*>(&c->sender)}) {
        CHECK(check->lookup);
        CHECK_FALSE(check->tempfail.has_value());
    }
    CHECK_FALSE(c->client.exempt_authenticated);
    CHECK_FALSE(c->client.exempt_allowlisted);
    CHECK_FALSE(c->helo.exempt_authenticated);
    CHECK_FALSE(c->helo.exempt_allowlisted);
    CHECK(c->sender.exempt_authenticated);
    CHECK(c->sender.exempt_allowlisted);

    for (const rules::Action* a : {&c->client.no_ptr, &c->client.mismatch, &c->helo.invalid, &c->helo.non_fqdn,
                                   &c->helo.not_found, &c->helo.forged, &c->sender.null_mx, &c->sender.forged}) {
        CHECK(a->kind == rules::ActionKind::Dunno);
        CHECK(a->text == "DUNNO");
    }
    CHECK(c->sender.not_found.kind == rules::ActionKind::Code);
    CHECK(c->sender.not_found.code == 451);
    CHECK(c->sender.not_found.text == "451 4.1.8 Sender domain {sender_domain} not found");
}

TEST_CASE("config: values are parsed into their types", "[config]") {
    const auto c = load_ok(R"(
[server]
listen = ["unix:relative/sock", "inet:127.0.0.1:10040", "inet:[::1]:10041"]
socket_mode = "0660"
allow = ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7"]
max_connections = 10
idle_timeout = "5m"
request_deadline = "250ms"
user = "postfix"
[dns]
nameservers = ["127.0.0.1", "127.0.0.1:5353", "[::1]:53", "2001:db8::54", "[2001:db8::53]"]
timeout = "100ms"
attempts = 1
max_ttl = "0s"
[log]
to = "stderr"
facility = "local3"
level = "debug"
[metrics]
listen = "inet:127.0.0.1:9425"
[allowlist]
clients = ["203.0.113.0/24"]
client_names = ["Mail.Example.COM", ".example.net", "relay.example.org."]
helo_names = [".example.test"]
senders = ["User@Example.org", "@example.org", ".example.org"]
[headers]
warning = false
name = "X-RPD"
[client]
lookup = false
no_ptr = "reject no PTR for [{client_address}]"
tempfail = "DEFER_IF_PERMIT 4.4.3 later"
exempt_authenticated = true
[helo]
tempfail = "auto"
[sender]
tempfail = "451 4.4.3 later"
exempt_allowlisted = false
)");
    REQUIRE(c->server.listen.size() == 3);
    CHECK(c->server.listen[0].kind == config::ListenAddress::Kind::Unix);
    CHECK(c->server.listen[0].path == "relative/sock");
    CHECK(c->server.listen[1].kind == config::ListenAddress::Kind::Inet);
    CHECK(c->server.listen[1].host == "127.0.0.1");
    CHECK(c->server.listen[1].port == 10040);
    CHECK(c->server.listen[2].host == "::1");
    CHECK(c->server.listen[2].port == 10041);
    CHECK(c->server.listen[2].text == "inet:[::1]:10041");
    CHECK(c->server.socket_mode == 0660);
    REQUIRE(c->server.allow.size() == 3);
    CHECK(c->server.allow[2].to_string() == "198.51.100.7/32");
    CHECK(c->server.max_connections == 10);
    CHECK(c->server.idle_timeout == 5min);
    CHECK(c->server.request_deadline == 250ms);
    CHECK(c->server.user == "postfix");

    REQUIRE(c->dns.nameservers.size() == 5);
    const char* want_ns[] = {"127.0.0.1:53", "127.0.0.1:5353", "[::1]:53", "[2001:db8::54]:53", "[2001:db8::53]:53"};
    for (std::size_t i = 0; i < 5; ++i) CHECK(c->dns.nameservers[i].text == want_ns[i]);
    CHECK(c->dns.nameservers[1].port == 5353);
    CHECK(c->dns.nameservers[3].address == *util::IpAddress::parse("2001:db8::54"));
    CHECK(c->dns.timeout == 100ms);
    CHECK(c->dns.attempts == 1);
    CHECK(c->dns.max_ttl == 0ms);

    CHECK(c->log.to == config::LogConfig::Sink::Stderr);
    CHECK(c->log.facility == LOG_LOCAL3);
    CHECK(c->log.facility_name == "local3");
    CHECK(c->log.level == config::LogConfig::Level::Debug);
    REQUIRE(c->metrics.listen.has_value());
    CHECK(c->metrics.listen->port == 9425);

    CHECK(c->allowlist.client_names == std::vector<std::string>{"mail.example.com", ".example.net", "relay.example.org"});
    CHECK(c->allowlist.senders == std::vector<std::string>{"user@example.org", "@example.org", ".example.org"});
    CHECK_FALSE(c->headers.warning);
    CHECK(c->headers.name == "X-RPD");

    CHECK_FALSE(c->client.lookup);
    CHECK(c->client.no_ptr.kind == rules::ActionKind::Reject);
    CHECK(c->client.no_ptr.text == "REJECT no PTR for [{client_address}]");
    REQUIRE(c->client.tempfail.has_value());
    CHECK(c->client.tempfail->kind == rules::ActionKind::DeferIfPermit);
    CHECK(c->client.exempt_authenticated);
    CHECK_FALSE(c->helo.tempfail.has_value());
    REQUIRE(c->sender.tempfail.has_value());
    CHECK(c->sender.tempfail->code == 451);
    CHECK_FALSE(c->sender.exempt_allowlisted);
}

TEST_CASE("config: the same nameserver written two ways is listed twice", "[config]") {
    CHECK(load_errors("[dns]\nnameservers = [\"::1\", \"[::1]:53\"]\n") ==
          std::vector<std::string>{"test.toml:2:23: dns.nameservers: \"[::1]:53\" is listed twice"});
}

TEST_CASE("config: parse_listen", "[config]") {
    struct Case {
        const char* text;
        bool ok;
        config::ListenAddress::Kind kind;
        const char* path_or_host;
        std::uint16_t port;
    };
    using K = config::ListenAddress::Kind;
    const Case cases[] = {
        {"unix:/var/spool/postfix/private/reverse-policyd", true, K::Unix, "/var/spool/postfix/private/reverse-policyd", 0},
        {"unix:sock", true, K::Unix, "sock", 0},
        {"inet:127.0.0.1:10040", true, K::Inet, "127.0.0.1", 10040},
        {"inet:[::1]:10040", true, K::Inet, "::1", 10040},
        {"inet:[2001:DB8::1]:1", true, K::Inet, "2001:db8::1", 1},
        {"inet:0.0.0.0:65535", true, K::Inet, "0.0.0.0", 65535},
        {"unix:", false, K::Unix, "", 0},
        {"inet:", false, K::Inet, "", 0},
        {"inet:127.0.0.1", false, K::Inet, "", 0},
        {"inet:127.0.0.1:", false, K::Inet, "", 0},
        {"inet:127.0.0.1:0", false, K::Inet, "", 0},
        {"inet:127.0.0.1:+80", false, K::Inet, "", 0},
        {"inet:127.0.0.1:80x", false, K::Inet, "", 0},
        {"inet:[127.0.0.1]:80", false, K::Inet, "", 0},
        {"inet:[::1:80", false, K::Inet, "", 0},
        {"inet:[::1]80", false, K::Inet, "", 0},
        {"inet:::1:80", false, K::Inet, "", 0},
        {"inet:localhost:80", false, K::Inet, "", 0},
        {"/var/run/sock", false, K::Unix, "", 0},
        {"", false, K::Unix, "", 0},
    };
    for (const auto& c : cases) {
        INFO(c.text);
        const auto got = config::parse_listen(c.text);
        REQUIRE(got.has_value() == c.ok);
        if (!got) continue;
        CHECK(got->kind == c.kind);
        CHECK((c.kind == K::Unix ? got->path : got->host) == c.path_or_host);
        CHECK(got->port == c.port);
        CHECK(got->text == c.text);
    }
    const std::string long_path = "unix:/" + std::string(107, 'a');
    CHECK_FALSE(config::parse_listen(long_path));
    CHECK(config::parse_listen("unix:/" + std::string(106, 'a')));
}

TEST_CASE("config: allowlist patterns", "[config]") {
    for (const char* ok : {"mail.example.com", ".example.net", "localhost", "_dmarc.example.org", "a-b.example",
                           "example.com."}) {
        INFO(ok);
        CHECK(config::is_valid_name_pattern(ok));
    }
    for (const char* bad : {"", ".", "..example", "mail..example.com", "-mail.example.com", "mail-.example.com",
                            "mail example.com", "192.0.2.1", "*.example.com", "mail@example.com"}) {
        INFO(bad);
        CHECK_FALSE(config::is_valid_name_pattern(bad));
    }
    CHECK_FALSE(config::is_valid_name_pattern(std::string(64, 'a') + ".example"));
    CHECK(config::is_valid_name_pattern(std::string(63, 'a') + ".example"));

    for (const char* ok : {"user@example.org", "@example.org", ".example.org", "first.last+tag@example.org"}) {
        INFO(ok);
        CHECK(config::is_valid_sender_pattern(ok));
    }
    for (const char* bad : {"", "@", "user@", "example.org", "us er@example.org", "user@.example.org",
                            "user@exa mple.org"}) {
        INFO(bad);
        CHECK_FALSE(config::is_valid_sender_pattern(bad));
    }
}

TEST_CASE("config: preset postfix sets SPEC §2's table", "[config][preset]") {
    const auto c = load_ok("preset = \"postfix\"\n");
    CHECK(c->preset_postfix);
    CHECK(c->client.no_ptr.text == "450 4.7.1 cannot find your reverse hostname, [{client_address}]");
    CHECK(c->client.mismatch.text == "450 4.7.25 cannot find your hostname, [{client_address}]");
    CHECK_FALSE(c->client.tempfail.has_value());
    CHECK(c->helo.invalid.text == "501 5.5.2 Invalid name");
    CHECK(c->helo.non_fqdn.text == "504 5.5.2 need fully-qualified hostname");
    CHECK(c->helo.not_found.text == "450 4.7.1 Host not found");
    REQUIRE(c->helo.tempfail.has_value());
    CHECK(c->helo.tempfail->text == "DEFER_IF_PERMIT 4.7.1 Host not found");
    CHECK(c->helo.forged.kind == rules::ActionKind::Dunno);
    CHECK(c->sender.not_found.text == "450 4.1.8 Domain not found");
    CHECK(c->sender.null_mx.text == "550 5.7.27 Domain {sender_domain} does not accept mail (nullMX)");
    CHECK(c->sender.null_mx.severity == rules::Severity::Reject);
    REQUIRE(c->sender.tempfail.has_value());
    CHECK(c->sender.tempfail->text == "DEFER_IF_PERMIT 4.1.8 Domain not found");
    CHECK(c->sender.forged.kind == rules::ActionKind::Dunno);
    CHECK_FALSE(c->headers.warning);
    for (const config::CheckCommon* check : {static_cast<const config::CheckCommon*>(&c->client),
                                             static_cast<const config::CheckCommon*>(&c->helo),
                                             static_cast<const config::CheckCommon*>(&c->sender)}) {
        CHECK_FALSE(check->exempt_authenticated);
        CHECK_FALSE(check->exempt_allowlisted);
        CHECK(check->lookup);
    }
    // Settings the preset does not name keep their defaults.
    CHECK(c->dns.timeout == 2s);
    CHECK(c->headers.name == "X-Reverse-Lookup");
}

TEST_CASE("config: keys in the file override the preset wherever they are written", "[config][preset]") {
    // TOML puts top-level keys before the first section, so a section "before" the preset can
    // only be written as a dotted key or an inline table ahead of it.
    const auto before = load_ok(
        "sender.not_found = \"550 5.1.8 no such domain {sender_domain}\"\n"
        "headers = { warning = true }\n"
        "preset = \"postfix\"\n");
    CHECK(before->preset_postfix);
    CHECK(before->sender.not_found.text == "550 5.1.8 no such domain {sender_domain}");
    CHECK(before->headers.warning);
    CHECK(before->helo.not_found.text == "450 4.7.1 Host not found");

    const auto after = load_ok(
        "preset = \"postfix\"\n"
        "[helo]\n"
        "not_found = \"DUNNO\"\n"
        "tempfail = \"auto\"\n"
        "[sender]\n"
        "exempt_authenticated = true\n");
    CHECK(after->preset_postfix);
    CHECK(after->helo.not_found.kind == rules::ActionKind::Dunno);
    CHECK_FALSE(after->helo.tempfail.has_value());
    CHECK(after->sender.exempt_authenticated);
    CHECK(after->helo.invalid.text == "501 5.5.2 Invalid name");
    CHECK(after->sender.not_found.text == "450 4.1.8 Domain not found");
}

TEST_CASE("config: every built-in row is valid and the preset names only known keys", "[config][preset]") {
    // load_string throws std::logic_error if a default or a preset value fails its validator.
    CHECK_NOTHROW(load_ok(""));
    CHECK_NOTHROW(load_ok("preset = \"postfix\""));
    for (const auto& row : config::postfix_preset()) {
        INFO(row.section << "." << row.key);
        const auto all = config::settings();
        CHECK(std::any_of(all.begin(), all.end(),
                          [&](const config::Setting& s) { return s.section == row.section && s.key == row.key; }));
    }
}

TEST_CASE("config: the sample file loads and shows every setting with its default", "[config][sample]") {
    auto got = config::load_file(sample_path);
    if (auto* errors = std::get_if<std::vector<ConfigError>>(&got)) {
        for (const auto& e : *errors) UNSCOPED_INFO(e.to_string());
        FAIL("sample did not load");
    }
    const auto& sample = *std::get<std::shared_ptr<const Config>>(got);
    CHECK(sample.path == sample_path);
    CHECK(describe(sample) == describe(*load_ok("")));

    // Each row of the table appears in the sample with the default written the same way.
    const auto doc = toml::parse_file(sample_path);
    for (const auto& s : config::settings()) {
        if (s.default_toml.empty()) continue;   // preset: no default, shown commented out
        INFO(s.section << "." << s.key);
        const auto node = doc.at_path(fmt::format("{}.{}", s.section, s.key));
        REQUIRE(node);
        const auto want_doc = toml::parse(fmt::format("v = {}", s.default_toml));
        std::ostringstream got_text, want_text;
        got_text << node;
        want_text << want_doc["v"];
        CHECK(got_text.str() == want_text.str());
    }
}

TEST_CASE("config: the example files load, and the sample's commented blocks match them", "[config][sample]") {
    const auto blocks = sample_examples();
    CHECK(blocks.size() == 3);
    for (const char* name : {"strict", "gateway", "postfix"}) {
        INFO(name);
        const auto path = examples_dir + name + ".toml";
        auto got = config::load_file(path);
        if (auto* errors = std::get_if<std::vector<ConfigError>>(&got)) {
            for (const auto& e : *errors) UNSCOPED_INFO(e.to_string());
            FAIL("example did not load");
        }
        const auto& file = *std::get<std::shared_ptr<const Config>>(got);
        REQUIRE(blocks.count(name) == 1);
        CHECK(blocks.at(name) == read_file(path));
        CHECK(describe(*load_ok(blocks.at(name))) == describe(file));
        CHECK(describe(file) != describe(*load_ok("")));
    }
    const auto strict = *std::get<std::shared_ptr<const Config>>(config::load_file(examples_dir + "strict.toml"));
    CHECK(strict.client.no_ptr.severity == rules::Severity::Reject);
    CHECK(strict.client.mismatch.severity == rules::Severity::Reject);
    const auto gateway = *std::get<std::shared_ptr<const Config>>(config::load_file(examples_dir + "gateway.toml"));
    CHECK(gateway.client.no_ptr.code == 521);
    CHECK(gateway.client.no_ptr.disconnects());
    CHECK(gateway.helo.not_found.code == 451);
    CHECK(gateway.sender.not_found.code == 451);
    const auto postfix = *std::get<std::shared_ptr<const Config>>(config::load_file(examples_dir + "postfix.toml"));
    CHECK(postfix.preset_postfix);
}

TEST_CASE("config: error positions survive CRLF line ends and tabs", "[config]") {
    CHECK(load_errors("[dns]\r\n\tattempts = \"2\"\r\n") ==
          std::vector<std::string>{"test.toml:2:13: dns.attempts: expected an integer, got a string"});
}

TEST_CASE("config: junk is an error, never a crash", "[config]") {
    const std::string junk[] = {
        std::string("\0\x01\x02garbage", 10),
        "\xff\xfe[server]\n",
        "[server]\nuser = \"\xc3\x28\"\n",
        std::string(10000, '['),
        "a = " + std::string(5000, '[') + std::string(5000, ']'),
        "[client]\nno_ptr = \"" + std::string(100000, 'x') + "\"\n",
        "[[server]]\nlisten = []\n",
        "[client.sub]\nx = 1\n",
    };
    for (const auto& text : junk) {
        INFO(text.substr(0, 40));
        std::vector<std::string> errors;
        CHECK_NOTHROW(errors = load_errors(text));
        CHECK_FALSE(errors.empty());
        for (const auto& e : errors) CHECK(e.starts_with("test.toml:"));
    }
}
