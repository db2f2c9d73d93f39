// lib/log/sanitize.hpp -- make a DNS- or client-supplied value safe for a reply or a log line.
//
// Every byte outside printable ASCII (controls, CR, LF, DEL, 8-bit) becomes '?', as
// Postfix's printable() does, and the result is capped at `max_len` bytes (a cut value
// ends in "..."). The output can never break the policy protocol's one-line framing.
#pragma once

#include <string>
#include <string_view>

namespace rpd::log {

inline constexpr std::size_t default_sanitize_len = 255;

std::string sanitize(std::string_view value, std::size_t max_len = default_sanitize_len);
// The same, appended to `out`: no temporary string (log lines are built this way).
void append_sanitized(std::string& out, std::string_view value, std::size_t max_len = default_sanitize_len);

}  // namespace rpd::log
