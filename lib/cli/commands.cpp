#include "cli/commands.hpp"

#include <fmt/format.h>

#include <array>
#include <cstdio>

#include "cli/check.hpp"
#include "cli/doctor.hpp"
#include "config/config.hpp"

namespace rpd::cli {

namespace {

constexpr std::array<Command, 2> table{{
    {"check",
     "check [-c FILE] --client-address IP [--client-name N] [--helo NAME] [--sender ADDR]\n"
     "        [--recipient ADDR] [--sasl-username U] [--state CONNECT|HELO|MAIL|RCPT|DATA]\n"
     "        [--policy-context CTX] [--json]\n"
     "                                        one decision, explained",
     &run_check},
    {"doctor",
     "doctor [-c FILE] [--name NAME]\n"
     "                                        query every configured nameserver, report latency and errors",
     &run_doctor},
}};

}  // namespace

std::span<const Command> commands() noexcept { return table; }

const Command* find_command(std::string_view name) noexcept {
    for (const auto& c : table) {
        if (c.name == name) return &c;
    }
    return nullptr;
}

std::shared_ptr<const config::Config> load_or_report(const std::string& path) {
    auto loaded = config::load_file(path);
    if (const auto* errors = std::get_if<std::vector<config::ConfigError>>(&loaded)) {
        for (const auto& e : *errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
        return nullptr;
    }
    return std::get<std::shared_ptr<const config::Config>>(std::move(loaded));
}

int test_config(const std::string& path) { return load_or_report(path) ? 0 : 1; }

std::string usage() {
    std::string text = fmt::format(
        "usage: reverse-policyd [-c FILE] [-f]          run the daemon (-f: foreground, log to stderr)\n"
        "       reverse-policyd -t [-c FILE]            check the config file\n");
    for (const auto& c : table) text += fmt::format("       reverse-policyd {}\n", c.synopsis);
    text += fmt::format(
        "       reverse-policyd --version | --help\n"
        "The default config file is {}.\n",
        config::default_path);
    return text;
}

}  // namespace rpd::cli
