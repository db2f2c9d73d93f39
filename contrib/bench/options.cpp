// contrib/bench/options.cpp -- see options.hpp.
#include "options.hpp"

#include <charconv>

#include <fmt/format.h>

#include "util/duration.hpp"

namespace rpd::bench {

std::string_view usage() noexcept {
    return R"(usage: rpd-bench [options] TARGET       load a policy server; TARGET = unix:PATH | inet:HOST:PORT
       rpd-bench --echo TARGET [--max-duration D]
                                          serve action=DUNNO to everything (the protocol's limit)
       rpd-bench --print-requests N [request options]
                                          print the first N requests and exit

load:
  -c, --connections N        concurrent connections (16)
  -n, --requests N           stop after N requests
  -d, --duration D           stop issuing requests after D ("30s", "2m"; 10s if -n is not given)
      --max-duration D       hard cap on the run; requests still in flight count as
                             unfinished (10m, or the duration + 1m if longer)
      --timeout D            per request and per connect; a timed-out request is an error and
                             its connection is closed and reopened (15s)
      --reconnect-after N    requests per connection before reconnecting (0 = never; 0)
      --threads N            client threads, each with its share of the connections (1)
      --idle N               also hold N connections open that send nothing, from before the
                             load starts until it ends (memory with idle Postfix connections)
requests (default: generated Postfix 3.7 RCPT requests):
  -f, --file FILE            requests from FILE: name=value blocks separated by blank lines, cycled
      --clients N            distinct client addresses (300)
      --helos N              distinct HELO names (as many as clients)
      --senders N            distinct sender domains (as many as clients)
      --unique-clients       a new client for every request, with its own HELO and sender domain
      --client-offset N      first client number (fresh clients for a repeated uncached run; 0)
      --instances-per-client N
                             Postfix instances each client cycles through; 0 = a fresh instance
                             for every request, so no transaction result can be reused (0)
output:
      --json                 one JSON object on one line
      --csv                  one CSV line (--csv-header: a header line first)
  -h, --help | --version

exit status: 0 all requests answered well; 1 usage error; 2 cannot run (cannot connect,
bad file); 3 errors counted or the run cut by --max-duration.
)";
}

namespace {

bool parse_uint(std::string_view text, std::uint64_t& out) {
    if (text.empty()) return false;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
    return r.ec == std::errc{} && r.ptr == text.data() + text.size();
}

}  // namespace

std::optional<Options> parse_options(const std::vector<std::string_view>& args, std::string& error) {
    Options o;
    bool helos_given = false, senders_given = false, clients_given = false, load_option = false;
    bool echo = false;
    std::vector<std::string_view> positional;

    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        std::string_view inline_value;
        bool has_inline = false;
        if (arg.starts_with("--")) {
            if (const auto eq = arg.find('='); eq != std::string_view::npos) {
                inline_value = arg.substr(eq + 1);
                arg = arg.substr(0, eq);
                has_inline = true;
            }
        }
        auto value = [&](std::string_view& out) {
            if (has_inline) {
                out = inline_value;
                return true;
            }
            if (i + 1 >= args.size()) {
                error = fmt::format("{} needs a value", arg);
                return false;
            }
            out = args[++i];
            return true;
        };
        auto number = [&](std::uint64_t& out, std::uint64_t min, std::uint64_t max) {
            std::string_view v;
            if (!value(v)) return false;
            if (!parse_uint(v, out) || out < min || out > max) {
                error = fmt::format("{}: expected a number from {} to {}, got '{}'", arg, min, max, v);
                return false;
            }
            return true;
        };
        auto duration = [&](std::chrono::milliseconds& out) {
            std::string_view v;
            if (!value(v)) return false;
            const auto d = util::parse_duration(v);
            if (!d || d->count() <= 0) {
                error = fmt::format("{}: expected a duration like 250ms, 30s, 5m, got '{}'", arg, v);
                return false;
            }
            out = *d;
            return true;
        };
        std::uint64_t n = 0;
        std::string_view v;

        if (arg == "-h" || arg == "--help") {
            o.mode = Mode::Help;
            return o;
        } else if (arg == "--version") {
            o.mode = Mode::Version;
            return o;
        } else if (arg == "--echo") {
            if (!value(v)) return std::nullopt;
            echo = true;
            o.target = std::string(v);
        } else if (arg == "-c" || arg == "--connections") {
            if (!number(n, 1, 100'000)) return std::nullopt;
            o.connections = static_cast<unsigned>(n);
            load_option = true;
        } else if (arg == "-n" || arg == "--requests") {
            if (!number(n, 1, UINT64_MAX / 2)) return std::nullopt;
            o.requests = n;
            load_option = true;
        } else if (arg == "-d" || arg == "--duration") {
            if (!duration(o.duration)) return std::nullopt;
            load_option = true;
        } else if (arg == "--max-duration") {
            if (!duration(o.max_duration)) return std::nullopt;
        } else if (arg == "--timeout") {
            if (!duration(o.timeout)) return std::nullopt;
            load_option = true;
        } else if (arg == "--reconnect-after") {
            if (!number(n, 0, UINT64_MAX)) return std::nullopt;
            o.reconnect_after = n;
            load_option = true;
        } else if (arg == "--idle") {
            if (!number(n, 1, 1'000'000)) return std::nullopt;
            o.idle = static_cast<unsigned>(n);
            load_option = true;
        } else if (arg == "--threads") {
            if (!number(n, 1, 64)) return std::nullopt;
            o.threads = static_cast<unsigned>(n);
            load_option = true;
        } else if (arg == "-f" || arg == "--file") {
            if (!value(v)) return std::nullopt;
            o.file = std::string(v);
            load_option = true;
        } else if (arg == "--clients") {
            if (!number(o.gen.clients, 1, UINT64_MAX / 2)) return std::nullopt;
            clients_given = load_option = true;
        } else if (arg == "--helos") {
            if (!number(o.gen.helos, 1, UINT64_MAX / 2)) return std::nullopt;
            helos_given = load_option = true;
        } else if (arg == "--senders") {
            if (!number(o.gen.senders, 1, UINT64_MAX / 2)) return std::nullopt;
            senders_given = load_option = true;
        } else if (arg == "--unique-clients") {
            o.gen.unique_clients = load_option = true;
        } else if (arg == "--client-offset") {
            if (!number(o.gen.client_offset, 0, UINT64_MAX / 2)) return std::nullopt;
            load_option = true;
        } else if (arg == "--instances-per-client") {
            if (!number(o.gen.instances_per_client, 0, UINT64_MAX)) return std::nullopt;
            load_option = true;
        } else if (arg == "--print-requests") {
            if (!number(o.print_requests, 1, 10'000'000)) return std::nullopt;
            o.mode = Mode::PrintRequests;
        } else if (arg == "--json") {
            o.format = Format::Json;
            load_option = true;
        } else if (arg == "--csv") {
            o.format = Format::Csv;
            load_option = true;
        } else if (arg == "--csv-header") {
            o.csv_header = load_option = true;
        } else if (arg.starts_with("-") && arg != "-") {
            error = fmt::format("unknown option {}", arg);
            return std::nullopt;
        } else {
            positional.push_back(arg);
        }
        if (has_inline && (arg == "--unique-clients" || arg == "--json" || arg == "--csv" || arg == "--csv-header")) {
            error = fmt::format("{} takes no value", arg);
            return std::nullopt;
        }
    }

    if (!helos_given) o.gen.helos = o.gen.clients;
    if (!senders_given) o.gen.senders = o.gen.clients;
    if (o.gen.unique_clients && (clients_given || helos_given || senders_given || o.gen.instances_per_client != 0)) {
        error = "--unique-clients cannot be combined with --clients, --helos, --senders or --instances-per-client";
        return std::nullopt;
    }
    if (!o.file.empty() && (clients_given || helos_given || senders_given || o.gen.unique_clients ||
                            o.gen.client_offset != 0 || o.gen.instances_per_client != 0)) {
        error = "--file cannot be combined with the generator's options";
        return std::nullopt;
    }

    if (echo) {
        if (load_option || o.mode == Mode::PrintRequests || !positional.empty()) {
            error = "--echo takes a listen address and --max-duration only";
            return std::nullopt;
        }
        o.mode = Mode::Echo;
        return o;
    }
    if (o.mode == Mode::PrintRequests) {
        if (!positional.empty()) {
            error = "--print-requests takes no TARGET";
            return std::nullopt;
        }
        return o;
    }
    if (positional.size() != 1) {
        error = positional.empty() ? "no TARGET (unix:PATH or inet:HOST:PORT)" : "more than one TARGET";
        return std::nullopt;
    }
    o.target = std::string(positional[0]);
    if (o.threads > o.connections) {
        error = fmt::format("--threads {} is more than --connections {}", o.threads, o.connections);
        return std::nullopt;
    }
    if (o.requests == 0 && o.duration.count() == 0) o.duration = default_duration;
    if (o.max_duration.count() == 0) {
        o.max_duration = std::max(default_max_duration, o.duration + std::chrono::minutes(1));
    } else if (o.max_duration < o.duration) {
        error = "--max-duration is shorter than --duration";
        return std::nullopt;
    }
    return o;
}

}  // namespace rpd::bench
