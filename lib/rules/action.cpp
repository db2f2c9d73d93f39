#include "rules/action.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "log/sanitize.hpp"

namespace rpd::rules {

namespace {

constexpr std::array<std::string_view, 11> known_placeholders{
    "client_address", "client_name", "ptr_names", "helo_name", "sender", "sender_domain",
    "recipient",      "queue_id",    "check",     "outcome",   "detail",
};

// An admin's word quoted back in a message: printable and short, however long the input.
std::string excerpt(std::string_view word) { return log::sanitize(word, 40); }

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
           });
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Splits "WORD rest" at the first blank; rest comes back without leading blanks.
std::pair<std::string_view, std::string_view> split_word(std::string_view s) {
    std::size_t end = 0;
    while (end < s.size() && !is_blank(s[end])) ++end;
    return {s.substr(0, end), trim(s.substr(end))};
}

// Every "{name}" must be a known placeholder; a "{" must be closed on the same line.
std::optional<std::string> check_placeholders(std::string_view text) {
    for (std::size_t open = text.find('{'); open != std::string_view::npos; open = text.find('{', open + 1)) {
        const auto close = text.find('}', open + 1);
        if (close == std::string_view::npos) return "unterminated placeholder: '{' without '}'";
        const auto name = text.substr(open + 1, close - open - 1);
        if (name.find('{') != std::string_view::npos) return "unterminated placeholder: '{' without '}'";
        if (!is_known_placeholder(name)) return "unknown placeholder {" + excerpt(name) + "}";
        open = close;
    }
    return std::nullopt;
}

// RFC 3463 enhanced status code: class "." subject "." detail, subject and detail 1*3DIGIT.
// Returns the class digit, or 0 when `word` is not shaped like one.
char enhanced_code_class(std::string_view word) {
    if (word.size() < 5 || (word[0] != '2' && word[0] != '4' && word[0] != '5') || word[1] != '.') return 0;
    std::size_t i = 2;
    for (int part = 0; part < 2; ++part) {
        std::size_t digits = 0;
        while (i < word.size() && is_digit(word[i])) ++i, ++digits;
        if (digits < 1 || digits > 3) return 0;
        if (part == 0) {
            if (i >= word.size() || word[i] != '.') return 0;
            ++i;
        }
    }
    return i == word.size() ? word[0] : 0;
}

// A word that starts like "4.7" or "5." is meant as an enhanced code; a malformed one is an error
// rather than text, since Postfix would send it as the first word of the reply text.
bool looks_like_enhanced_code(std::string_view word) {
    return word.size() >= 2 && is_digit(word[0]) && word[1] == '.';
}

// Checks an optional leading enhanced code in `text` against the reply class `want`
// ('4' or '5'). Returns an error message, or nullopt.
std::optional<std::string> check_enhanced_code(std::string_view text, char want, std::string_view what) {
    const auto [first, rest] = split_word(text);
    (void)rest;
    if (!looks_like_enhanced_code(first)) return std::nullopt;
    const char cls = enhanced_code_class(first);
    if (cls == 0) return "malformed enhanced status code '" + excerpt(first) + "' (want x.y.z, RFC 3463)";
    if (cls != want) {
        return "enhanced status code " + std::string(first) + " does not agree with " + std::string(what) +
               " (want " + want + ".x.x)";
    }
    return std::nullopt;
}

// RFC 5322 field-name: printable US-ASCII except ':'.
bool is_header_name(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u >= 33 && u <= 126 && c != ':';
    });
}

struct Word {
    std::string_view name;
    ActionKind kind;
    Severity severity;
    enum class Text : std::uint8_t { None, Optional, Required } text;
    char dsn_class;   // '4' or '5' when an optional leading enhanced code must agree, else 0
};

constexpr std::array<Word, 13> words{{
    {"OK", ActionKind::Ok, Severity::Ok, Word::Text::None, 0},
    {"DUNNO", ActionKind::Dunno, Severity::Dunno, Word::Text::None, 0},
    {"REJECT", ActionKind::Reject, Severity::Reject, Word::Text::Optional, '5'},
    {"DEFER", ActionKind::Defer, Severity::Defer, Word::Text::Optional, '4'},
    {"DEFER_IF_PERMIT", ActionKind::DeferIfPermit, Severity::DeferIfPermit, Word::Text::Optional, '4'},
    {"DEFER_IF_REJECT", ActionKind::DeferIfReject, Severity::DeferIfReject, Word::Text::Optional, '4'},
    {"WARN", ActionKind::Warn, Severity::Warn, Word::Text::Optional, 0},
    {"PREPEND", ActionKind::Prepend, Severity::Prepend, Word::Text::Required, 0},
    {"HOLD", ActionKind::Hold, Severity::Divert, Word::Text::Optional, 0},
    {"DISCARD", ActionKind::Discard, Severity::Divert, Word::Text::Optional, 0},
    {"FILTER", ActionKind::Filter, Severity::Divert, Word::Text::Required, 0},
    {"REDIRECT", ActionKind::Redirect, Severity::Divert, Word::Text::Required, 0},
    {"INFO", ActionKind::Info, Severity::Info, Word::Text::Optional, 0},
}};

std::variant<Action, std::string> parse_code(std::string_view word, std::string_view rest) {
    // RFC 5321 4.2: three digits, the second 0..5. Only 4NN and 5NN are actions; Postfix
    // would take 2NN as OK-ish and anything else as garbage.
    const bool shaped = word.size() == 3 && std::all_of(word.begin(), word.end(), is_digit);
    if (!shaped) return "unknown action '" + excerpt(word) + "'";
    if (word[0] != '4' && word[0] != '5') {
        return "reply code " + std::string(word) + " is not allowed: only 4NN (defer) and 5NN (reject)";
    }
    if (word[1] > '5') return "reply code " + std::string(word) + " is not a valid SMTP code (RFC 5321)";
    if (rest.empty()) {
        return "reply code " + std::string(word) + " without text: Postfix takes a bare code as OK";
    }
    const auto [first, after] = split_word(rest);
    if (looks_like_enhanced_code(first)) {
        if (auto err = check_enhanced_code(rest, word[0], "reply code " + std::string(word))) return *err;
        if (after.empty()) {
            return "reply code " + std::string(word) + " " + std::string(first) +
                   " without text: Postfix takes a bare code as OK";
        }
    }
    Action action;
    action.kind = ActionKind::Code;
    action.code = (word[0] - '0') * 100 + (word[1] - '0') * 10 + (word[2] - '0');
    action.severity = word[0] == '5' ? Severity::Reject : Severity::Defer;
    return action;
}

}  // namespace

bool is_known_placeholder(std::string_view name) noexcept {
    return std::find(known_placeholders.begin(), known_placeholders.end(), name) != known_placeholders.end();
}

std::variant<Action, std::string> parse_action(std::string_view text) {
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 32 && c != '\t') || u == 127) {
            return "control character in action: a reply is one line of text";
        }
    }
    const auto trimmed = trim(text);
    if (trimmed.empty()) return "an empty action is taken by Postfix as OK";
    const auto [word, rest] = split_word(trimmed);

    Action action;
    if (is_digit(word.front())) {
        auto coded = parse_code(word, rest);
        if (auto* err = std::get_if<std::string>(&coded)) return std::move(*err);
        action = std::get<Action>(coded);
    } else {
        const auto* w = std::find_if(words.begin(), words.end(), [&](const Word& w) { return iequals(w.name, word); });
        if (w == words.end()) return "unknown action '" + excerpt(word) + "'";
        const std::string name(w->name);
        if (w->text == Word::Text::None && !rest.empty()) return name + " takes no text";
        if (w->text == Word::Text::Required && rest.empty()) return name + " needs an argument";
        if (w->dsn_class != 0) {
            if (auto err = check_enhanced_code(rest, w->dsn_class, name)) return *err;
        }
        switch (w->kind) {
        case ActionKind::Prepend: {
            const auto colon = rest.find(':');
            if (colon == std::string_view::npos || !is_header_name(rest.substr(0, colon))) {
                return "PREPEND needs a header \"Name: value\" (RFC 5322 field name, then ':')";
            }
            break;
        }
        case ActionKind::Filter: {
            const auto colon = rest.find(':');
            if (colon == std::string_view::npos || colon == 0 || rest.find_first_of(" \t") != std::string_view::npos) {
                return "FILTER needs transport:destination";
            }
            break;
        }
        case ActionKind::Redirect: {
            const auto at = rest.rfind('@');
            if (at == std::string_view::npos || at + 1 == rest.size() ||
                rest.find_first_of(" \t") != std::string_view::npos) {
                return "REDIRECT needs user@domain";
            }
            break;
        }
        case ActionKind::Ok: case ActionKind::Dunno: case ActionKind::Reject: case ActionKind::Defer:
        case ActionKind::DeferIfPermit: case ActionKind::DeferIfReject: case ActionKind::Code:
        case ActionKind::Warn: case ActionKind::Hold: case ActionKind::Discard: case ActionKind::Info:
            break;
        }
        action.kind = w->kind;
        action.severity = w->severity;
    }
    if (auto err = check_placeholders(trimmed)) return *err;

    // The action word in upper case, as Postfix documents it, so logs read alike.
    action.text.assign(trimmed);
    std::transform(action.text.begin(), action.text.begin() + static_cast<std::ptrdiff_t>(word.size()),
                   action.text.begin(), [](char c) { return static_cast<char>(std::toupper(static_cast<unsigned char>(c))); });
    return action;
}

}  // namespace rpd::rules
