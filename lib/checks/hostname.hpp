// lib/checks/hostname.hpp -- host name and address literal syntax, as Postfix judges it.
//
// valid_hostname() follows Postfix's valid_hostname(): labels of letters, digits,
// hyphens and (tolerated, as Postfix does) underscores; no hyphen at either end of a
// label; 1..63 bytes per label, at most 253 in all; not all-numeric ("192.0.2.28").
// Anything else -- a backslash escape from ldns (\DDD, \.), a space, a control or 8-bit
// byte, an empty label -- is invalid. The caller strips one trailing dot first
// (strip_trailing_dot, as Postfix's dup_if_truncate: "a.b." -> "a.b", "a.." stays).
// Pure: no DNS here.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "util/ip.hpp"

namespace rpd::checks {

inline constexpr std::size_t max_label_length = 63;
inline constexpr std::size_t max_hostname_length = 253;

bool valid_hostname(std::string_view name) noexcept;
std::string_view strip_trailing_dot(std::string_view name) noexcept;
std::string to_lower(std::string_view text);
bool is_ascii(std::string_view text) noexcept;
bool equal_names(std::string_view a, std::string_view b) noexcept;   // ASCII case-insensitive

// RFC 5321 §4.1.3 address literals: "[192.0.2.1]" and "[IPv6:2001:db8::1]" (the tag is
// case-insensitive). A text that does not start with '[' is not a literal. A literal
// whose inside is neither form (including "[::1]" without the tag, and other tags) is
// malformed: `address` is empty.
struct AddressLiteral {
    bool is_literal = false;
    std::optional<util::IpAddress> address;
};
AddressLiteral parse_address_literal(std::string_view text);

}  // namespace rpd::checks
