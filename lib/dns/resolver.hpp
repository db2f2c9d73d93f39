// lib/dns/resolver.hpp -- asynchronous DNS questions (UDP, TCP after truncation) on a libevent loop.
//
// Every question ends in exactly one DnsResult, delivered once, from the event loop,
// never from inside lookup() (a cache hit too arrives through a zero-delay event).
// Identical questions in flight share one query; at most [dns].max_inflight queries are
// out at once and the rest wait in FIFO order. A reply counts only if it comes from the
// server asked, with the same random ID and the same question; anything else is
// dropped, counted, and the query keeps waiting. EDNS0 offers 1232 bytes; a truncated
// (TC) reply is asked again over TCP.
//
// UDP goes through a randomised socket pool (SPEC §6): per nameserver up to
// ResolverOptions::udp_sockets sockets, each connect()ed to that server (the kernel
// drops datagrams from anyone else) from an ephemeral port the kernel picks at random.
// Each try goes out on one of them chosen at random, with an ID no other query on that
// socket holds; a socket is retired after udp_socket_uses tries and closed when its
// last one ends, so ports keep changing. A spoofer must still hit an open (port, ID)
// pair and the question; opening a socket per try cost a third of an uncached
// request's CPU (socket, connect, two epoll_ctl, close).
//
// Tries: for each nameserver in order, up to [dns].attempts tries of [dns].timeout each.
// A timeout or a socket error moves to the next try; a SERVFAIL, REFUSED or unusable
// reply moves to the next nameserver. When all are used up the question ends with the
// last server's reply if there was one (SERVFAIL, REFUSED, BADRESPONSE), else TIMEOUT or
// NETERROR. A try that saw only undecodable packets from its server ends as BADRESPONSE
// rather than TIMEOUT (a server that talks garbage is not silent).
//
// Results are cached per CachePolicy (positive by TTL, negative by RFC 2308 SOA minimum,
// failures for tempfail_ttl; a failure is never cached as "absent").
//
// Not here: what an answer means for a check (lib/checks), logging (the debug hook hands
// every question and answer to whoever wants them). Tickets must not outlive the
// resolver, and a callback must not destroy the resolver.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "dns/cache.hpp"
#include "dns/types.hpp"

struct event_base;

namespace rpd::dns {

// For /metrics. Monotonic; read with StubResolver::counters().
struct Counters {
    std::uint64_t lookups = 0;         // lookup() calls
    std::uint64_t cache_hits = 0;
    std::uint64_t cache_misses = 0;
    std::uint64_t coalesced = 0;       // lookups that joined an identical question in flight
    std::uint64_t queued = 0;          // questions that waited for a max_inflight slot
    std::uint64_t queries_sent = 0;    // every try: UDP datagrams and TCP queries
    std::uint64_t tcp_retries = 0;     // truncated UDP replies asked again over TCP
    std::uint64_t try_timeouts = 0;    // tries that got no usable reply in time
    std::uint64_t dropped = 0;         // replies not ours (wrong ID, question, source) or undecodable
    std::array<std::uint64_t, 8> results{};   // questions ended by the network, per DnsStatus

    std::uint64_t result(DnsStatus s) const noexcept { return results[static_cast<std::size_t>(s)]; }
};

// What the resolver does, step by step, for log.level = "debug" and `check`. The views
// are valid only during the call.
struct DebugEvent {
    enum class Kind : std::uint8_t {
        Query,       // a try was sent: server, transport, id
        Dropped,     // a reply was not ours: detail says why
        TryFailed,   // a try ended without an answer: detail ("timeout", "connection refused", ...)
        Result,      // the question ended (also from the cache): result
    };
    Kind kind = Kind::Query;
    std::string_view name;
    RrType type = RrType::A;
    std::string_view server;      // "127.0.0.1:53"; "" for a cache hit
    std::string_view transport;   // "udp", "tcp", "cache"
    std::uint16_t id = 0;
    std::string_view detail;
    const DnsResult* result = nullptr;
};
using DebugHook = std::function<void(const DebugEvent&)>;

struct ResolverOptions {
    // "Now" for the cache; tests inject a fake clock. Default: steady_clock::now.
    // (Timeouts are libevent timers and elapsed times are real, whatever this says.)
    std::function<TimePoint()> clock;
    // Read when [dns].nameservers is empty.
    std::string resolv_conf = "/etc/resolv.conf";
    // The UDP socket pool: sockets open at once per nameserver, and tries each carries
    // before it is retired (1: a fresh socket and port for every try).
    unsigned udp_sockets = 64;
    unsigned udp_socket_uses = 100;
    // Keep each answer RR's presentation text in DnsResult::records (`check`, debug
    // lines). Without it records stay empty: the daemon skips that work unless its log
    // level is debug (set_record_text). Answers cached before a change keep what they had.
    bool record_text = true;
};

class StubResolver final : public Resolver {
public:
    // `base` is not owned and must outlive the resolver.
    StubResolver(event_base* base, const config::DnsConfig& cfg, ResolverOptions options = {});
    ~StubResolver() override;
    StubResolver(const StubResolver&) = delete;
    StubResolver& operator=(const StubResolver&) = delete;

    // A name that cannot be a domain name (empty label, over 63/255 octets) ends as
    // BadResponse with server "", without a packet sent: never as "absent".
    Ticket lookup(std::string_view name, RrType type, Callback callback) override;

    const Counters& counters() const noexcept;
    void set_debug(DebugHook hook);
    void set_record_text(bool on) noexcept;   // ResolverOptions::record_text, from now on
    const std::vector<config::NameServer>& nameservers() const noexcept;
    std::size_t outstanding() const noexcept;   // queries at the servers now
    std::size_t waiting() const noexcept;       // queries waiting for a max_inflight slot
    std::size_t cache_size() const noexcept;
    void clear_cache() noexcept;

protected:
    void cancel(std::uint64_t id) noexcept override;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rpd::dns
