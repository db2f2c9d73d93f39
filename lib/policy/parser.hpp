// lib/policy/parser.hpp -- bytes as they arrive -> complete policy Requests, or a ParseError.
//
// The Postfix policy delegation protocol (SMTPD_POLICY_README): "name=value" lines, a
// request ends with an empty line. Input may be split anywhere (one byte at a time
// included); complete lines are read in place from the caller's bytes, only an
// unfinished line is copied (at most max_line + 1 bytes). Lines end in "\n" (what
// Postfix sends) or "\r\n".
//
// Limits (SPEC §7), each counted so that exactly the limit is accepted:
//   a line is at most max_line bytes, its terminator not counted;
//   a request is at most max_request bytes, every terminator and the final empty line counted;
//   a request has at most max_attributes lines (known or not).
// Unknown attribute names are ignored; a repeated attribute keeps its last value.
// A blank line with no attribute before it is an empty request (answered like any other).
//
// The attributes go straight into a Request the caller passes (the parser keeps none):
// no copy of the finished request, and a caller that recycles Requests parses without
// allocating. The parser clears that Request as the next request's first line arrives.
//
// Errors are values. After the first error the parser stays failed: the caller logs
// ParseError::to_string() with the peer and closes that connection. Not here: reading
// sockets, answering, deciding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "policy/request.hpp"

namespace rpd::policy {

struct ParseLimits {
    std::size_t max_request = 64 * 1024;
    std::size_t max_line = 4 * 1024;
    std::size_t max_attributes = 256;
};

struct ParseError {
    enum class Kind : std::uint8_t {
        LineTooLong,         // a line longer than max_line
        RequestTooLong,      // a request longer than max_request
        TooManyAttributes,   // more than max_attributes lines in one request
        NoEquals,            // a line without '='
        EmptyName,           // a line starting with '='
        Binary,              // NUL or another control byte (TAB and CR before LF excepted)
        EofMidRequest,       // the peer closed the connection inside a request
    };
    Kind kind = Kind::NoEquals;
    std::size_t line = 0;    // 1-based line within the request where it happened
    std::size_t value = 0;   // Binary: the offending byte; *TooLong, TooMany*: the limit

    // One line for the log, e.g. "line 3: no '=' in attribute line".
    std::string to_string() const;
};

std::string_view to_string(ParseError::Kind kind) noexcept;   // "line_too_long", ...

class Parser {
public:
    enum class Status : std::uint8_t { NeedMore, Complete, Error };

    Parser() = default;
    explicit Parser(ParseLimits limits) : limits_(limits) {}

    // Consumes bytes from the front of `input` into `request` until a request is complete
    // (Complete: `request` holds it; the rest of `input` is left for the next call, which
    // starts on the next request), the input is used up (NeedMore: `input` is empty), or
    // the bytes are malformed (Error: see error()). Until Complete, every call must pass
    // the same Request: it holds the lines parsed so far. Its old contents are cleared
    // (memory kept) when a request's first line is taken.
    Status parse(std::string_view& input, Request& request);

    // The peer closed the connection: an error if a request was begun and not finished.
    // Returns Error or NeedMore (nothing pending).
    Status finish();

    const ParseError& error() const noexcept { return error_; }
    bool failed() const noexcept { return failed_; }
    // Bytes of an unfinished request are held (or were consumed into it).
    bool mid_request() const noexcept { return request_bytes_ > 0 || !partial_.empty(); }

private:
    // Offsets in a line's bytes (npos: none): its LF, its first '=', its first forbidden
    // byte (a control byte but TAB, or DEL; a CR counts: take_line() excuses one before
    // the LF). Only the bytes up to the first LF are looked at.
    struct LineScan {
        std::size_t end;
        std::size_t equals;
        std::size_t forbidden;
    };
    static LineScan scan_line(std::string_view bytes) noexcept;

    Status fail(ParseError::Kind kind, std::size_t value = 0);
    // One line without its "\n"; may still end in '\r'. Returns Complete at the empty line.
    Status take_line(std::string_view line, const LineScan& scan, Request& request);

    ParseLimits limits_{};
    std::string partial_;              // an unfinished line carried between calls
    std::size_t request_bytes_ = 0;    // bytes of complete lines in the current request
    std::size_t lines_ = 0;            // complete attribute lines in the current request
    bool failed_ = false;
    ParseError error_{};
};

}  // namespace rpd::policy
