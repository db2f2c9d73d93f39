// lib/log/logger.hpp -- where the daemon's log lines go, and the decision line.
//
// Two sinks: syslog (openlog ident "reverse-policyd", LOG_PID, the configured
// facility) or stderr ("reverse-policyd[PID]: message", for -f). Levels as Postfix
// words them: errors and warnings carry an "error: " / "warning: " prefix, info none,
// debug lines are dropped unless debug is on. Messages are fmt-formatted; a message is
// one line (callers sanitise client and DNS values, see sanitize.hpp).
//
// The stderr sink may be buffered (set_buffered): lines collect until flush(), which the
// server calls once per event-loop turn, so a busy daemon does one write(2) per turn,
// not one per decision. Warnings and errors flush at once. The logger is process-wide
// and single-threaded, like syslog(3) itself. Not here: what to log (callers).
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace rpd::policy {
struct Request;
}

namespace rpd::log {

enum class Level : std::uint8_t { Error, Warning, Info, Debug };

inline constexpr const char* ident = "reverse-policyd";

// Log to syslog with `facility` (LOG_MAIL, ...). Replaces any earlier sink.
void use_syslog(int facility);
// Log to stderr. Replaces any earlier sink. The default until one is chosen.
void use_stderr();
bool is_syslog() noexcept;

void set_debug(bool on) noexcept;
bool enabled(Level level) noexcept;

// stderr only: collect lines until flush(). `on_pending` (may be empty) runs when the
// buffer goes from empty to non-empty, so an event loop can schedule the flush.
void set_buffered(bool on, std::function<void()> on_pending = {});
void flush() noexcept;

// Writes one line as is (no formatting). Never throws: a log failure loses the line.
void write(Level level, std::string_view message) noexcept;

template <class... Args>
void error(fmt::format_string<Args...> format, Args&&... args) {
    write(Level::Error, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void warning(fmt::format_string<Args...> format, Args&&... args) {
    write(Level::Warning, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void info(fmt::format_string<Args...> format, Args&&... args) {
    if (enabled(Level::Info)) write(Level::Info, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void debug(fmt::format_string<Args...> format, Args&&... args) {
    if (enabled(Level::Debug)) write(Level::Debug, fmt::format(format, std::forward<Args>(args)...));
}

// The decision line of SPEC §5 without " delay=...":
//   "NOQUEUE: action=DUNNO check=- outcome=- client=unknown[203.0.113.9] helo=<mx.example.test>
//    sender=<a@example.test> recipient=<b@example.org> state=RCPT"
// The queue id (or NOQUEUE) comes first; every value from the request or the action is
// sanitised. `check` and `outcome` are "-" when no check decided.
std::string decision_line(const policy::Request& request, std::string_view action,
                          std::string_view check = "-", std::string_view outcome = "-");
// The same, appended to `out`.
void append_decision_line(std::string& out, const policy::Request& request, std::string_view action,
                          std::string_view check = "-", std::string_view outcome = "-");
// " delay=0.012": seconds, rounded to the millisecond, as Postfix writes delays (a
// negative duration counts as 0). The end of every decision line.
void append_delay(std::string& out, std::chrono::nanoseconds delay);

}  // namespace rpd::log
