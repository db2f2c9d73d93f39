// lib/cli/check.hpp -- `reverse-policyd check`: one decision, explained (SPEC §1).
//
// The daemon's code path: the same StubResolver and checks::Engine (with ask_everything,
// so every question is asked and shown even when no action depends on it), on an event
// loop of its own, bounded by server.request_deadline (Job::expire, as in the daemon).
// Output, text or --json: every DNS question and how it ended (status, records, TTL,
// server, time), each check's outcome, detail, rule and action, the rule that fired, the
// final action and the decision log line. Every value that came from DNS or from the
// command line is sanitised. Exit: 0 (whatever the action), 1 usage or config error,
// 2 runtime failure (no event loop).
//
// --policy-context CTX (not in SPEC §1, added): the policy_context attribute, to see
// what one restriction list of the postfix preset answers.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "checks/engine.hpp"
#include "config/config.hpp"
#include "policy/request.hpp"

namespace rpd::cli {

struct CheckOptions {
    std::string config_path = config::default_path;
    std::string client_address;    // required
    std::string client_name;
    std::string helo;
    std::string sender;
    std::string recipient;
    std::string sasl_username;
    std::string policy_context;
    std::string state = "RCPT";    // CONNECT, HELO, MAIL, RCPT or DATA
    bool json = false;
    bool help = false;             // --help: print the usage, exit 0
};

// A usage error is returned as its message (without the program name).
std::variant<CheckOptions, std::string> parse_check_options(int argc, char** argv);

// The request Postfix would send for these options (instance "check").
policy::Request make_request(const CheckOptions& options);

struct CheckReport {
    checks::Explanation explanation;
    std::vector<std::string> nameservers;   // the servers asked ("127.0.0.1:53")
};

// One decision on a fresh resolver and event loop. A string: the loop could not be made.
std::variant<CheckReport, std::string> explain_request(std::shared_ptr<const config::Config> config,
                                                       const policy::Request& request);

std::string format_text(const CheckReport& report, const policy::Request& request, const config::Config& config);
// One JSON object (toml++'s json_formatter), keys: action, rule, log_line, expired,
// nameservers[], checks{client,helo,sender}{evaluated, outcome, detail, rule, action,
// exempt, in_context, lookups[]{name, type, status, records[], ttl, server, ms (rounded), us, cached}}.
std::string format_json(const CheckReport& report);

int run_check(int argc, char** argv);

}  // namespace rpd::cli
