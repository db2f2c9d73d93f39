#include "policy/parser.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <utility>

namespace rpd::policy {

namespace {

// TAB is tolerated inside values; CR only right before LF (stripped by the caller).
constexpr bool is_forbidden(unsigned char c) noexcept { return (c < 0x20 && c != '\t') || c == 0x7f; }

// True when no byte is below 0x20 or 0x7f (so none is forbidden; false may still be
// fine: a tab). Word at a time: "has a byte less than n" and "has a zero byte" tricks.
bool plain_text(std::string_view s) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        std::uint64_t w;
        std::memcpy(&w, s.data() + i, 8);
        const std::uint64_t below_space = (w - ones * 0x20) & ~w & highs;
        const std::uint64_t del = w ^ (ones * 0x7f);
        const std::uint64_t is_del = (del - ones) & ~del & highs;
        if ((below_space | is_del) != 0) return false;
    }
    for (; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f) return false;
    }
    return true;
}

}  // namespace

std::string_view to_string(ParseError::Kind kind) noexcept {
    switch (kind) {
    case ParseError::Kind::LineTooLong: return "line_too_long";
    case ParseError::Kind::RequestTooLong: return "request_too_long";
    case ParseError::Kind::TooManyAttributes: return "too_many_attributes";
    case ParseError::Kind::NoEquals: return "no_equals";
    case ParseError::Kind::EmptyName: return "empty_name";
    case ParseError::Kind::Binary: return "binary";
    case ParseError::Kind::EofMidRequest: return "eof_mid_request";
    }
    return "unknown";
}

std::string ParseError::to_string() const {
    switch (kind) {
    case Kind::LineTooLong: return fmt::format("line {}: line longer than {} bytes", line, value);
    case Kind::RequestTooLong: return fmt::format("line {}: request longer than {} bytes", line, value);
    case Kind::TooManyAttributes: return fmt::format("line {}: more than {} attributes", line, value);
    case Kind::NoEquals: return fmt::format("line {}: no '=' in attribute line", line);
    case Kind::EmptyName: return fmt::format("line {}: attribute line without a name", line);
    case Kind::Binary: return fmt::format("line {}: binary data (byte 0x{:02x})", line, value);
    case Kind::EofMidRequest: return fmt::format("line {}: connection closed in the middle of a request", line);
    }
    return "malformed request";
}

Parser::Status Parser::fail(ParseError::Kind kind, std::size_t value) {
    failed_ = true;
    error_ = ParseError{kind, lines_ + 1, value};
    return Status::Error;
}

Parser::Status Parser::parse(std::string_view& input, Request& request) {
    if (failed_) return Status::Error;
    while (!input.empty()) {
        const auto* nl = static_cast<const char*>(std::memchr(input.data(), '\n', input.size()));
        if (nl == nullptr) {
            // An unfinished line: hold at most a full line plus a CR, and fail as soon as
            // the line or the request can no longer end within its limit.
            if (partial_.size() + input.size() > limits_.max_line + 1) {
                return fail(ParseError::Kind::LineTooLong, limits_.max_line);
            }
            // The shortest end: this line's LF, then (unless it is the blank line, a lone
            // CR so far) the blank line's LF.
            const auto held = partial_.size() + input.size();
            const bool blank_so_far = held == 1 && (partial_.empty() ? input[0] : partial_[0]) == '\r';
            if (request_bytes_ + held + (blank_so_far ? 1 : 2) > limits_.max_request) {
                return fail(ParseError::Kind::RequestTooLong, limits_.max_request);
            }
            partial_.append(input);
            input = {};
            return Status::NeedMore;
        }
        const auto len = static_cast<std::size_t>(nl - input.data());
        Status status;
        if (partial_.empty()) {
            status = take_line(input.substr(0, len), request);
        } else {
            if (partial_.size() + len > limits_.max_line + 1) {
                return fail(ParseError::Kind::LineTooLong, limits_.max_line);
            }
            partial_.append(input.data(), len);
            status = take_line(partial_, request);
            partial_.clear();
        }
        input.remove_prefix(len + 1);
        if (status != Status::NeedMore) return status;
    }
    return Status::NeedMore;
}

Parser::Status Parser::take_line(std::string_view line, Request& request) {
    if (request_bytes_ == 0) request.clear();   // a new request's first line
    request_bytes_ += line.size() + 1;
    if (request_bytes_ > limits_.max_request) return fail(ParseError::Kind::RequestTooLong, limits_.max_request);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > limits_.max_line) return fail(ParseError::Kind::LineTooLong, limits_.max_line);
    if (line.empty()) {
        request_bytes_ = 0;
        lines_ = 0;
        return Status::Complete;
    }
    if (lines_ >= limits_.max_attributes) {
        return fail(ParseError::Kind::TooManyAttributes, limits_.max_attributes);
    }
    // Every line of every request passes here: eight bytes at a time, then look closer
    // only when something may be wrong (a tab, which is allowed, also lands there).
    if (!plain_text(line)) {
        for (const char ch : line) {
            const auto c = static_cast<unsigned char>(ch);
            if (is_forbidden(c)) return fail(ParseError::Kind::Binary, c);
        }
    }
    const auto equals = line.find('=');
    if (equals == std::string_view::npos) return fail(ParseError::Kind::NoEquals);
    if (equals == 0) return fail(ParseError::Kind::EmptyName);
    request.set(line.substr(0, equals), line.substr(equals + 1));
    ++lines_;
    return Status::NeedMore;
}

Parser::Status Parser::finish() {
    if (failed_) return Status::Error;
    if (mid_request()) return fail(ParseError::Kind::EofMidRequest);
    return Status::NeedMore;
}

}  // namespace rpd::policy
