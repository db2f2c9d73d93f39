#include "server/resolver_monitor.hpp"

#include <fmt/format.h>

#include "log/logger.hpp"
#include "log/sanitize.hpp"

namespace rpd::server {

namespace {

bool is_timeout(std::string_view detail) noexcept { return detail == "timeout" || detail == "tcp timeout"; }

// A try that failed because the server did not talk to us at all (not: it said SERVFAIL).
bool is_silence(std::string_view detail) noexcept {
    return is_timeout(detail) || detail.starts_with("connection") || detail.find("refused") != std::string_view::npos ||
           detail.find("unreachable") != std::string_view::npos;
}

}  // namespace

ResolverMonitor::ResolverMonitor(Limits limits, Sink sink) : limits_(limits), sink_(std::move(sink)) {
    if (!sink_) sink_ = [](log::Level level, const std::string& line) { log::write(level, line); };
}

std::string ResolverMonitor::describe(const dns::DebugEvent& ev) {
    const auto name = log::sanitize(ev.name);
    const auto type = dns::to_string(ev.type);
    const auto server = ev.server.empty() ? std::string("-") : log::sanitize(ev.server);
    switch (ev.kind) {
    case dns::DebugEvent::Kind::Query:
        return fmt::format("dns: ask {} {} @{} {} id={}", name, type, server, ev.transport, ev.id);
    case dns::DebugEvent::Kind::Dropped:
        // No name: a datagram that no query on its socket was waiting for.
        if (ev.name.empty()) return fmt::format("dns: dropped a reply @{}: {}", server, log::sanitize(ev.detail));
        return fmt::format("dns: dropped a reply for {} {} @{}: {}", name, type, server, log::sanitize(ev.detail));
    case dns::DebugEvent::Kind::TryFailed:
        return fmt::format("dns: try failed {} {} @{} {}: {}", name, type, server, ev.transport,
                           log::sanitize(ev.detail));
    case dns::DebugEvent::Kind::Result: {
        if (ev.result == nullptr) return fmt::format("dns: {} {} ended", name, type);
        const auto& r = *ev.result;
        std::string records;
        for (const auto& rr : r.records) {
            if (!records.empty()) records += " | ";
            records += rr;
        }
        return fmt::format("dns: {} {} -> {}{}{} ttl={} @{}{} {:.1f}ms", name, type, dns::to_string(r.status),
                           records.empty() ? "" : ": ", log::sanitize(records, 1024), r.ttl, server,
                           r.from_cache ? " (cache)" : "",
                           static_cast<double>(r.elapsed.count()) / 1000.0);
    }
    }
    return {};
}

void ResolverMonitor::roll_window(const std::string& server, ServerState& s, Clock::time_point now) {
    if (now - s.window_start < limits_.window) return;
    if (s.servfail_burst && s.servfails < limits_.servfail_burst) {
        s.servfail_burst = false;
        sink_(log::Level::Info, fmt::format("nameserver {}: SERVFAIL replies back below {} per {}s",
                                            log::sanitize(server), limits_.servfail_burst, limits_.window.count()));
    }
    s.window_start = now;
    s.servfails = 0;
}

void ResolverMonitor::on_event(const dns::DebugEvent& ev, Clock::time_point now) {
    if (log::enabled(log::Level::Debug)) log::write(log::Level::Debug, describe(ev));
    if (ev.server.empty() || ev.transport == "cache") return;
    switch (ev.kind) {
    case dns::DebugEvent::Kind::Query: case dns::DebugEvent::Kind::Dropped: return;
    case dns::DebugEvent::Kind::TryFailed: {
        const std::string server(ev.server);
        auto& s = servers_[server];
        roll_window(server, s, now);
        if (ev.detail == "SERVFAIL") {
            if (++s.servfails == limits_.servfail_burst && !s.servfail_burst) {
                s.servfail_burst = true;
                sink_(log::Level::Warning,
                      fmt::format("nameserver {}: {} SERVFAIL replies within {}s (lookups count as tempfail; logged "
                                  "once until it calms down)",
                                  log::sanitize(server), s.servfails, limits_.window.count()));
            }
        } else if (is_silence(ev.detail) && !s.failing) {
            s.failing = true;
            s.failure = log::sanitize(ev.detail);
            sink_(log::Level::Warning, fmt::format("nameserver {} is not answering ({}); logged once until it "
                                                   "answers again",
                                                   log::sanitize(server), s.failure));
        }
        return;
    }
    case dns::DebugEvent::Kind::Result: {
        if (ev.result == nullptr) return;
        const auto status = ev.result->status;
        const bool answered = status == dns::DnsStatus::Answer || dns::proves_absence(status) ||
                              status == dns::DnsStatus::ServFail || status == dns::DnsStatus::Refused;
        if (!answered || servers_.empty()) return;   // the usual case: nothing failed, nothing to look up
        const auto it = servers_.find(std::string(ev.server));
        if (it == servers_.end() || !it->second.failing) return;
        it->second.failing = false;
        sink_(log::Level::Info, fmt::format("nameserver {} answers again", log::sanitize(ev.server)));
        return;
    }
    }
}

}  // namespace rpd::server
