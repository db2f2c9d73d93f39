// lib/dns/nameservers.hpp -- which servers to ask: [dns].nameservers, else /etc/resolv.conf.
//
// In: resolv.conf text (or its path). Out: the `nameserver` addresses in file order,
// port 53, or 127.0.0.1:53 when there are none (as glibc does). `search`, `domain` and
// `options` are ignored on purpose: names are always asked as absolute names (SPEC §6).
// Not here: parsing [dns].nameservers (lib/config did that).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace rpd::dns {

inline constexpr const char* resolv_conf_path = "/etc/resolv.conf";

// `nameserver ADDRESS` lines; comments ('#' or ';'), other keywords and addresses that
// are not plain IPv4/IPv6 (a link-local "fe80::1%eth0" needs a scope we do not carry)
// are skipped.
std::vector<config::NameServer> parse_resolv_conf(std::string_view text);

// The file at `path` parsed; an unreadable file gives the 127.0.0.1 default.
std::vector<config::NameServer> read_resolv_conf(const std::string& path = resolv_conf_path);

// The servers a resolver asks: cfg.nameservers if not empty, else read_resolv_conf(path).
std::vector<config::NameServer> effective_nameservers(const config::DnsConfig& cfg,
                                                      const std::string& path = resolv_conf_path);

// "127.0.0.1:53", "[::1]:5353".
std::string server_text(const util::IpAddress& address, std::uint16_t port);

// "192.0.2.53", "192.0.2.53:5353", "2001:db8::53", "[2001:db8::53]", "[::1]:5353" as a
// server; port 53 unless given. nullopt for anything else (a host name: nothing here
// resolves names to find the resolver), a port of 0 or over 65535.
std::optional<config::NameServer> parse_nameserver(std::string_view text);

}  // namespace rpd::dns
