// lib/server/resolver_monitor.hpp -- resolver trouble in the log, once per change; DNS debug lines.
//
// In: the StubResolver's debug events (DebugHook). Out: log lines.
// - log.level = "debug": every question sent, every reply dropped, every failed try and
//   every question's end (status, records, TTL, server, time), one line each, sanitised.
// - Always: per nameserver, a line when it starts failing to answer (a try timed out or
//   hit a network error) and one when it answers again; a line when SERVFAIL replies
//   from it reach `servfail_burst` within `window`, and one when a whole window passes
//   below that. Nothing per query: a dead resolver under load is two lines, not millions.
// Not here: what the answers mean (lib/checks).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <unordered_map>

#include "dns/resolver.hpp"
#include "log/logger.hpp"

namespace rpd::server {

class ResolverMonitor {
public:
    using Clock = std::chrono::steady_clock;
    struct Limits {
        std::size_t servfail_burst = 20;
        std::chrono::seconds window{60};
    };

    // Where the trouble lines go (tests capture them); default: the process log.
    using Sink = std::function<void(log::Level, const std::string&)>;

    ResolverMonitor() : ResolverMonitor(Limits{}) {}
    explicit ResolverMonitor(Limits limits, Sink sink = {});

    void on_event(const dns::DebugEvent& ev, Clock::time_point now = Clock::now());

    // One DNS debug line ("dns: ..."), for the log and for `check`.
    static std::string describe(const dns::DebugEvent& ev);

private:
    struct ServerState {
        bool failing = false;
        std::string failure;                    // what the first failed try said
        Clock::time_point window_start{};
        std::size_t servfails = 0;              // in the current window
        bool servfail_burst = false;
    };
    void roll_window(const std::string& server, ServerState& s, Clock::time_point now);

    Limits limits_;
    Sink sink_;
    std::unordered_map<std::string, ServerState> servers_;
};

}  // namespace rpd::server
