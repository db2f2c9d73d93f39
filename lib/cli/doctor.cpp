#include "cli/doctor.hpp"

#include <getopt.h>

#include <cstdio>
#include <vector>

#include <event2/event.h>
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "dns/nameservers.hpp"
#include "dns/resolver.hpp"
#include "log/sanitize.hpp"
#include "server/libevent.hpp"

namespace rpd::cli {

namespace {

constexpr const char* doctor_usage = "usage: reverse-policyd doctor [-c FILE] [--name NAME]\n";

enum Opt : int { Name = 256 };

struct Question {
    std::string name;
    dns::RrType type;
};

// Asks `questions` of one server at once; runs a loop of its own until all have ended
// (each ends by the resolver's own timeouts: bounded).
std::vector<dns::DnsResult> ask_server(const config::DnsConfig& base_cfg, const config::NameServer& server,
                                       const std::vector<Question>& questions) {
    server::EventBasePtr base{event_base_new()};
    std::vector<dns::DnsResult> results(questions.size());
    if (!base) return results;   // Timeout with server "": reported as not answering
    config::DnsConfig cfg = base_cfg;
    cfg.nameservers = {server};
    cfg.cache_entries = 0;
    dns::StubResolver resolver(base.get(), cfg);
    std::size_t pending = questions.size();
    std::vector<dns::Ticket> tickets;
    for (std::size_t i = 0; i < questions.size(); ++i) {
        tickets.push_back(resolver.lookup(questions[i].name, questions[i].type, [&, i](const dns::DnsResult& r) {
            results[i] = r;
            if (--pending == 0) event_base_loopbreak(base.get());
        }));
    }
    // Every question ends within servers x attempts x timeout; the count bounds the loop too.
    for (int turns = 0; pending > 0 && turns < 10'000; ++turns) {
        if (event_base_loop(base.get(), EVLOOP_ONCE) < 0) break;
    }
    return results;
}

bool is_reply(dns::DnsStatus s) noexcept { return s == dns::DnsStatus::Answer || dns::proves_absence(s); }

}  // namespace

std::variant<DoctorOptions, std::string> parse_doctor_options(int argc, char** argv) {
    static const option longopts[] = {
        {"config", required_argument, nullptr, 'c'},
        {"name", required_argument, nullptr, Name},
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
        case Name: o.name = optarg; break;
        case 'h': o.help = true; return o;
        case ':': return std::string("option ") + argv[optind - 1] + " needs a value";
        default: return std::string("unknown option ") + argv[optind - 1];
        }
    }
    if (optind < argc) return std::string("unexpected argument ") + argv[optind];
    if (o.name.empty()) return std::string("--name needs a name");
    return o;
}

int run_doctor(int argc, char** argv) {
    auto parsed = parse_doctor_options(argc, argv);
    if (auto* error = std::get_if<std::string>(&parsed)) {
        std::fprintf(stderr, "reverse-policyd doctor: %s\n%s", error->c_str(), doctor_usage);
        return 1;
    }
    const auto& options = std::get<DoctorOptions>(parsed);
    if (options.help) {
        std::fputs(doctor_usage, stdout);
        return 0;
    }
    const auto config = load_or_report(options.config_path);
    if (!config) return 1;
    const auto servers = dns::effective_nameservers(config->dns);
    std::printf("nameservers%s: %zu; timeout %lldms, %u attempt(s) each\n",
                config->dns.nameservers.empty() ? " (from /etc/resolv.conf)" : "", servers.size(),
                static_cast<long long>(config->dns.timeout.count()), config->dns.attempts);
    const std::vector<Question> questions{{".", dns::RrType::Ns}, {options.name, dns::RrType::A}};
    std::size_t answering = 0;
    for (const auto& server : servers) {
        const auto results = ask_server(config->dns, server, questions);
        bool answers = false;
        std::string report;
        for (std::size_t i = 0; i < questions.size(); ++i) {
            const auto& r = results[i];
            answers = answers || is_reply(r.status);
            std::string first;
            if (!r.records.empty()) {
                first = fmt::format(": {}{}", log::sanitize(r.records.front()),
                                    r.records.size() > 1 ? fmt::format(" (+{} more)", r.records.size() - 1) : "");
            }
            report += fmt::format("  {} {}: {} in {:.1f}ms{}{}\n", questions[i].name == "." ? "." : log::sanitize(questions[i].name),
                                  dns::to_string(questions[i].type), dns::to_string(r.status),
                                  static_cast<double>(r.elapsed.count()) / 1000.0, first,
                                  is_reply(r.status) ? "" : "  <- problem");
        }
        if (answers) ++answering;
        std::printf("%s: %s\n%s", server.text.c_str(), answers ? "answers" : "NOT ANSWERING", report.c_str());
    }
    if (answering == servers.size()) {
        std::printf("ok: every nameserver answers\n");
        return 0;
    }
    std::printf("%s: %zu of %zu nameserver(s) answer\n", answering == 0 ? "fatal" : "warning", answering,
                servers.size());
    return 2;
}

}  // namespace rpd::cli
