// lib/cli/doctor.hpp -- `reverse-policyd doctor`: ask every configured nameserver (SPEC §1).
//
// For each nameserver of [dns] (or /etc/resolv.conf's when the list is empty), one at a
// time and with its own resolver (no cache, no fallback to the next server), asks the
// root's NS (". NS") and a known name ("localhost." A, or --name NAME A), and prints per
// question the status, the answer's first records, the TTL and the latency. A server
// "answers" when at least one question got a reply that is an answer or a proven
// absence (NOERROR/NXDOMAIN); SERVFAIL, REFUSED, timeouts and network errors are
// reported as problems (a resolver without Internet access gives SERVFAIL for the root
// NS: shown, but the server still answers if the other question worked).
// Exit: 0 every server answers, 2 some or all do not (runtime trouble), 1 usage or
// config error.
#pragma once

#include <string>
#include <variant>

#include "config/config.hpp"

namespace rpd::cli {

struct DoctorOptions {
    std::string config_path = config::default_path;
    std::string name = "localhost";
    bool help = false;
};

std::variant<DoctorOptions, std::string> parse_doctor_options(int argc, char** argv);

int run_doctor(int argc, char** argv);

}  // namespace rpd::cli
