#include "log/logger.hpp"

#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "log/sanitize.hpp"
#include "policy/request.hpp"

namespace rpd::log {

namespace {

// Flush a buffered stderr sink before it grows past this, whatever the loop does.
constexpr std::size_t max_buffered = 64 * 1024;

struct State {
    bool syslog = false;
    bool debug = false;
    bool buffered = false;
    std::string prefix;               // "reverse-policyd[PID]: "
    std::string buffer;               // stderr lines not yet written
    std::function<void()> on_pending;
};

State& state() {
    static State s;
    return s;
}

std::string_view level_prefix(Level level) noexcept {
    switch (level) {
    case Level::Error: return "error: ";
    case Level::Warning: return "warning: ";
    case Level::Info: return "";
    case Level::Debug: return "debug: ";
    }
    return "";
}

int syslog_priority(Level level) noexcept {
    switch (level) {
    case Level::Error: return LOG_ERR;
    case Level::Warning: return LOG_WARNING;
    case Level::Info: return LOG_INFO;
    case Level::Debug: return LOG_DEBUG;
    }
    return LOG_INFO;
}

void write_all(int fd, std::string_view data) noexcept {
    while (!data.empty()) {
        const auto n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return;   // nowhere left to report it
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

void append_value(std::string& out, std::string_view value, std::string_view if_empty) {
    if (value.empty()) out += if_empty;
    else append_sanitized(out, value);
}

}  // namespace

void use_syslog(int facility) {
    auto& s = state();
    flush();
    closelog();
    openlog(ident, LOG_PID | LOG_NDELAY, facility);
    s.syslog = true;
}

void use_stderr() {
    auto& s = state();
    if (s.syslog) closelog();
    s.syslog = false;
    s.prefix = fmt::format("{}[{}]: ", ident, ::getpid());
}

bool is_syslog() noexcept { return state().syslog; }

void set_debug(bool on) noexcept { state().debug = on; }

bool enabled(Level level) noexcept { return level != Level::Debug || state().debug; }

void set_buffered(bool on, std::function<void()> on_pending) {
    auto& s = state();
    if (!on) flush();
    s.buffered = on;
    s.on_pending = std::move(on_pending);
}

void flush() noexcept {
    auto& s = state();
    if (s.buffer.empty()) return;
    write_all(STDERR_FILENO, s.buffer);
    s.buffer.clear();
}

void write(Level level, std::string_view message) noexcept {
    auto& s = state();
    if (!enabled(level)) return;
    if (s.syslog) {
        const auto prefix = level_prefix(level);
        syslog(syslog_priority(level), "%.*s%.*s", static_cast<int>(prefix.size()), prefix.data(),
               static_cast<int>(message.size()), message.data());
        return;
    }
    try {
        if (s.prefix.empty()) s.prefix = fmt::format("{}[{}]: ", ident, ::getpid());
        const bool was_empty = s.buffer.empty();
        s.buffer += s.prefix;
        s.buffer += level_prefix(level);
        s.buffer += message;
        s.buffer += '\n';
        if (!s.buffered || level <= Level::Warning || s.buffer.size() >= max_buffered) {
            flush();
        } else if (was_empty && s.on_pending) {
            s.on_pending();
        }
    } catch (...) {
        // Out of memory while logging: drop what was collected rather than throw.
        s.buffer.clear();
    }
}

std::string decision_line(const policy::Request& request, std::string_view action, std::string_view check,
                          std::string_view outcome) {
    std::string line;
    line.reserve(160);
    append_decision_line(line, request, action, check, outcome);
    return line;
}

void append_decision_line(std::string& line, const policy::Request& request, std::string_view action,
                          std::string_view check, std::string_view outcome) {
    append_value(line, request.queue_id, "NOQUEUE");
    line += ": action=";
    append_value(line, action, "-");
    line += " check=";
    append_value(line, check, "-");
    line += " outcome=";
    append_value(line, outcome, "-");
    line += " client=";
    append_value(line, request.client_name, "unknown");
    line += '[';
    append_value(line, request.client_address, "unknown");
    line += "] helo=<";
    append_sanitized(line, request.helo_name);
    line += "> sender=<";
    append_sanitized(line, request.sender);
    line += "> recipient=<";
    append_sanitized(line, request.recipient);
    line += "> state=";
    append_value(line, request.protocol_state, "-");
}

// From integers, without a format string: this runs for every decision.
void append_delay(std::string& out, std::chrono::nanoseconds delay) {
    const auto us = std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(delay).count());
    const auto ms = (us + 500) / 1000;
    char text[32];
    auto* end = std::to_chars(text, text + sizeof text, ms / 1000).ptr;
    const auto fraction = static_cast<int>(ms % 1000);
    *end++ = '.';
    *end++ = static_cast<char>('0' + fraction / 100);
    *end++ = static_cast<char>('0' + fraction / 10 % 10);
    *end++ = static_cast<char>('0' + fraction % 10);
    out += " delay=";
    out.append(text, end);
}

}  // namespace rpd::log
