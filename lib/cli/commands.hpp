// lib/cli/commands.hpp -- the subcommands of reverse-policyd, as a table.
//
// main() looks argv[1] up here; a subcommand gets its own argv (argv[0] is its name),
// parses its options with getopt_long and returns the exit code: 0 ok, 1 config or
// usage error, 2 runtime failure (SPEC §1). Adding a subcommand = one row here.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace rpd::cli {

struct Command {
    std::string_view name;
    std::string_view synopsis;   // for --help
    int (*run)(int argc, char** argv);
};

std::span<const Command> commands() noexcept;
const Command* find_command(std::string_view name) noexcept;

// Loads `path`; on errors prints each as FILE:LINE:COL: message on stderr and returns null.
std::shared_ptr<const config::Config> load_or_report(const std::string& path);

// `reverse-policyd -t -c FILE`: prints every error as FILE:LINE:COL: message on
// stderr and returns 1, or returns 0 (silently) for a good file.
int test_config(const std::string& path);

// The text of --help.
std::string usage();

}  // namespace rpd::cli
