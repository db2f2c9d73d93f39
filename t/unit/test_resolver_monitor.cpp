// Resolver trouble is logged once per state change, never per query (SPEC §5).
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "server/resolver_monitor.hpp"

using namespace rpd;
using server::ResolverMonitor;

namespace {

struct Captured {
    std::vector<std::pair<log::Level, std::string>> lines;
    ResolverMonitor::Sink sink() {
        return [this](log::Level level, const std::string& line) { lines.emplace_back(level, line); };
    }
};

dns::DebugEvent try_failed(std::string_view server, std::string_view detail) {
    dns::DebugEvent ev;
    ev.kind = dns::DebugEvent::Kind::TryFailed;
    ev.name = "9.113.0.203.in-addr.arpa";
    ev.type = dns::RrType::Ptr;
    ev.server = server;
    ev.transport = "udp";
    ev.detail = detail;
    return ev;
}

dns::DebugEvent result(std::string_view server, const dns::DnsResult& r) {
    dns::DebugEvent ev;
    ev.kind = dns::DebugEvent::Kind::Result;
    ev.name = r.name;
    ev.type = r.type;
    ev.server = server;
    ev.transport = "udp";
    ev.result = &r;
    return ev;
}

}  // namespace

TEST_CASE("resolver monitor: a silent nameserver is logged once, and its return once", "[server][monitor]") {
    Captured out;
    ResolverMonitor monitor({}, out.sink());
    const auto t0 = ResolverMonitor::Clock::time_point{} + std::chrono::hours(1);
    for (int i = 0; i < 1000; ++i) monitor.on_event(try_failed("192.0.2.53:53", "timeout"), t0);
    REQUIRE(out.lines.size() == 1);
    CHECK(out.lines[0].first == log::Level::Warning);
    CHECK(out.lines[0].second == "nameserver 192.0.2.53:53 is not answering (timeout); logged once until it answers again");
    // Another server's trouble is its own line.
    monitor.on_event(try_failed("192.0.2.54:53", "Connection refused"), t0);
    CHECK(out.lines.size() == 2);
    // An answer (or a proven absence) from it ends the state: one line.
    dns::DnsResult nx;
    nx.status = dns::DnsStatus::NxDomain;
    nx.name = "9.113.0.203.in-addr.arpa";
    nx.type = dns::RrType::Ptr;
    for (int i = 0; i < 10; ++i) monitor.on_event(result("192.0.2.53:53", nx), t0);
    REQUIRE(out.lines.size() == 3);
    CHECK(out.lines[2].first == log::Level::Info);
    CHECK(out.lines[2].second == "nameserver 192.0.2.53:53 answers again");
    // A question that ended in a timeout is not "answering again".
    dns::DnsResult timeout;
    timeout.status = dns::DnsStatus::Timeout;
    monitor.on_event(result("192.0.2.54:53", timeout), t0);
    CHECK(out.lines.size() == 3);
    // A new silence after the return is a new state change.
    monitor.on_event(try_failed("192.0.2.53:53", "timeout"), t0);
    CHECK(out.lines.size() == 4);
}

TEST_CASE("resolver monitor: a SERVFAIL burst is logged once per window", "[server][monitor]") {
    Captured out;
    ResolverMonitor monitor({5, std::chrono::seconds(60)}, out.sink());
    auto now = ResolverMonitor::Clock::time_point{} + std::chrono::hours(1);
    for (int i = 0; i < 4; ++i) monitor.on_event(try_failed("127.0.0.1:53", "SERVFAIL"), now);
    CHECK(out.lines.empty());   // below the threshold: nothing
    for (int i = 0; i < 100; ++i) monitor.on_event(try_failed("127.0.0.1:53", "SERVFAIL"), now);
    REQUIRE(out.lines.size() == 1);
    CHECK(out.lines[0].first == log::Level::Warning);
    CHECK(out.lines[0].second.find("127.0.0.1:53: 5 SERVFAIL replies within 60s") != std::string::npos);
    // SERVFAIL is a reply: the server is not "not answering".
    CHECK(out.lines[0].second.find("not answering") == std::string::npos);
    // Still bursting in the next window: no new line.
    now += std::chrono::seconds(61);
    for (int i = 0; i < 10; ++i) monitor.on_event(try_failed("127.0.0.1:53", "SERVFAIL"), now);
    CHECK(out.lines.size() == 1);
    // A calm window (fewer than 5): one line when the next window starts.
    now += std::chrono::seconds(61);
    monitor.on_event(try_failed("127.0.0.1:53", "SERVFAIL"), now);
    now += std::chrono::seconds(61);
    monitor.on_event(try_failed("127.0.0.1:53", "SERVFAIL"), now);
    REQUIRE(out.lines.size() == 2);
    CHECK(out.lines[1].first == log::Level::Info);
    CHECK(out.lines[1].second.find("back below 5 per 60s") != std::string::npos);
}

TEST_CASE("resolver monitor: debug lines are one sanitised line", "[server][monitor]") {
    dns::DnsResult r;
    r.status = dns::DnsStatus::Answer;
    r.name = "44.2.0.192.in-addr.arpa";
    r.type = dns::RrType::Ptr;
    r.records = {"44.2.0.192.in-addr.arpa. 300 IN PTR evil\r\naction=OK."};
    r.ttl = 300;
    r.elapsed = std::chrono::microseconds(1500);
    const auto line = ResolverMonitor::describe(result("127.0.0.1:53", r));
    CHECK(line.find_first_of("\r\n") == std::string::npos);
    CHECK(line.rfind("dns: 44.2.0.192.in-addr.arpa PTR -> ANSWER: ", 0) == 0);
    CHECK(line.find("ttl=300 @127.0.0.1:53 1.5ms") != std::string::npos);
}
