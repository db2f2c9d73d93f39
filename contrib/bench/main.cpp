// contrib/bench/main.cpp -- rpd-bench: command line, exit status; the work is in load/echo.
//
// Exit status: 0 every request answered well; 1 usage error; 2 cannot run (cannot
// connect or listen, unusable request file, open-file limit too low); 3 the run
// counted errors or was cut by --max-duration.
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "echo.hpp"
#include "endpoint.hpp"
#include "load.hpp"
#include "options.hpp"
#include "report.hpp"
#include "requests.hpp"

using namespace rpd::bench;

namespace {

// Thousands of connections need thousands of descriptors: take what the hard limit allows.
rlim_t raise_nofile() noexcept {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
        getrlimit(RLIMIT_NOFILE, &lim);
    }
    return lim.rlim_cur;
}

// --idle: held open, silent, for the whole run; closed on the way out.
struct IdleConnections {
    std::vector<int> fds;
    IdleConnections() = default;
    IdleConnections(const IdleConnections&) = delete;
    IdleConnections& operator=(const IdleConnections&) = delete;
    ~IdleConnections() {
        for (const int fd : fds) close(fd);
    }
};

int fail(int status, const std::string& message) {
    fmt::print(stderr, "rpd-bench: {}\n", message);
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    const rlim_t nofile = raise_nofile();

    std::vector<std::string_view> args(argv + 1, argv + argc);
    std::string error;
    const auto opts = parse_options(args, error);
    if (!opts) return fail(1, error + " (try --help)");

    switch (opts->mode) {
    case Mode::Help:
        fmt::print("{}", usage());
        return 0;
    case Mode::Version:
        fmt::print("rpd-bench {}\n", RPD_VERSION);
        return 0;
    case Mode::Echo: {
        const auto ep = parse_endpoint(opts->target, error);
        if (!ep) return fail(1, error);
        EchoPlan plan{*ep, opts->max_duration};
        const int status = run_echo(plan, error);
        if (status != 0) return fail(status, error);
        return 0;
    }
    case Mode::Load:
    case Mode::PrintRequests:
        break;
    }

    std::unique_ptr<RequestSource> source;
    if (!opts->file.empty()) {
        source = FileSource::load(opts->file, error);
        if (!source) return fail(2, error);
    } else {
        GeneratorOptions gen = opts->gen;
        gen.run_id = static_cast<std::uint32_t>(std::time(nullptr)) ^ static_cast<std::uint32_t>(getpid());
        source = std::make_unique<Generator>(gen);
    }

    if (opts->mode == Mode::PrintRequests) {
        std::vector<char> scratch(std::max<std::size_t>(source->max_size(), 1));
        for (std::uint64_t seq = 0; seq < opts->print_requests; ++seq) {
            const auto req = source->render(seq, scratch);
            std::fwrite(req.data(), 1, req.size(), stdout);
        }
        return 0;
    }

    const auto target = parse_endpoint(opts->target, error);
    if (!target) return fail(1, error);
    // Each connection is one descriptor; keep a few for stdio, the event loop, threads.
    const rlim_t wanted = rlim_t{opts->connections} + opts->idle + 64;
    if (wanted > nofile)
        return fail(2, fmt::format("{} connections need more than the open-file limit of {} allows (ulimit -n)",
                                   opts->connections + opts->idle, nofile));
    const int timeout_ms = static_cast<int>(opts->timeout.count());
    // Someone there? A clear "cannot connect" now beats a run of connect errors.
    const int probe = connect_wait(*target, timeout_ms, error);
    if (probe < 0) return fail(2, error);
    close(probe);
    IdleConnections idle;
    for (unsigned i = 0; i < opts->idle; ++i) {
        const int fd = connect_wait(*target, timeout_ms, error);
        if (fd < 0) return fail(2, fmt::format("idle connection {} of {}: {}", i + 1, opts->idle, error));
        idle.fds.push_back(fd);
    }

    LoadPlan plan;
    plan.target = *target;
    plan.connections = opts->connections;
    plan.threads = opts->threads;
    plan.requests = opts->requests;
    plan.duration = opts->duration;
    plan.max_duration = opts->max_duration;
    plan.timeout = opts->timeout;
    plan.reconnect_after = opts->reconnect_after;

    const LoadResult result = run_load(plan, *source);
    if (!result.internal_error.empty()) return fail(2, "internal error: " + result.internal_error);

    const RunInfo info{opts->target, source->describe(), opts->connections, opts->threads, opts->idle};
    switch (opts->format) {
    case Format::Text:
        fmt::print("{}", format_text(info, result));
        break;
    case Format::Json:
        fmt::print("{}\n", format_json(info, result));
        for (std::size_t k = 0; k < error_kinds; ++k) {
            if (!result.first_error[k].empty())
                fmt::print(stderr, "rpd-bench: first {} error: {}\n", to_string(static_cast<ErrorKind>(k)), result.first_error[k]);
        }
        break;
    case Format::Csv:
        if (opts->csv_header) fmt::print("{}\n", csv_header());
        fmt::print("{}\n", format_csv(info, result));
        break;
    }
    return result.error_total() > 0 || result.cut_by_cap ? 3 : 0;
}
