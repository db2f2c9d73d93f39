// lib/rules/action.hpp -- an access(5) action as a policy server may return it.
//
// In: the text an admin wrote ("REJECT", "450 4.7.1 text {client_address}",
// "PREPEND X-Foo: bar", ...). Out: an Action (its kind, its severity and its text as a
// template) or a message saying what Postfix would misread. Pure: no I/O.
// Not here: which outcome maps to which action (config), which action wins (decision).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace rpd::rules {

enum class ActionKind : std::uint8_t {
    Ok, Dunno, Reject, Defer, DeferIfPermit, DeferIfReject,
    Code,   // "4NN text" / "5NN text", with optional enhanced code x.y.z
    Warn, Prepend, Hold, Discard, Filter, Redirect, Info,
};

// Most severe first (SPEC §4): 521/5NN/REJECT, 421/4NN/DEFER, DEFER_IF_PERMIT,
// DEFER_IF_REJECT, HOLD/DISCARD/FILTER/REDIRECT, PREPEND, WARN, then the rest.
enum class Severity : std::uint8_t {
    Dunno = 0, Info, Ok, Warn, Prepend, Divert, DeferIfReject, DeferIfPermit, Defer, Reject,
};

struct Action {
    ActionKind kind = ActionKind::Dunno;
    Severity severity = Severity::Dunno;
    int code = 0;             // 4NN/5NN for Code, else 0
    std::string text;         // the whole action as written, placeholders unexpanded

    // True when Postfix would reject or defer with it (Reject, Defer, DeferIf*, 4NN, 5NN).
    bool rejects_or_defers() const noexcept { return severity >= Severity::DeferIfReject; }
    bool is_permanent() const noexcept { return severity == Severity::Reject; }
    // 421/521: Postfix disconnects after the reply.
    bool disconnects() const noexcept { return code == 421 || code == 521; }
};

// Known placeholders: {client_address} {client_name} {ptr_names} {helo_name} {sender}
// {sender_domain} {recipient} {queue_id} {check} {outcome} {detail}.
bool is_known_placeholder(std::string_view name) noexcept;

// Validates `text` and returns the Action, or a one-line error message (no position:
// the config loader adds FILE:LINE:COL). Refused: empty text, unknown action word,
// 4NN/5NN without text, a code outside 4NN/5NN, an enhanced code whose class differs
// from the code's (450 5.1.1), PREPEND without a valid "Name: value" header, unknown or
// unterminated placeholders.
std::variant<Action, std::string> parse_action(std::string_view text);

}  // namespace rpd::rules
