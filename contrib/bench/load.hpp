// contrib/bench/load.hpp -- the load generator: N connections, one request in flight on each.
//
// Each connection sends a request, waits for its reply, checks it (reply.hpp) and
// sends the next, as Postfix's smtpd does with a policy server. A request ends as
// ok (latency recorded, action counted) or as one error: timeout, malformed reply,
// server closed the connection (eof), read or write error. After an error the
// connection is closed and a new one opened; connect errors are counted and retried
// after a short pause. The run stops issuing requests after `requests` or
// `duration`, lets those in flight finish, and is cut at `max_duration` whatever
// happens (requests still in flight then count as unfinished).
//
// Cost per request in steady state: one send(), usually one recv(), two clock reads,
// no allocation, no timer created (one lazy timeout timer per connection).
// Threads: each has its own event_base and share of the connections and requests.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "endpoint.hpp"
#include "histogram.hpp"
#include "requests.hpp"

namespace rpd::bench {

struct LoadPlan {
    Endpoint target;
    unsigned connections = 16;
    unsigned threads = 1;
    std::uint64_t requests = 0;                 // 0: until `duration`
    std::chrono::milliseconds duration{0};      // 0: until `requests`
    std::chrono::milliseconds max_duration{600'000};
    std::chrono::milliseconds timeout{15'000};  // per request, also per connect
    std::uint64_t reconnect_after = 0;          // requests per connection; 0 = never reconnect
};

enum class ErrorKind : std::uint8_t { Connect, Write, Read, Eof, Timeout, Malformed, Unfinished };
inline constexpr std::size_t error_kinds = 7;
constexpr std::string_view to_string(ErrorKind k) noexcept {
    switch (k) {
    case ErrorKind::Connect: return "connect";
    case ErrorKind::Write: return "write";
    case ErrorKind::Read: return "read";
    case ErrorKind::Eof: return "eof";
    case ErrorKind::Timeout: return "timeout";
    case ErrorKind::Malformed: return "malformed";
    case ErrorKind::Unfinished: return "unfinished";
    }
    return "unknown";
}

// Replies by the action's first word. Distinct words are capped so a server that
// answers garbage cannot grow it without bound; the rest count as "(other)".
class ActionCounts {
public:
    static constexpr std::size_t max_words = 32;
    void add(std::string_view word, std::uint64_t n = 1);
    void merge(const ActionCounts& other);
    // Most frequent first.
    std::vector<std::pair<std::string, std::uint64_t>> sorted() const;

private:
    std::vector<std::pair<std::string, std::uint64_t>> counts_;
};

struct LoadResult {
    std::uint64_t requests = 0;      // issued: ok + every error kind but connect
    std::uint64_t ok = 0;
    std::array<std::uint64_t, error_kinds> errors{};
    std::array<std::string, error_kinds> first_error;   // first message of each kind
    std::uint64_t connects = 0;      // connections established
    LatencyHistogram latency;        // of ok requests, in ns
    ActionCounts actions;
    double elapsed_s = 0;
    bool cut_by_cap = false;         // max_duration ended the run
    std::string internal_error;      // a bug in rpd-bench itself, never a server's fault

    std::uint64_t error_total() const noexcept;
    void count_error(ErrorKind kind, std::string_view message);
    void merge(const LoadResult& other);
};

// Runs the plan to its end. Blocking; uses plan.threads threads.
LoadResult run_load(const LoadPlan& plan, const RequestSource& source);

}  // namespace rpd::bench
