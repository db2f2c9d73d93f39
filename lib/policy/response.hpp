// lib/policy/response.hpp -- a decided action -> the policy protocol's reply.
//
// The reply is "action=" ACTION "\n\n". ACTION must be one line: control bytes (CR
// and LF above all) are dropped here as a last defence, so a bad action can never
// split the reply or smuggle a second one. An action that ends up empty is sent as
// DUNNO, because Postfix takes an empty action as OK (SPEC §2). No I/O.
#pragma once

#include <string>
#include <string_view>

namespace rpd::policy {

// Appends the reply for `action` to `out` (no allocation when `out` has room).
void append_response(std::string& out, std::string_view action);

std::string format_response(std::string_view action);

}  // namespace rpd::policy
