#include "config/settings.hpp"

#include <sys/un.h>
#include <syslog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <string>

#include <fmt/core.h>

#include "log/sanitize.hpp"
#include "util/duration.hpp"

namespace rpd::config {

namespace {

using namespace std::string_literals;

constexpr std::int64_t second = 1000;
constexpr std::int64_t minute = 60 * second;
constexpr std::int64_t hour = 60 * minute;
constexpr std::int64_t day = 24 * hour;

std::string quoted(std::string_view text) { return "\"" + log::sanitize(text, 80) + "\""; }

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return out;
}

std::optional<std::uint16_t> parse_port(std::string_view digits) {
    unsigned value = 0;
    const auto* end = digits.data() + digits.size();
    const auto [ptr, ec] = std::from_chars(digits.data(), end, value);
    if (digits.empty() || digits.front() == '+' || ec != std::errc{} || ptr != end) return std::nullopt;
    if (value < 1 || value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

// "HOST:PORT" with HOST an IPv4 address or a bracketed IPv6 address. `port_optional` also
// takes a bare address (IPv6 unbracketed too) and then leaves the port unset.
struct HostPort {
    util::IpAddress address;
    std::optional<std::uint16_t> port;
};
std::variant<HostPort, std::string> parse_host_port(std::string_view text, bool port_optional) {
    std::string_view host;
    std::optional<std::string_view> port_text;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) return "missing ']' after an IPv6 address"s;
        host = text.substr(1, close - 1);
        const auto after = text.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return "expected ':PORT' after ']'"s;
            port_text = after.substr(1);
        }
    } else if (port_optional && std::count(text.begin(), text.end(), ':') > 1) {
        host = text;   // a bare IPv6 address: its colons are not a port separator
    } else {
        const auto colon = text.rfind(':');
        host = text.substr(0, colon);
        if (colon != std::string_view::npos) port_text = text.substr(colon + 1);
    }
    auto address = util::IpAddress::parse(host);
    if (!address) return "not an IP address: " + quoted(host) + " (names are not resolved here)";
    if (text.front() == '[' && address->is_v4()) return "brackets are for IPv6 addresses only"s;
    if (text.front() != '[' && !address->is_v4() && port_text) return "write an IPv6 address with a port as [ADDRESS]:PORT"s;
    HostPort out{*address, std::nullopt};
    if (port_text) {
        out.port = parse_port(*port_text);
        if (!out.port) return "bad port " + quoted(*port_text) + " (want 1..65535)";
    } else if (!port_optional) {
        return "missing ':PORT'"s;
    }
    return out;
}

bool is_label_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// RFC 1035 host name (with the underscores Postfix tolerates): labels of 1..63, at most 253 in all.
bool is_valid_hostname(std::string_view name) {
    if (name.empty() || name.size() > 253) return false;
    std::size_t start = 0;
    while (true) {
        const auto dot = name.find('.', start);
        const auto label = name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (label.empty() || label.size() > 63) return false;
        if (label.front() == '-' || label.back() == '-') return false;
        if (!std::all_of(label.begin(), label.end(), is_label_char)) return false;
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    // "192.0.2.1" is an address, not a name (Postfix valid_hostname: not all-numeric).
    return !std::all_of(name.begin(), name.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

// -- appliers: one per kind of value; Sec/Field are member pointers into Config -------------

template <auto Sec, auto Field>
void set_bool(const Value& v, Config& c, Complaints&) {
    (c.*Sec).*Field = v.boolean;
}

template <auto Sec, auto Field, std::int64_t Min, std::int64_t Max>
void set_integer(const Value& v, Config& c, Complaints& out) {
    if (v.integer < Min || v.integer > Max) {
        out.add(v.where, fmt::format("{} is out of range (want {}..{})", v.integer, Min, Max));
        return;
    }
    using T = std::remove_reference_t<decltype((c.*Sec).*Field)>;
    (c.*Sec).*Field = static_cast<T>(v.integer);
}

template <auto Sec, auto Field, std::int64_t MinMs, std::int64_t MaxMs>
void set_duration(const Value& v, Config& c, Complaints& out) {
    const auto d = util::parse_duration(v.string);
    if (!d) {
        out.add(v.where, fmt::format("bad duration {} (write e.g. \"250ms\", \"2s\", \"5m\", \"1h\", \"1d\")",
                                     quoted(v.string)));
        return;
    }
    if (d->count() < MinMs || d->count() > MaxMs) {
        out.add(v.where, fmt::format("{} is out of range (want {}..{})", quoted(v.string),
                                     util::format_duration(util::Millis{MinMs}),
                                     util::format_duration(util::Millis{MaxMs})));
        return;
    }
    (c.*Sec).*Field = *d;
}

template <auto Sec, auto Field>
void set_cidrs(const Value& v, Config& c, Complaints& out) {
    std::vector<util::Cidr> list;
    for (const auto& item : v.items) {
        if (auto cidr = util::Cidr::parse(item.string)) {
            list.push_back(*cidr);
        } else {
            out.add(item.where, fmt::format("bad CIDR {} (want e.g. \"192.0.2.0/24\", \"2001:db8::/32\")",
                                            quoted(item.string)));
        }
    }
    (c.*Sec).*Field = std::move(list);
}

template <auto Sec, auto Field, bool (*Valid)(std::string_view)>
void set_patterns(const Value& v, Config& c, Complaints& out, std::string_view want) {
    std::vector<std::string> list;
    for (const auto& item : v.items) {
        if (!Valid(item.string)) {
            out.add(item.where, fmt::format("bad entry {} (want {})", quoted(item.string), want));
            continue;
        }
        auto entry = lower(item.string);
        if (entry.size() > 1 && entry.back() == '.') entry.pop_back();   // an absolute name means the same
        list.push_back(std::move(entry));
    }
    (c.*Sec).*Field = std::move(list);
}

template <auto Sec, auto Field>
void set_name_patterns(const Value& v, Config& c, Complaints& out) {
    set_patterns<Sec, Field, is_valid_name_pattern>(v, c, out, "a host name like \"mail.example.com\" or a suffix like \".example.net\"");
}

template <auto Sec, auto Field>
void set_sender_patterns(const Value& v, Config& c, Complaints& out) {
    set_patterns<Sec, Field, is_valid_sender_pattern>(v, c, out, "\"user@example.org\", \"@example.org\" or \".example.org\"");
}

std::optional<rules::Action> action_or_complain(const Value& v, Complaints& out) {
    auto parsed = rules::parse_action(v.string);
    if (auto* err = std::get_if<std::string>(&parsed)) {
        out.add(v.where, fmt::format("bad action {}: {}", quoted(v.string), *err));
        return std::nullopt;
    }
    return std::get<rules::Action>(std::move(parsed));
}

template <auto Sec, auto Field>
void set_action(const Value& v, Config& c, Complaints& out) {
    if (lower(v.string) == "auto") {
        out.add(v.where, "\"auto\" is only for tempfail; write an action such as \"DUNNO\"");
        return;
    }
    if (auto action = action_or_complain(v, out)) (c.*Sec).*Field = std::move(*action);
}

template <auto Sec>
void set_tempfail(const Value& v, Config& c, Complaints& out) {
    if (lower(v.string) == "auto") {
        (c.*Sec).tempfail.reset();
        return;
    }
    auto action = action_or_complain(v, out);
    if (!action) return;
    if (action->is_permanent()) {
        out.add(v.where, fmt::format("{}: a tempfail action may never be permanent (5NN or REJECT): "
                                     "a DNS failure is not proof of anything; use 4NN, DEFER or DEFER_IF_PERMIT",
                                     quoted(v.string)));
        return;
    }
    (c.*Sec).tempfail = std::move(*action);
}

void set_listen(const Value& v, Config& c, Complaints& out) {
    std::vector<ListenAddress> list;
    for (const auto& item : v.items) {
        auto parsed = parse_listen_reason(item.string);
        if (auto* err = std::get_if<std::string>(&parsed)) {
            out.add(item.where, fmt::format("bad listen address {}: {}", quoted(item.string), *err));
            continue;
        }
        auto& addr = std::get<ListenAddress>(parsed);
        const bool dup = std::any_of(list.begin(), list.end(), [&](const ListenAddress& a) {
            return a.kind == addr.kind && a.path == addr.path && a.host == addr.host && a.port == addr.port;
        });
        if (dup) {
            out.add(item.where, fmt::format("{} is listed twice", quoted(item.string)));
            continue;
        }
        list.push_back(std::move(addr));
    }
    if (v.items.empty()) out.add(v.where, "at least one listener is needed");
    c.server.listen = std::move(list);
}

void set_socket_mode(const Value& v, Config& c, Complaints& out) {
    // An octal string: TOML has no octal integers in our sense, and 666 decimal is a trap.
    const auto& s = v.string;
    const bool octal = (s.size() == 3 || s.size() == 4) &&
                       std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '7'; });
    if (!octal || (s.size() == 4 && s.front() != '0')) {
        out.add(v.where, fmt::format("bad socket_mode {} (want an octal string like \"0666\" or \"0660\")", quoted(s)));
        return;
    }
    c.server.socket_mode = static_cast<mode_t>(std::stoul(s, nullptr, 8));
}

void set_user(const Value& v, Config& c, Complaints& out) {
    // POSIX portable user names, plus what Debian allows; nothing that could confuse getpwnam.
    const bool ok = std::all_of(v.string.begin(), v.string.end(), [](char ch) {
        return is_label_char(ch) || ch == '.' || ch == '$';
    });
    if (!ok || (!v.string.empty() && v.string.front() == '-')) {
        out.add(v.where, fmt::format("bad user name {}", quoted(v.string)));
        return;
    }
    c.server.user = v.string;
}

void set_nameservers(const Value& v, Config& c, Complaints& out) {
    std::vector<NameServer> list;
    for (const auto& item : v.items) {
        auto parsed = parse_nameserver(item.string);
        if (auto* err = std::get_if<std::string>(&parsed)) {
            out.add(item.where, fmt::format("bad nameserver {}: {}", quoted(item.string), *err));
            continue;
        }
        auto& ns = std::get<NameServer>(parsed);
        const bool dup = std::any_of(list.begin(), list.end(), [&](const NameServer& n) {
            return n.address == ns.address && n.port == ns.port;
        });
        if (dup) {
            out.add(item.where, fmt::format("{} is listed twice", quoted(item.string)));
            continue;
        }
        list.push_back(std::move(ns));
    }
    c.dns.nameservers = std::move(list);
}

void set_log_to(const Value& v, Config& c, Complaints& out) {
    if (v.string == "syslog") {
        c.log.to = LogConfig::Sink::Syslog;
    } else if (v.string == "stderr") {
        c.log.to = LogConfig::Sink::Stderr;
    } else {
        out.add(v.where, fmt::format("bad log destination {} (want \"syslog\" or \"stderr\")", quoted(v.string)));
    }
}

struct Facility {
    std::string_view name;
    int value;
};
constexpr std::array<Facility, 11> facilities{{
    {"mail", LOG_MAIL}, {"daemon", LOG_DAEMON}, {"user", LOG_USER},
    {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
    {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
}};

void set_facility(const Value& v, Config& c, Complaints& out) {
    const auto* f = std::find_if(facilities.begin(), facilities.end(), [&](const Facility& f) { return f.name == v.string; });
    if (f == facilities.end()) {
        out.add(v.where, fmt::format("unknown syslog facility {} (want mail, daemon, user or local0..local7)",
                                     quoted(v.string)));
        return;
    }
    c.log.facility = f->value;
    c.log.facility_name = std::string(f->name);
}

void set_level(const Value& v, Config& c, Complaints& out) {
    if (v.string == "info") {
        c.log.level = LogConfig::Level::Info;
    } else if (v.string == "debug") {
        c.log.level = LogConfig::Level::Debug;
    } else {
        out.add(v.where, fmt::format("bad log level {} (want \"info\" or \"debug\")", quoted(v.string)));
    }
}

void set_metrics_listen(const Value& v, Config& c, Complaints& out) {
    if (v.string.empty()) {
        c.metrics.listen.reset();
        return;
    }
    auto parsed = parse_listen_reason(v.string);
    if (auto* err = std::get_if<std::string>(&parsed)) {
        out.add(v.where, fmt::format("bad listen address {}: {}", quoted(v.string), *err));
        return;
    }
    c.metrics.listen = std::get<ListenAddress>(std::move(parsed));
}

void set_header_name(const Value& v, Config& c, Complaints& out) {
    // RFC 5322 2.2: field-name = 1*ftext, printable US-ASCII except ':'. A header we add should
    // also stay short enough to fold nowhere.
    const bool ok = !v.string.empty() && v.string.size() <= 64 &&
                    std::all_of(v.string.begin(), v.string.end(), [](char ch) {
                        const auto u = static_cast<unsigned char>(ch);
                        return u >= 33 && u <= 126 && ch != ':';
                    });
    if (!ok) {
        out.add(v.where, fmt::format("bad header name {} (want printable ASCII without ':' or spaces, "
                                     "at most 64 characters, e.g. \"X-Reverse-Lookup\")",
                                     quoted(v.string)));
        return;
    }
    c.headers.name = v.string;
}

void set_preset(const Value& v, Config& c, Complaints& out) {
    if (v.string != "postfix") {
        out.add(v.where, fmt::format("unknown preset {} (the only preset is \"postfix\")", quoted(v.string)));
        return;
    }
    c.preset_postfix = true;
}

// The top-level rows apply to Config itself; these member pointers let the templates above
// treat every section alike.
constexpr auto server = &Config::server;
constexpr auto dns = &Config::dns;
constexpr auto headers = &Config::headers;
constexpr auto client = &Config::client;
constexpr auto helo = &Config::helo;
constexpr auto sender = &Config::sender;
constexpr auto allowlist = &Config::allowlist;

constexpr std::string_view hint_duration = "a duration string like \"2s\"";
constexpr std::string_view hint_action = "an action string like \"DUNNO\"";
constexpr std::string_view hint_strings = "an array of strings";

using VT = ValueType;

// SPEC §2, in its order. The defaults are the spec's, written as TOML.
const Setting table[] = {
    {"", "preset", VT::String, "", set_preset, "the string \"postfix\""},

    {"server", "listen", VT::StringArray, R"(["unix:/var/spool/postfix/private/reverse-policyd"])", set_listen, hint_strings},
    {"server", "socket_mode", VT::String, R"("0666")", set_socket_mode, "an octal string like \"0666\""},
    {"server", "allow", VT::StringArray, R"(["127.0.0.0/8", "::1/128"])", set_cidrs<server, &ServerConfig::allow>, hint_strings},
    {"server", "max_connections", VT::Integer, "4096", set_integer<server, &ServerConfig::max_connections, 1, 1'000'000>, "an integer"},
    {"server", "idle_timeout", VT::String, R"("300s")", set_duration<server, &ServerConfig::idle_timeout, second, day>, hint_duration},
    {"server", "request_deadline", VT::String, R"("10s")", set_duration<server, &ServerConfig::request_deadline, 1, hour>, hint_duration},
    {"server", "user", VT::String, R"("")", set_user, "a user name"},

    {"dns", "nameservers", VT::StringArray, "[]", set_nameservers, hint_strings},
    {"dns", "timeout", VT::String, R"("2s")", set_duration<dns, &DnsConfig::timeout, 1, minute>, hint_duration},
    {"dns", "attempts", VT::Integer, "2", set_integer<dns, &DnsConfig::attempts, 1, 10>, "an integer"},
    {"dns", "max_inflight", VT::Integer, "1024", set_integer<dns, &DnsConfig::max_inflight, 1, 1'000'000>, "an integer"},
    {"dns", "cache_entries", VT::Integer, "100000", set_integer<dns, &DnsConfig::cache_entries, 1, 100'000'000>, "an integer"},
    {"dns", "max_ttl", VT::String, R"("1d")", set_duration<dns, &DnsConfig::max_ttl, 0, 7 * day>, hint_duration},
    {"dns", "negative_ttl", VT::String, R"("1h")", set_duration<dns, &DnsConfig::negative_ttl, 0, 7 * day>, hint_duration},
    {"dns", "tempfail_ttl", VT::String, R"("30s")", set_duration<dns, &DnsConfig::tempfail_ttl, 0, hour>, hint_duration},
    {"dns", "max_ptr_names", VT::Integer, "10", set_integer<dns, &DnsConfig::max_ptr_names, 1, 100>, "an integer"},
    {"dns", "max_mx_hosts", VT::Integer, "10", set_integer<dns, &DnsConfig::max_mx_hosts, 1, 100>, "an integer"},

    {"log", "to", VT::String, R"("syslog")", set_log_to, "\"syslog\" or \"stderr\""},
    {"log", "facility", VT::String, R"("mail")", set_facility, "a facility name like \"mail\""},
    {"log", "level", VT::String, R"("info")", set_level, "\"info\" or \"debug\""},

    {"metrics", "listen", VT::String, R"("")", set_metrics_listen, "a listen string like \"inet:127.0.0.1:9425\""},

    {"allowlist", "clients", VT::StringArray, "[]", set_cidrs<allowlist, &AllowlistConfig::clients>, hint_strings},
    {"allowlist", "client_names", VT::StringArray, "[]", set_name_patterns<allowlist, &AllowlistConfig::client_names>, hint_strings},
    {"allowlist", "helo_names", VT::StringArray, "[]", set_name_patterns<allowlist, &AllowlistConfig::helo_names>, hint_strings},
    {"allowlist", "senders", VT::StringArray, "[]", set_sender_patterns<allowlist, &AllowlistConfig::senders>, hint_strings},

    {"headers", "warning", VT::Bool, "true", set_bool<headers, &HeadersConfig::warning>, "true or false"},
    {"headers", "name", VT::String, R"("X-Reverse-Lookup")", set_header_name, "a header name string"},

    {"client", "lookup", VT::Bool, "true", set_bool<client, &CheckCommon::lookup>, "true or false"},
    {"client", "no_ptr", VT::String, R"("DUNNO")", set_action<client, &ClientConfig::no_ptr>, hint_action},
    {"client", "mismatch", VT::String, R"("DUNNO")", set_action<client, &ClientConfig::mismatch>, hint_action},
    {"client", "tempfail", VT::String, R"("auto")", set_tempfail<client>, hint_action},
    {"client", "exempt_authenticated", VT::Bool, "false", set_bool<client, &CheckCommon::exempt_authenticated>, "true or false"},
    {"client", "exempt_allowlisted", VT::Bool, "false", set_bool<client, &CheckCommon::exempt_allowlisted>, "true or false"},

    {"helo", "lookup", VT::Bool, "true", set_bool<helo, &CheckCommon::lookup>, "true or false"},
    {"helo", "invalid", VT::String, R"("DUNNO")", set_action<helo, &HeloConfig::invalid>, hint_action},
    {"helo", "non_fqdn", VT::String, R"("DUNNO")", set_action<helo, &HeloConfig::non_fqdn>, hint_action},
    {"helo", "not_found", VT::String, R"("DUNNO")", set_action<helo, &HeloConfig::not_found>, hint_action},
    {"helo", "forged", VT::String, R"("DUNNO")", set_action<helo, &HeloConfig::forged>, hint_action},
    {"helo", "tempfail", VT::String, R"("auto")", set_tempfail<helo>, hint_action},
    {"helo", "exempt_authenticated", VT::Bool, "false", set_bool<helo, &CheckCommon::exempt_authenticated>, "true or false"},
    {"helo", "exempt_allowlisted", VT::Bool, "false", set_bool<helo, &CheckCommon::exempt_allowlisted>, "true or false"},

    {"sender", "lookup", VT::Bool, "true", set_bool<sender, &CheckCommon::lookup>, "true or false"},
    {"sender", "not_found", VT::String, R"("451 4.1.8 Sender domain {sender_domain} not found")", set_action<sender, &SenderConfig::not_found>, hint_action},
    {"sender", "null_mx", VT::String, R"("DUNNO")", set_action<sender, &SenderConfig::null_mx>, hint_action},
    {"sender", "forged", VT::String, R"("DUNNO")", set_action<sender, &SenderConfig::forged>, hint_action},
    {"sender", "tempfail", VT::String, R"("auto")", set_tempfail<sender>, hint_action},
    {"sender", "exempt_authenticated", VT::Bool, "true", set_bool<sender, &CheckCommon::exempt_authenticated>, "true or false"},
    {"sender", "exempt_allowlisted", VT::Bool, "true", set_bool<sender, &CheckCommon::exempt_allowlisted>, "true or false"},
};

// SPEC §2's preset table: Postfix 3.7's own reject_unknown_* replies. client.tempfail stays
// "auto": the decision engine words it from the no_ptr or mismatch text (Config::preset_postfix).
const PresetValue preset_table[] = {
    {"client", "no_ptr", R"("450 4.7.1 cannot find your reverse hostname, [{client_address}]")"},
    {"client", "mismatch", R"("450 4.7.25 cannot find your hostname, [{client_address}]")"},
    {"client", "exempt_authenticated", "false"},
    {"client", "exempt_allowlisted", "false"},
    {"helo", "invalid", R"("501 5.5.2 Invalid name")"},
    {"helo", "non_fqdn", R"("504 5.5.2 need fully-qualified hostname")"},
    {"helo", "not_found", R"("450 4.7.1 Host not found")"},
    {"helo", "forged", R"("DUNNO")"},
    {"helo", "tempfail", R"("DEFER_IF_PERMIT 4.7.1 Host not found")"},
    {"helo", "exempt_authenticated", "false"},
    {"helo", "exempt_allowlisted", "false"},
    {"sender", "not_found", R"("450 4.1.8 Domain not found")"},
    {"sender", "null_mx", R"~("550 5.7.27 Domain {sender_domain} does not accept mail (nullMX)")~"},
    {"sender", "forged", R"("DUNNO")"},
    {"sender", "tempfail", R"("DEFER_IF_PERMIT 4.1.8 Domain not found")"},
    {"sender", "exempt_authenticated", "false"},
    {"sender", "exempt_allowlisted", "false"},
    {"headers", "warning", "false"},
};

}  // namespace

std::span<const Setting> settings() { return table; }

std::span<const PresetValue> postfix_preset() { return preset_table; }

std::variant<ListenAddress, std::string> parse_listen_reason(std::string_view text) {
    ListenAddress addr;
    addr.text = std::string(text);
    if (text.starts_with("unix:")) {
        const auto path = text.substr(5);
        if (path.empty()) return "missing socket path after \"unix:\""s;
        if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
            return fmt::format("socket path longer than {} bytes", sizeof(sockaddr_un{}.sun_path) - 1);
        }
        if (std::any_of(path.begin(), path.end(), [](char c) { return static_cast<unsigned char>(c) < 32; })) {
            return "control character in socket path"s;
        }
        addr.kind = ListenAddress::Kind::Unix;
        addr.path = std::string(path);
        return addr;
    }
    if (text.starts_with("inet:")) {
        const auto rest = text.substr(5);
        if (rest.empty()) return "missing HOST:PORT after \"inet:\""s;
        auto parsed = parse_host_port(rest, false);
        if (auto* err = std::get_if<std::string>(&parsed)) return std::move(*err);
        const auto& hp = std::get<HostPort>(parsed);
        addr.kind = ListenAddress::Kind::Inet;
        addr.host = hp.address.to_string();
        addr.port = *hp.port;
        return addr;
    }
    return "want \"unix:/path\", \"inet:127.0.0.1:10040\" or \"inet:[::1]:10040\""s;
}

std::optional<ListenAddress> parse_listen(std::string_view text) {
    auto parsed = parse_listen_reason(text);
    if (auto* addr = std::get_if<ListenAddress>(&parsed)) return std::move(*addr);
    return std::nullopt;
}

std::variant<NameServer, std::string> parse_nameserver(std::string_view text) {
    if (text.empty()) return "empty"s;
    auto parsed = parse_host_port(text, true);
    if (auto* err = std::get_if<std::string>(&parsed)) return std::move(*err);
    const auto& hp = std::get<HostPort>(parsed);
    NameServer ns;
    ns.address = hp.address;
    ns.port = hp.port.value_or(53);
    ns.text = hp.address.is_v4() ? fmt::format("{}:{}", hp.address.to_string(), ns.port)
                                 : fmt::format("[{}]:{}", hp.address.to_string(), ns.port);
    return ns;
}

bool is_valid_name_pattern(std::string_view text) {
    if (text.starts_with('.')) text.remove_prefix(1);
    if (text.size() > 1 && text.ends_with('.')) text.remove_suffix(1);
    return is_valid_hostname(text);
}

bool is_valid_sender_pattern(std::string_view text) {
    if (text.starts_with('.')) return is_valid_name_pattern(text);
    const auto at = text.rfind('@');
    if (at == std::string_view::npos) return false;
    const auto local = text.substr(0, at);
    const bool local_ok = std::all_of(local.begin(), local.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 32 && u < 127 && c != '@';
    });
    const auto domain = text.substr(at + 1);
    return local_ok && !domain.starts_with('.') && is_valid_name_pattern(domain);
}

}  // namespace rpd::config
