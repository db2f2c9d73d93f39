// contrib/bench/dns_main.cpp -- rpd-bench-dns: the benchmark zone, answered after a fixed delay.
//
// Serves bench_zone.hpp's answers over UDP and TCP on one address and port, after
// `--delay` (0, 50 ms, 500 ms ...) or never (`--never`: queries are read and counted,
// not answered), and counts queries: in total, by type and, with --questions, by
// (name, type). The server itself is the test suite's fault responder
// (t/support/dns_responder): one libevent thread, delayed replies in one timer queue.
//
// Runs until SIGINT/SIGTERM (or --max-duration); then prints the counts on stderr and,
// with --stats FILE, writes them as one JSON object. SIGUSR1 prints them meanwhile.
// Exit status: 0; 1 usage error; 2 cannot listen.
#include <arpa/inet.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "bench_zone.hpp"
#include "support/dns_responder.hpp"
#include "util/duration.hpp"

namespace {

using namespace rpd;
using rpd::bench::bench_zone_answer;
using rpd::bench::ZoneReply;

constexpr std::string_view usage = R"(usage: rpd-bench-dns [options]
  --listen ADDR:PORT     127.0.0.1:55353; [::1]:PORT for IPv6; port 0 = any free port (printed)
  --delay D              answer every query D after it arrived ("0ms", "50ms", "500ms"; 0ms)
  --never                never answer (queries are still counted)
  --ttl D                TTL of every record and of negative answers (1h)
  --stats FILE           write the counts as JSON at exit
  --questions            also count by (name, type): memory grows with distinct questions
  --max-duration D       exit after D (default: run until SIGINT/SIGTERM)
SIGUSR1 prints the counts on stderr.
)";

struct Options {
    std::string address = "127.0.0.1";
    std::uint16_t port = 55353;
    std::chrono::milliseconds delay{0};
    bool never = false;
    std::uint32_t ttl = 3600;
    std::string stats_file;
    bool questions = false;
    std::chrono::milliseconds max_duration{0};
};

std::string type_name(std::uint16_t t) {
    switch (t) {
    case 1: return "A";
    case 2: return "NS";
    case 5: return "CNAME";
    case 6: return "SOA";
    case 12: return "PTR";
    case 15: return "MX";
    case 16: return "TXT";
    case 28: return "AAAA";
    default: return fmt::format("TYPE{}", t);
    }
}

// Counts, written on the responder's thread, read on the main thread.
class Counts {
public:
    explicit Counts(bool per_question) : per_question_(per_question) {}

    void add(const std::string& name, std::uint16_t type) {
        std::string key;
        if (per_question_) {
            key.reserve(name.size() + 8);
            for (const char c : name) key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            key += '/';
            key += type_name(type);
        }
        std::lock_guard lock(mu_);
        ++total_;
        ++by_type_[type];
        if (per_question_) ++questions_[key];
    }

    std::string summary() const {
        std::lock_guard lock(mu_);
        std::string types;
        for (const auto& [t, n] : by_type_) types += fmt::format(" {} {}", type_name(t), n);
        std::string out = fmt::format("queries {}{}{}", total_, types.empty() ? "" : ":", types);
        if (per_question_) {
            const auto [max_q, max_n] = busiest();
            out += fmt::format("; {} distinct questions, at most {} for one ({})", questions_.size(), max_n, max_q);
        }
        return out;
    }

    std::string json() const {
        std::lock_guard lock(mu_);
        std::string types;
        for (const auto& [t, n] : by_type_) types += fmt::format("{}\"{}\":{}", types.empty() ? "" : ",", type_name(t), n);
        std::string out = fmt::format("{{\"queries\":{},\"by_type\":{{{}}}", total_, types);
        if (per_question_) {
            const auto [max_q, max_n] = busiest();
            // Names come from the wire: only the generator's plain names are expected, but
            // escape anything that would break the JSON.
            auto quote = [](std::string_view s) {
                std::string q = "\"";
                for (const char c : s) {
                    const auto u = static_cast<unsigned char>(c);
                    if (c == '"' || c == '\\') q += fmt::format("\\{}", c);
                    else if (u < 0x20 || u >= 0x7f) q += fmt::format("\\u{:04x}", u);
                    else q += c;
                }
                return q + "\"";
            };
            std::vector<std::pair<std::string, std::uint64_t>> sorted(questions_.begin(), questions_.end());
            std::sort(sorted.begin(), sorted.end());
            std::string list;
            for (const auto& [q, n] : sorted) list += fmt::format("{}{}:{}", list.empty() ? "" : ",", quote(q), n);
            out += fmt::format(",\"distinct_questions\":{},\"max_per_question\":{},\"max_question\":{},\"questions\":{{{}}}",
                               questions_.size(), max_n, quote(max_q), list);
        }
        return out + "}";
    }

private:
    std::pair<std::string, std::uint64_t> busiest() const {
        std::pair<std::string, std::uint64_t> best{"", 0};
        for (const auto& [q, n] : questions_)
            if (n > best.second || (n == best.second && q < best.first)) best = {q, n};
        return best;
    }

    const bool per_question_;
    mutable std::mutex mu_;
    std::uint64_t total_ = 0;
    std::map<std::uint16_t, std::uint64_t> by_type_;
    std::unordered_map<std::string, std::uint64_t> questions_;
};

bool parse_listen(std::string_view text, Options& o) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    std::string host(text.substr(0, colon));
    const std::string_view port = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    unsigned char buf[16];
    if (inet_pton(host.find(':') == std::string::npos ? AF_INET : AF_INET6, host.c_str(), buf) != 1) return false;
    unsigned p = 0;
    const auto r = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || r.ec != std::errc{} || r.ptr != port.data() + port.size() || p > 65535) return false;
    o.address = host;
    o.port = static_cast<std::uint16_t>(p);
    return true;
}

int usage_error(const std::string& message) {
    fmt::print(stderr, "rpd-bench-dns: {} (try --help)\n", message);
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        auto value = [&]() -> std::optional<std::string_view> {
            if (i + 1 >= argc) return std::nullopt;
            return std::string_view(argv[++i]);
        };
        auto duration = [&](std::chrono::milliseconds& out, bool allow_zero) {
            const auto v = value();
            const auto d = v ? util::parse_duration(*v) : std::nullopt;
            if (!d || (!allow_zero && d->count() <= 0)) return false;
            out = *d;
            return true;
        };
        if (arg == "-h" || arg == "--help") {
            fmt::print("{}", usage);
            return 0;
        } else if (arg == "--listen") {
            const auto v = value();
            if (!v || !parse_listen(*v, o)) return usage_error("--listen: expected ADDR:PORT, e.g. 127.0.0.1:55353");
        } else if (arg == "--delay") {
            if (!duration(o.delay, true)) return usage_error("--delay: expected a duration like 0ms, 50ms, 500ms");
        } else if (arg == "--never") {
            o.never = true;
        } else if (arg == "--ttl") {
            std::chrono::milliseconds ttl{};
            if (!duration(ttl, false) || ttl.count() / 1000 == 0 || ttl.count() / 1000 > 0x7fffffff)
                return usage_error("--ttl: expected a duration of at least 1s");
            o.ttl = static_cast<std::uint32_t>(ttl.count() / 1000);
        } else if (arg == "--stats") {
            const auto v = value();
            if (!v) return usage_error("--stats needs a file");
            o.stats_file = std::string(*v);
        } else if (arg == "--questions") {
            o.questions = true;
        } else if (arg == "--max-duration") {
            if (!duration(o.max_duration, false)) return usage_error("--max-duration: expected a duration");
        } else {
            return usage_error(fmt::format("unknown argument {}", arg));
        }
    }

    // Signals are taken synchronously here; the responder's thread inherits the mask.
    sigset_t signals;
    sigemptyset(&signals);
    for (const int s : {SIGINT, SIGTERM, SIGUSR1}) sigaddset(&signals, s);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    Counts counts(o.questions);
    try {
        test::DnsResponder::Options ro;
        ro.address = o.address;
        ro.port = o.port;
        ro.compress = false;   // ldns's compression was 80% of this responder's CPU
        ro.keep_log = false;   // our own counts below
        test::DnsResponder responder(ro);
        responder.set_default([&](const test::SeenQuery& q) {
            counts.add(q.name, q.type);
            test::Plan plan;
            if (o.never) {
                plan.drop = true;
                return plan;
            }
            const auto z = bench_zone_answer(q.name, q.type, o.ttl);
            switch (z.kind) {
            case ZoneReply::Kind::Answer: plan = test::Plan::records(z.records); break;
            case ZoneReply::Kind::NoData: plan = test::Plan::nodata(z.zone, o.ttl, o.ttl); break;
            case ZoneReply::Kind::NxDomain: plan = test::Plan::nxdomain(z.zone, o.ttl, o.ttl); break;
            case ZoneReply::Kind::Refused: plan = test::Plan::rcode_only(LDNS_RCODE_REFUSED); break;
            }
            plan.delay = o.delay;
            return plan;
        });
        const auto where = o.address.find(':') == std::string::npos ? fmt::format("{}:{}", o.address, responder.port())
                                                                    : fmt::format("[{}]:{}", o.address, responder.port());
        fmt::print(stderr, "rpd-bench-dns: listening on {} (UDP and TCP), {}, TTL {}s\n", where,
                   o.never ? std::string("never answering") : fmt::format("answers after {} ms", o.delay.count()), o.ttl);
        std::fflush(stderr);

        const auto start = std::chrono::steady_clock::now();
        for (;;) {
            const timespec second{1, 0};
            const int sig = sigtimedwait(&signals, nullptr, &second);
            if (sig == SIGUSR1) {
                fmt::print(stderr, "rpd-bench-dns: {}\n", counts.summary());
                std::fflush(stderr);
            } else if (sig == SIGINT || sig == SIGTERM) {
                break;
            }
            if (o.max_duration.count() > 0 && std::chrono::steady_clock::now() - start >= o.max_duration) break;
        }
    } catch (const std::exception& e) {
        fmt::print(stderr, "rpd-bench-dns: {}\n", e.what());
        return 2;
    }

    fmt::print(stderr, "rpd-bench-dns: {}\n", counts.summary());
    if (!o.stats_file.empty()) {
        std::ofstream out(o.stats_file);
        out << counts.json() << '\n';
        if (!out) {
            fmt::print(stderr, "rpd-bench-dns: cannot write {}\n", o.stats_file);
            return 2;
        }
    }
    return 0;
}
