#include "cli/check.hpp"

#include <getopt.h>

#include <array>
#include <cstdio>
#include <string_view>

namespace rpd::cli {

namespace {

constexpr const char* check_usage =
    "usage: reverse-policyd check [-c FILE] --client-address IP [--client-name N] [--helo NAME]\n"
    "        [--sender ADDR] [--recipient ADDR] [--sasl-username U]\n"
    "        [--state CONNECT|HELO|MAIL|RCPT|DATA] [--json]\n";

enum Opt : int { ClientAddress = 256, ClientName, Helo, Sender, Recipient, SaslUsername, State, Json, Help };

}  // namespace

std::variant<CheckOptions, std::string> parse_check_options(int argc, char** argv) {
    static const option longopts[] = {
        {"config", required_argument, nullptr, 'c'},
        {"client-address", required_argument, nullptr, ClientAddress},
        {"client-name", required_argument, nullptr, ClientName},
        {"helo", required_argument, nullptr, Helo},
        {"sender", required_argument, nullptr, Sender},
        {"recipient", required_argument, nullptr, Recipient},
        {"sasl-username", required_argument, nullptr, SaslUsername},
        {"state", required_argument, nullptr, State},
        {"json", no_argument, nullptr, Json},
        {"help", no_argument, nullptr, Help},
        {nullptr, 0, nullptr, 0},
    };
    CheckOptions o;
    optind = 0;   // glibc: start over, whatever parsed before
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+:c:", longopts, nullptr)) != -1) {
        switch (c) {
        case 'c': o.config_path = optarg; break;
        case ClientAddress: o.client_address = optarg; break;
        case ClientName: o.client_name = optarg; break;
        case Helo: o.helo = optarg; break;
        case Sender: o.sender = optarg; break;
        case Recipient: o.recipient = optarg; break;
        case SaslUsername: o.sasl_username = optarg; break;
        case State: o.state = optarg; break;
        case Json: o.json = true; break;
        case Help: o.help = true; return o;
        case ':': return std::string("option ") + argv[optind - 1] + " needs a value";
        default: return std::string("unknown option ") + argv[optind - 1];
        }
    }
    if (optind < argc) return std::string("unexpected argument ") + argv[optind];
    if (o.client_address.empty()) return std::string("--client-address is required");
    constexpr std::array<std::string_view, 5> states{"CONNECT", "HELO", "MAIL", "RCPT", "DATA"};
    bool known_state = false;
    for (const auto s : states) known_state = known_state || s == o.state;
    if (!known_state) return "--state must be CONNECT, HELO, MAIL, RCPT or DATA, not " + o.state;
    return o;
}

int run_check(int argc, char** argv) {
    auto parsed = parse_check_options(argc, argv);
    if (auto* error = std::get_if<std::string>(&parsed)) {
        std::fprintf(stderr, "reverse-policyd check: %s\n%s", error->c_str(), check_usage);
        return 1;
    }
    if (std::get<CheckOptions>(parsed).help) {
        std::fputs(check_usage, stdout);
        return 0;
    }
    std::fprintf(stderr, "reverse-policyd check: not implemented yet\n");
    return 1;
}

}  // namespace rpd::cli
