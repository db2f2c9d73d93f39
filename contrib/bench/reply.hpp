// contrib/bench/reply.hpp -- is this a well-formed policy reply, and which action?
//
// In: the bytes a server sent for one request, up to and including the first empty
// line. Postfix expects exactly `action=<text>\n\n` (SMTPD_POLICY_README): one
// attribute, one line of printable text, then the empty line. Anything else is a
// malformed reply with a reason: another attribute, an empty action (Postfix would
// take it as OK), CR or other control bytes, a missing terminator. Out: the action
// text and its first word (the histogram key: "DUNNO", "450", "PREPEND", ...).
// Not here: reading, framing across reads (load.cpp finds the empty line).
#pragma once

#include <string_view>

namespace rpd::bench {

enum class ReplyStatus {
    Ok,
    NoAction,        // does not start with "action="
    EmptyAction,     // "action=\n\n", or text starting with a blank
    ControlByte,     // CR, NUL, DEL or another control byte in the text
    ExtraLine,       // more than one line before the empty line
    NoTerminator,    // does not end in "\n\n"
};

constexpr std::string_view to_string(ReplyStatus s) noexcept {
    switch (s) {
    case ReplyStatus::Ok: return "ok";
    case ReplyStatus::NoAction: return "no action= attribute";
    case ReplyStatus::EmptyAction: return "empty action";
    case ReplyStatus::ControlByte: return "control byte in action";
    case ReplyStatus::ExtraLine: return "more than one line";
    case ReplyStatus::NoTerminator: return "no empty line after the action";
    }
    return "unknown";
}

struct Reply {
    ReplyStatus status = ReplyStatus::NoTerminator;
    std::string_view action;        // text after "action=", without the newline
    std::string_view first_word;    // up to the first space or tab
};

constexpr Reply check_reply(std::string_view bytes) noexcept {
    constexpr std::string_view prefix = "action=";
    Reply r;
    if (bytes.size() < 2 || bytes.substr(bytes.size() - 2) != "\n\n") {
        r.status = ReplyStatus::NoTerminator;
        return r;
    }
    if (!bytes.starts_with(prefix)) {
        r.status = ReplyStatus::NoAction;
        return r;
    }
    const std::string_view text = bytes.substr(prefix.size(), bytes.size() - prefix.size() - 2);
    if (text.empty()) {
        r.status = ReplyStatus::EmptyAction;
        return r;
    }
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '\n') {
            r.status = ReplyStatus::ExtraLine;
            return r;
        }
        if ((u < 0x20 && c != '\t') || u == 0x7f) {
            r.status = ReplyStatus::ControlByte;
            return r;
        }
    }
    r.status = ReplyStatus::Ok;
    r.action = text;
    r.first_word = text.substr(0, text.find_first_of(" \t"));
    if (r.first_word.empty()) r.status = ReplyStatus::EmptyAction;   // "action= DUNNO"
    return r;
}

}  // namespace rpd::bench
