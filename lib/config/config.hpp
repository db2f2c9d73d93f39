// lib/config/config.hpp -- the TOML file (SPEC §2) as an immutable Config.
//
// In: a file path (or text, for tests). Out: a Config, or every ConfigError found, each
// with FILE:LINE:COL. One table defines each setting (key, type, default, validator),
// so unknown keys and wrong types are caught by the same code. No I/O but the read.
// On SIGHUP the server loads a new Config and keeps the old shared_ptr if it fails.
#pragma once

#include <sys/types.h>
#include <syslog.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "rules/action.hpp"
#include "util/duration.hpp"
#include "util/ip.hpp"

namespace rpd::config {

using util::Millis;

inline constexpr const char* default_path = "/etc/reverse-policyd.toml";

struct ListenAddress {
    enum class Kind : std::uint8_t { Unix, Inet } kind = Kind::Unix;
    std::string path;          // Unix
    std::string host;          // Inet: "127.0.0.1", "::1" (brackets removed)
    std::uint16_t port = 0;    // Inet
    std::string text;          // as written: "unix:/path", "inet:[::1]:10040"
};

struct ServerConfig {
    std::vector<ListenAddress> listen;   // default: unix:/var/spool/postfix/private/reverse-policyd
    mode_t socket_mode = 0666;
    std::vector<util::Cidr> allow;       // default: 127.0.0.0/8, ::1/128
    std::size_t max_connections = 4096;
    Millis idle_timeout{300'000};
    Millis request_deadline{10'000};
    std::string user;
};

struct NameServer {
    util::IpAddress address;
    std::uint16_t port = 53;
    std::string text;          // "127.0.0.1:5353", "[::1]:53"
};

struct DnsConfig {
    std::vector<NameServer> nameservers;   // empty = /etc/resolv.conf (read by lib/dns)
    Millis timeout{2'000};
    unsigned attempts = 2;
    std::size_t max_inflight = 1024;
    std::size_t cache_entries = 100'000;
    Millis max_ttl{86'400'000};
    Millis negative_ttl{3'600'000};
    Millis tempfail_ttl{30'000};
    unsigned max_ptr_names = 10;
    unsigned max_mx_hosts = 10;
};

struct LogConfig {
    enum class Sink : std::uint8_t { Syslog, Stderr } to = Sink::Syslog;
    int facility = LOG_MAIL;   // syslog.h facility value
    std::string facility_name = "mail";
    enum class Level : std::uint8_t { Info, Debug } level = Level::Info;
};

struct MetricsConfig {
    std::optional<ListenAddress> listen;   // "" = off
};

struct AllowlistConfig {
    std::vector<util::Cidr> clients;
    std::vector<std::string> client_names;   // lower-case; ".example.net" = suffix
    std::vector<std::string> helo_names;
    std::vector<std::string> senders;        // "user@example.org", "@example.org", ".example.org"
};

struct HeadersConfig {
    bool warning = true;
    std::string name = "X-Reverse-Lookup";
};

// One check's section. `tempfail` unset means "auto" (SPEC §2).
struct CheckCommon {
    bool lookup = true;
    std::optional<rules::Action> tempfail;
    bool exempt_authenticated = false;
    bool exempt_allowlisted = false;
};

struct ClientConfig : CheckCommon {
    rules::Action no_ptr;
    rules::Action mismatch;
};

struct HeloConfig : CheckCommon {
    rules::Action invalid;
    rules::Action non_fqdn;
    rules::Action not_found;
    rules::Action forged;
};

struct SenderConfig : CheckCommon {
    rules::Action not_found;
    rules::Action null_mx;
    rules::Action forged;
};

struct Config {
    std::string path;          // the file it came from
    bool preset_postfix = false;
    ServerConfig server;
    DnsConfig dns;
    LogConfig log;
    MetricsConfig metrics;
    AllowlistConfig allowlist;
    HeadersConfig headers;
    ClientConfig client;
    HeloConfig helo;
    SenderConfig sender;
};

struct ConfigError {
    std::string file;
    int line = 0;              // 1-based; 0 when the error has no position (file unreadable)
    int column = 0;
    std::string message;
    std::string to_string() const;   // "FILE:LINE:COL: message" (or "FILE: message")
};

using LoadResult = std::variant<std::shared_ptr<const Config>, std::vector<ConfigError>>;

LoadResult load_file(const std::string& path);
// `name` stands for the file name in error messages.
LoadResult load_string(std::string_view toml_text, const std::string& name);

// A parsed listen string ("unix:/path", "inet:127.0.0.1:10040", "inet:[::1]:10040").
std::optional<ListenAddress> parse_listen(std::string_view text);

}  // namespace rpd::config
