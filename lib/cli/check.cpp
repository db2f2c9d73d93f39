#include "cli/check.hpp"

#include <getopt.h>

#include <array>
#include <cstdio>
#include <sstream>
#include <string_view>

#include <event2/event.h>
#include <fmt/format.h>
#include <toml++/toml.h>

#include "cli/commands.hpp"
#include "dns/resolver.hpp"
#include "log/logger.hpp"
#include "log/sanitize.hpp"
#include "server/libevent.hpp"
#include "server/post_queue.hpp"

namespace rpd::cli {

namespace {

constexpr const char* check_usage =
    "usage: reverse-policyd check [-c FILE] --client-address IP [--client-name N] [--helo NAME]\n"
    "        [--sender ADDR] [--recipient ADDR] [--sasl-username U]\n"
    "        [--state CONNECT|HELO|MAIL|RCPT|DATA] [--policy-context CTX] [--json]\n";

enum Opt : int {
    ClientAddress = 256, ClientName, Helo, Sender, Recipient, SaslUsername, State, PolicyContext, Json, Help
};

struct Loop {
    server::EventBasePtr base{event_base_new()};
};

void on_deadline(evutil_socket_t, short, void* arg) noexcept {
    auto* job = static_cast<policy::Decider::Job*>(arg);
    try {
        job->expire();
    } catch (const std::exception& e) {
        log::error("check: {}", e.what());
    }
}

double millis(const dns::DnsResult& r) noexcept { return static_cast<double>(r.elapsed.count()) / 1000.0; }

std::string lookup_line(const dns::DnsResult& r) {
    return fmt::format("{} {}: {} ttl={} @{} {:.1f}ms{}", dns::to_string(r.type), log::sanitize(r.name),
                       dns::to_string(r.status), r.ttl, r.server.empty() ? "-" : log::sanitize(r.server), millis(r),
                       r.from_cache ? " (cache)" : "");
}

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
        {"policy-context", required_argument, nullptr, PolicyContext},
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
        case PolicyContext: o.policy_context = optarg; break;
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
    if (!known_state) return "--state must be CONNECT, HELO, MAIL, RCPT or DATA, not " + log::sanitize(o.state);
    return o;
}

policy::Request make_request(const CheckOptions& o) {
    policy::Request r;
    r.request = "smtpd_access_policy";
    r.protocol_state = o.state;
    r.protocol_name = "ESMTP";
    r.client_address = o.client_address;
    r.client_name = o.client_name.empty() ? "unknown" : o.client_name;
    r.reverse_client_name = r.client_name;
    r.helo_name = o.helo;
    r.sender = o.sender;
    r.recipient = o.recipient;
    r.sasl_username = o.sasl_username;
    r.policy_context = o.policy_context;
    r.instance = "check";
    return r;
}

std::variant<CheckReport, std::string> explain_request(std::shared_ptr<const config::Config> config,
                                                       const policy::Request& request) {
    Loop loop;
    if (!loop.base) return std::string("cannot create the event loop (event_base_new failed)");
    server::PostQueue post(loop.base.get());
    dns::StubResolver resolver(loop.base.get(), config->dns);
    checks::Engine::Options options;
    options.ask_everything = true;
    checks::Engine engine(resolver, [&post](std::function<void()> fn) { post.post(std::move(fn)); }, options);

    CheckReport report;
    for (const auto& ns : resolver.nameservers()) report.nameservers.push_back(ns.text);
    bool done = false;
    auto job = engine.explain(config, request, [&](checks::Explanation e) {
        report.explanation = std::move(e);
        done = true;
        event_base_loopbreak(loop.base.get());
    });
    server::EventPtr deadline{event_new(loop.base.get(), -1, 0, &on_deadline, job.get())};
    if (!deadline) return std::string("event_new failed");
    const auto ms = config->server.request_deadline.count();
    const timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
    event_add(deadline.get(), &tv);
    // Bounded: the deadline answers whatever DNS does; a few turns more are plenty.
    for (int turns = 0; !done && turns < 1000; ++turns) {
        if (event_base_loop(loop.base.get(), EVLOOP_ONCE) < 0) break;
    }
    if (!done) return std::string("no decision (event loop failed)");
    return report;
}

std::string format_text(const CheckReport& report, const policy::Request& request, const config::Config& config) {
    const auto& e = report.explanation;
    std::string out;
    const auto value = [](const std::string& v) { return v.empty() ? std::string("-") : log::sanitize(v); };
    out += fmt::format("request: client_address={} client_name={} helo_name={} sender=<{}> recipient=<{}>",
                       value(request.client_address), value(request.client_name), value(request.helo_name),
                       log::sanitize(request.sender), log::sanitize(request.recipient));
    if (!request.sasl_username.empty()) out += " sasl_username=" + log::sanitize(request.sasl_username);
    if (!request.policy_context.empty()) out += " policy_context=" + log::sanitize(request.policy_context);
    out += fmt::format(" state={}\n", value(request.protocol_state));
    out += fmt::format("config: {}{}\n", config.path.empty() ? "-" : log::sanitize(config.path),
                       config.preset_postfix ? " (preset postfix)" : "");
    out += fmt::format("nameservers: {}\n", fmt::join(report.nameservers, ", "));
    for (const auto& c : e.checks) {
        out += '\n';
        const auto name = checks::to_string(c.kind);
        if (!c.evaluated) {
            out += fmt::format("{}: not evaluated at state {}\n", name, value(request.protocol_state));
            continue;
        }
        out += fmt::format("{}: {}{}\n", name, c.outcome, c.finished ? "" : " (cut short by request_deadline)");
        if (!c.detail.empty()) out += fmt::format("  detail: {}\n", c.detail);
        for (const auto& r : c.lookups) {
            out += "  " + lookup_line(r) + "\n";
            for (const auto& rr : r.records) out += "      " + log::sanitize(rr, 1024) + "\n";
        }
        if (!c.rule.empty()) {
            out += fmt::format("  rule: {} -> {}", c.rule, c.action);
            if (!c.exempt.empty()) out += fmt::format(" (exempt: {})", c.exempt);
            if (!c.in_context) out += " (not counted: policy_context)";
            out += '\n';
        }
    }
    out += fmt::format("\nrule: {}\naction: {}\nlog: {}\n", e.rule, e.decision.action, e.decision.log_line);
    return out;
}

std::string format_json(const CheckReport& report) {
    const auto& e = report.explanation;
    toml::table checks_table;
    for (const auto& c : e.checks) {
        toml::array lookups;
        for (const auto& r : c.lookups) {
            toml::array records;
            for (const auto& rr : r.records) records.push_back(log::sanitize(rr, 1024));
            lookups.push_back(toml::table{
                {"name", log::sanitize(r.name)},
                {"type", std::string(dns::to_string(r.type))},
                {"status", std::string(dns::to_string(r.status))},
                {"records", std::move(records)},
                {"ttl", static_cast<std::int64_t>(r.ttl)},
                {"server", log::sanitize(r.server)},
                // Whole numbers: toml++ prints doubles with 17 digits.
                {"ms", static_cast<std::int64_t>((r.elapsed.count() + 500) / 1000)},
                {"us", static_cast<std::int64_t>(r.elapsed.count())},
                {"cached", r.from_cache},
            });
        }
        checks_table.insert(std::string(checks::to_string(c.kind)),
                            toml::table{
                                {"evaluated", c.evaluated},
                                {"finished", c.finished},
                                {"outcome", c.outcome},
                                {"detail", c.detail},
                                {"rule", c.rule},
                                {"action", c.action},
                                {"exempt", c.exempt},
                                {"in_context", c.in_context},
                                {"lookups", std::move(lookups)},
                            });
    }
    toml::array nameservers;
    for (const auto& ns : report.nameservers) nameservers.push_back(log::sanitize(ns));
    toml::table root{
        {"action", e.decision.action},
        {"rule", e.rule},
        {"log_line", e.decision.log_line},
        {"expired", e.expired},
        {"header", e.header},
        {"nameservers", std::move(nameservers)},
        {"checks", std::move(checks_table)},
    };
    std::ostringstream out;
    out << toml::json_formatter{root} << '\n';
    return out.str();
}

int run_check(int argc, char** argv) {
    auto parsed = parse_check_options(argc, argv);
    if (auto* error = std::get_if<std::string>(&parsed)) {
        std::fprintf(stderr, "reverse-policyd check: %s\n%s", error->c_str(), check_usage);
        return 1;
    }
    const auto& options = std::get<CheckOptions>(parsed);
    if (options.help) {
        std::fputs(check_usage, stdout);
        return 0;
    }
    const auto config = load_or_report(options.config_path);
    if (!config) return 1;
    log::use_stderr();
    log::set_debug(false);
    const auto request = make_request(options);
    auto ran = explain_request(config, request);
    if (auto* error = std::get_if<std::string>(&ran)) {
        std::fprintf(stderr, "reverse-policyd check: %s\n", error->c_str());
        return 2;
    }
    const auto& report = std::get<CheckReport>(ran);
    const auto text = options.json ? format_json(report) : format_text(report, request, *config);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
}

}  // namespace rpd::cli
