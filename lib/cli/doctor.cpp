#include "cli/doctor.hpp"

#include <getopt.h>

#include <cstdio>

namespace rpd::cli {

namespace {
constexpr const char* doctor_usage = "usage: reverse-policyd doctor [-c FILE]\n";
}

std::variant<DoctorOptions, std::string> parse_doctor_options(int argc, char** argv) {
    static const option longopts[] = {
        {"config", required_argument, nullptr, 'c'},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    DoctorOptions o;
    optind = 0;   // glibc: start over, whatever parsed before
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+:c:h", longopts, nullptr)) != -1) {
        switch (c) {
        case 'c': o.config_path = optarg; break;
        case 'h': o.help = true; return o;
        case ':': return std::string("option ") + argv[optind - 1] + " needs a value";
        default: return std::string("unknown option ") + argv[optind - 1];
        }
    }
    if (optind < argc) return std::string("unexpected argument ") + argv[optind];
    return o;
}

int run_doctor(int argc, char** argv) {
    auto parsed = parse_doctor_options(argc, argv);
    if (auto* error = std::get_if<std::string>(&parsed)) {
        std::fprintf(stderr, "reverse-policyd doctor: %s\n%s", error->c_str(), doctor_usage);
        return 1;
    }
    if (std::get<DoctorOptions>(parsed).help) {
        std::fputs(doctor_usage, stdout);
        return 0;
    }
    std::fprintf(stderr, "reverse-policyd doctor: not implemented yet\n");
    return 1;
}

}  // namespace rpd::cli
