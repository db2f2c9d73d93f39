// lib/cli/check.hpp -- `reverse-policyd check`: one decision, explained (SPEC §1).
//
// In: the subcommand's argv. Out: the exit code. parse_check_options() turns argv into
// CheckOptions or a usage error message.
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "config/config.hpp"

namespace rpd::cli {

struct CheckOptions {
    std::string config_path = config::default_path;
    std::string client_address;    // required
    std::string client_name;
    std::string helo;
    std::string sender;
    std::string recipient;
    std::string sasl_username;
    std::string state = "RCPT";    // CONNECT, HELO, MAIL, RCPT or DATA
    bool json = false;
    bool help = false;             // --help: print the usage, exit 0
};

// A usage error is returned as its message (without the program name).
std::variant<CheckOptions, std::string> parse_check_options(int argc, char** argv);

int run_check(int argc, char** argv);

}  // namespace rpd::cli
