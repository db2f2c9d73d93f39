// contrib/bench/echo.hpp -- `rpd-bench --echo`: the fastest possible policy server.
//
// Answers `action=DUNNO\n\n` to every request without parsing it: it only finds
// the empty line that ends each request (a '\n' at the start of a line). One read
// per readiness event (64 KiB), all the replies it calls for in one write; replies
// owed to a peer that does not read are a byte count, not a buffer. Single thread,
// libevent. What rpd-bench measures against it is the protocol's limit on the
// machine. Runs until SIGINT/SIGTERM (or `max_duration`), then prints what it
// served on stderr and removes its Unix socket.
#pragma once

#include <chrono>
#include <string>

#include "endpoint.hpp"

namespace rpd::bench {

struct EchoPlan {
    Endpoint listen;
    std::chrono::milliseconds max_duration{0};   // 0: until a signal
};

// Exit status: 0 after a signal or max_duration, 2 when it cannot listen (`error` set).
int run_echo(const EchoPlan& plan, std::string& error);

}  // namespace rpd::bench
