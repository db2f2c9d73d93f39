// reverse-policyd: command line (SPEC §1) and exit codes. The work is in lib/.
#include <getopt.h>

#include <cstdio>
#include <string>

#include "cli/commands.hpp"
#include "config/config.hpp"
#include "server/daemon.hpp"

namespace {

enum Opt : int { Version = 256, Help };

int usage_error(const std::string& message) {
    std::fprintf(stderr, "reverse-policyd: %s\n%s", message.c_str(), rpd::cli::usage().c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1) {
        if (const auto* command = rpd::cli::find_command(argv[1])) return command->run(argc - 1, argv + 1);
    }

    static const option longopts[] = {
        {"config", required_argument, nullptr, 'c'},
        {"foreground", no_argument, nullptr, 'f'},
        {"test", no_argument, nullptr, 't'},
        {"version", no_argument, nullptr, Version},
        {"help", no_argument, nullptr, Help},
        {nullptr, 0, nullptr, 0},
    };
    std::string config_path = rpd::config::default_path;
    bool foreground = false;
    bool test = false;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":c:fth", longopts, nullptr)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'f': foreground = true; break;
        case 't': test = true; break;
        case Version: std::printf("reverse-policyd %s\n", RPD_VERSION); return 0;
        case 'h':
        case Help: std::fputs(rpd::cli::usage().c_str(), stdout); return 0;
        case ':': return usage_error(std::string("option ") + argv[optind - 1] + " needs a value");
        default: return usage_error(std::string("unknown option ") + argv[optind - 1]);
        }
    }
    if (optind < argc) return usage_error(std::string("unknown command or argument ") + argv[optind]);
    if (test) return rpd::cli::test_config(config_path);

    rpd::server::DaemonOptions options;
    options.config_path = config_path;
    options.foreground = foreground;
    return rpd::server::run_daemon(options);
}
