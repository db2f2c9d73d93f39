// lib/cli/doctor.hpp -- `reverse-policyd doctor`: ask every configured nameserver (SPEC §1).
//
// In: the subcommand's argv. Out: the exit code.
#pragma once

#include <string>
#include <variant>

#include "config/config.hpp"

namespace rpd::cli {

struct DoctorOptions {
    std::string config_path = config::default_path;
    bool help = false;
};

std::variant<DoctorOptions, std::string> parse_doctor_options(int argc, char** argv);

int run_doctor(int argc, char** argv);

}  // namespace rpd::cli
