#include "policy/parser.hpp"

#include <fmt/format.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <bit>
#include <cstdint>
#include <cstring>
#include <utility>

namespace rpd::policy {

namespace {

constexpr std::size_t npos = std::string_view::npos;

// What a line's scan stops at: LF, CR, TAB and every other control byte, DEL, '='.
constexpr bool is_special(unsigned char c) noexcept { return c < 0x20 || c == 0x7f || c == '='; }

// Bit i set when byte i of the 16 at `p` is_special(). SSE2 (every x86-64) compares all
// 16 at once; elsewhere byte by byte, the same answer.
std::uint32_t special_bits(const char* p) noexcept {
#if defined(__SSE2__)
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // Unsigned v <= 0x1f: saturating subtraction leaves 0 exactly then.
    const __m128i control = _mm_cmpeq_epi8(_mm_subs_epu8(v, _mm_set1_epi8(0x1f)), _mm_setzero_si128());
    const __m128i del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f));
    const __m128i equals = _mm_cmpeq_epi8(v, _mm_set1_epi8('='));
    return static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_or_si128(control, _mm_or_si128(del, equals))));
#else
    std::uint32_t bits = 0;
    for (unsigned i = 0; i < 16; ++i) {
        if (is_special(static_cast<unsigned char>(p[i]))) bits |= 1U << i;
    }
    return bits;
#endif
}

}  // namespace

// Every line of every request passes here: one pass, 16 bytes at a time, finds its end,
// its first '=' and its first forbidden byte (before: memchr for the LF, a check for
// control bytes, memchr for the '='; two library calls per line).
Parser::LineScan Parser::scan_line(std::string_view bytes) noexcept {
    LineScan scan{npos, npos, npos};
    // True at the line's end.
    const auto note = [&scan](char c, std::size_t at) {
        if (c == '\n') {
            scan.end = at;
            return true;
        }
        if (c == '=') {
            if (scan.equals == npos) scan.equals = at;
        } else if (c != '\t' && scan.forbidden == npos) {
            scan.forbidden = at;   // TAB is tolerated inside values; CR only right before LF
        }
        return false;
    };
    std::size_t block = 0;
    for (; block + 16 <= bytes.size(); block += 16) {
        for (auto bits = special_bits(bytes.data() + block); bits != 0; bits &= bits - 1) {
            const auto at = block + static_cast<std::size_t>(std::countr_zero(bits));
            if (note(bytes[at], at)) return scan;
        }
    }
    for (auto at = block; at < bytes.size(); ++at) {
        if (is_special(static_cast<unsigned char>(bytes[at])) && note(bytes[at], at)) return scan;
    }
    return scan;
}

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
        // A line read in place is scanned once here; one completing a held part is
        // scanned whole once complete.
        LineScan scan{npos, npos, npos};
        std::size_t len = npos;
        if (partial_.empty()) {
            scan = scan_line(input);
            len = scan.end;
        } else if (const auto* nl = static_cast<const char*>(std::memchr(input.data(), '\n', input.size()))) {
            len = static_cast<std::size_t>(nl - input.data());
        }
        if (len == npos) {
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
        Status status;
        if (partial_.empty()) {
            status = take_line(input.substr(0, len), scan, request);
        } else {
            if (partial_.size() + len > limits_.max_line + 1) {
                return fail(ParseError::Kind::LineTooLong, limits_.max_line);
            }
            partial_.append(input.data(), len);
            status = take_line(partial_, scan_line(partial_), request);
            partial_.clear();
        }
        input.remove_prefix(len + 1);
        if (status != Status::NeedMore) return status;
    }
    return Status::NeedMore;
}

Parser::Status Parser::take_line(std::string_view line, const LineScan& scan, Request& request) {
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
    // A CR just stripped can only have been the first forbidden byte: it lies past the
    // line now.
    if (scan.forbidden < line.size()) {
        return fail(ParseError::Kind::Binary, static_cast<unsigned char>(line[scan.forbidden]));
    }
    if (scan.equals == npos) return fail(ParseError::Kind::NoEquals);
    if (scan.equals == 0) return fail(ParseError::Kind::EmptyName);
    request.set(line.substr(0, scan.equals), line.substr(scan.equals + 1));
    ++lines_;
    return Status::NeedMore;
}

Parser::Status Parser::finish() {
    if (failed_) return Status::Error;
    if (mid_request()) return fail(ParseError::Kind::EofMidRequest);
    return Status::NeedMore;
}

}  // namespace rpd::policy
