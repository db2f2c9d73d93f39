#include "dns/resolver.hpp"

#include <event2/event.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <optional>
#include <random>
#include <unordered_map>

#include "dns/nameservers.hpp"
#include "dns/wire.hpp"

namespace rpd::dns {

namespace {

using EventPtr = util::CPtr<event, event_free>;
using RealClock = std::chrono::steady_clock;

// An owned file descriptor.
class Fd {
public:
    Fd() = default;
    ~Fd() { reset(); }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const noexcept { return fd_; }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

// Query IDs: 16 random bits each from getrandom(2), fetched in batches. GRND_NONBLOCK:
// should the kernel pool not be ready (only early at boot) we fall back to
// std::random_device rather than wait.
class IdSource {
public:
    std::uint16_t next() {
        if (pos_ == buf_.size()) refill();
        return buf_[pos_++];
    }

private:
    void refill() {
        auto* bytes = reinterpret_cast<std::uint8_t*>(buf_.data());
        const std::size_t want = buf_.size() * sizeof(buf_[0]);
        std::size_t got = 0;
        while (got < want) {
            const ssize_t n = ::getrandom(bytes + got, want - got, GRND_NONBLOCK);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            got += static_cast<std::size_t>(n);
        }
        if (got < want) {
            std::random_device rd;
            for (std::size_t i = got / 2; i < buf_.size(); ++i) buf_[i] = static_cast<std::uint16_t>(rd());
        }
        pos_ = 0;
    }
    std::array<std::uint16_t, 256> buf_{};
    std::size_t pos_ = buf_.size();
};

struct ServerAddress {
    sockaddr_storage sa{};
    socklen_t len = 0;
    int family = AF_INET;
    std::string text;
};

ServerAddress to_sockaddr(const config::NameServer& ns) {
    ServerAddress out;
    out.text = ns.text.empty() ? server_text(ns.address, ns.port) : ns.text;
    if (ns.address.is_v4()) {
        auto* sin = reinterpret_cast<sockaddr_in*>(&out.sa);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(ns.port);
        std::memcpy(&sin->sin_addr, ns.address.bytes(), 4);
        out.len = sizeof(sockaddr_in);
        out.family = AF_INET;
    } else {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.sa);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(ns.port);
        std::memcpy(&sin6->sin6_addr, ns.address.bytes(), 16);
        out.len = sizeof(sockaddr_in6);
        out.family = AF_INET6;
    }
    return out;
}

bool same_peer(const sockaddr_storage& a, socklen_t alen, const ServerAddress& b) noexcept {
    if (a.ss_family != b.family) return false;
    if (a.ss_family == AF_INET) {
        if (alen < static_cast<socklen_t>(sizeof(sockaddr_in))) return false;
        const auto* x = reinterpret_cast<const sockaddr_in*>(&a);
        const auto* y = reinterpret_cast<const sockaddr_in*>(&b.sa);
        return x->sin_port == y->sin_port && std::memcmp(&x->sin_addr, &y->sin_addr, 4) == 0;
    }
    if (alen < static_cast<socklen_t>(sizeof(sockaddr_in6))) return false;
    const auto* x = reinterpret_cast<const sockaddr_in6*>(&a);
    const auto* y = reinterpret_cast<const sockaddr_in6*>(&b.sa);
    return x->sin6_port == y->sin6_port && std::memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

timeval to_timeval(std::chrono::microseconds d) noexcept {
    if (d.count() < 0) d = std::chrono::microseconds{0};
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(d.count() / 1'000'000);
    tv.tv_usec = static_cast<suseconds_t>(d.count() % 1'000'000);
    return tv;
}

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

struct StubResolver::Impl {
    struct Query;

    // A pooled UDP socket, connected to one server (resolver.hpp: the socket pool).
    struct UdpSocket {
        Impl* impl = nullptr;
        std::size_t server = 0;                             // index into Impl::addresses
        unsigned uses = 0;                                  // tries sent on it
        bool retired = false;                               // takes no new try
        std::unordered_map<std::uint16_t, Query*> tries;    // its tries waiting for a reply, by ID
        Fd fd;
        EventPtr readable;   // after fd: the event goes first on destruction
    };

    struct Waiter {
        Callback callback;
        Query* query = nullptr;              // null for a result that is ready (cache hit)
        std::string asked;                   // the name as this caller wrote it
        std::optional<DnsResult> ready;
    };

    enum class Transport : std::uint8_t { None, Udp, Tcp };

    // One question on the wire, shared by every waiter that asked it.
    struct Query {
        Impl* impl = nullptr;
        std::string key;
        Question question;
        std::vector<std::uint64_t> waiter_ids;
        std::size_t live_waiters = 0;
        RealClock::time_point started{};
        bool done = false;

        std::size_t server = 0;              // index into Impl::servers
        unsigned attempt = 0;                // tries made at this server
        std::string last_server;
        DnsStatus last_failure = DnsStatus::Timeout;
        std::optional<DnsResult> server_failure;   // the last SERVFAIL/REFUSED/BADRESPONSE reply

        // The current try: on a pooled UDP socket, or on its own TCP connection (fd
        // before the events: the events go first on destruction).
        Transport transport = Transport::None;
        std::uint16_t id = 0;
        UdpSocket* udp = nullptr;
        Fd fd;
        EventPtr readable;
        EventPtr writable;
        EventPtr timer;
        bool garbage_seen = false;           // undecodable bytes from the server this try
        std::optional<DnsStatus> deferred_failure;   // a try that failed before it was sent
        std::string deferred_detail;
        std::vector<std::uint8_t> tcp_out;
        std::size_t tcp_written = 0;
        std::vector<std::uint8_t> tcp_in;
        bool tcp_connecting = false;
    };

    event_base* base;
    config::DnsConfig cfg;
    std::vector<config::NameServer> servers;
    std::vector<ServerAddress> addresses;
    CachePolicy policy;
    Cache cache;
    std::function<TimePoint()> clock;
    Counters counters;
    DebugHook debug;
    IdSource ids;
    std::vector<std::uint8_t> rx = std::vector<std::uint8_t>(65'536);

    std::uint64_t next_ticket = 1;
    std::unordered_map<std::uint64_t, Waiter> waiters;
    std::deque<std::uint64_t> ready;         // waiters whose result is delivered next turn
    EventPtr ready_event;
    bool ready_scheduled = false;

    std::unordered_map<std::string, std::unique_ptr<Query>> inflight;   // sent or queued
    std::deque<Query*> fifo;
    std::size_t active = 0;
    std::vector<std::unique_ptr<Query>> finished;   // freed on the next turn, off their own stack
    EventPtr reap_event;
    bool reap_scheduled = false;

    bool record_text;
    unsigned udp_sockets_max;                              // ResolverOptions, clamped
    unsigned udp_socket_uses;
    std::vector<std::vector<std::unique_ptr<UdpSocket>>> udp_pool;   // per server: every open socket
    std::vector<std::vector<UdpSocket*>> udp_usable;                 // per server: those not retired
    std::vector<std::unique_ptr<UdpSocket>> closed_sockets;          // freed on the next turn

    Impl(event_base* b, const config::DnsConfig& c, ResolverOptions options)
        : base(b),
          cfg(c),
          servers(effective_nameservers(c, options.resolv_conf)),
          policy(CachePolicy::from(c)),
          cache(c.cache_entries),
          clock(options.clock ? std::move(options.clock) : [] { return RealClock::now(); }),
          record_text(options.record_text),
          udp_sockets_max(std::clamp(options.udp_sockets, 1u, 1024u)),
          // Bounded so that a socket's tries never hold a large share of the 65,536 IDs.
          udp_socket_uses(std::clamp(options.udp_socket_uses, 1u, 4096u)) {
        for (const auto& ns : servers) addresses.push_back(to_sockaddr(ns));
        udp_pool.resize(addresses.size());
        udp_usable.resize(addresses.size());
        ready_event.reset(event_new(base, -1, 0, &Impl::on_ready, this));
        reap_event.reset(event_new(base, -1, 0, &Impl::on_reap, this));
        if (!ready_event || !reap_event) throw std::bad_alloc();
    }

    ~Impl() {
        // The queries, with their events and sockets, while the event base is still there.
        // No callback runs from here on.
        fifo.clear();
        inflight.clear();
        finished.clear();
        udp_usable.clear();
        udp_pool.clear();
        closed_sockets.clear();
    }

    std::chrono::microseconds timeout() const noexcept {
        return std::chrono::duration_cast<std::chrono::microseconds>(cfg.timeout);
    }
    unsigned attempts() const noexcept { return std::max(1u, cfg.attempts); }
    std::size_t max_inflight() const noexcept { return std::max<std::size_t>(1, cfg.max_inflight); }

    // ---- observers ----------------------------------------------------------------------

    void emit(DebugEvent::Kind kind, const Query& q, std::string_view transport, std::string_view detail,
              const DnsResult* result = nullptr) noexcept {
        if (!debug) return;
        DebugEvent ev;
        ev.kind = kind;
        ev.name = q.question.text;
        ev.type = q.question.type;
        ev.server = q.last_server;
        ev.transport = transport;
        ev.id = q.id;
        ev.detail = detail;
        ev.result = result;
        try {
            debug(ev);
        } catch (...) {   // an observer must not break a query
        }
    }

    // A question that ended without a query of its own (cache hit, unaskable name).
    void emit_result(const DnsResult& r, std::string_view transport) noexcept {
        if (!debug) return;
        DebugEvent ev;
        ev.kind = DebugEvent::Kind::Result;
        ev.name = r.name;
        ev.type = r.type;
        ev.server = r.server;
        ev.transport = transport;
        ev.result = &r;
        try {
            debug(ev);
        } catch (...) {
        }
    }

    static std::string_view transport_name(Transport t) noexcept {
        switch (t) {
        case Transport::Udp: return "udp";
        case Transport::Tcp: return "tcp";
        case Transport::None: return "";
        }
        return "";
    }

    // ---- asking -------------------------------------------------------------------------

    Ticket lookup(StubResolver* self, std::string_view name, RrType type, Callback callback) {
        ++counters.lookups;
        const std::uint64_t ticket = next_ticket++;
        auto question = make_question(name, type);
        if (!question) {
            DnsResult r;
            r.status = DnsStatus::BadResponse;   // cannot be asked; never "absent"
            r.name = std::string(name);
            r.type = type;
            emit_result(r, "");
            deliver_later(ticket, std::move(callback), std::move(r));
            return Ticket(self, ticket);
        }
        std::string key = question_key(*question);
        if (auto hit = cache.find(key, clock())) {
            ++counters.cache_hits;
            hit->name = question->text;
            emit_result(*hit, "cache");
            deliver_later(ticket, std::move(callback), std::move(*hit));
            return Ticket(self, ticket);
        }
        ++counters.cache_misses;

        if (auto it = inflight.find(key); it != inflight.end()) {
            ++counters.coalesced;
            Query& q = *it->second;
            q.waiter_ids.push_back(ticket);
            ++q.live_waiters;
            waiters.emplace(ticket, Waiter{std::move(callback), &q, question->text, std::nullopt});
            return Ticket(self, ticket);
        }

        auto owned = std::make_unique<Query>();
        Query& q = *owned;
        q.impl = this;
        q.key = key;
        q.question = std::move(*question);
        q.waiter_ids.push_back(ticket);
        q.live_waiters = 1;
        waiters.emplace(ticket, Waiter{std::move(callback), &q, q.question.text, std::nullopt});
        inflight.emplace(std::move(key), std::move(owned));
        if (active < max_inflight()) {
            ++active;
            start_query(q);
        } else {
            ++counters.queued;
            fifo.push_back(&q);
        }
        return Ticket(self, ticket);
    }

    void deliver_later(std::uint64_t ticket, Callback callback, DnsResult result) {
        std::string asked = result.name;
        waiters.emplace(ticket, Waiter{std::move(callback), nullptr, std::move(asked), std::move(result)});
        ready.push_back(ticket);
        if (!ready_scheduled) {
            ready_scheduled = true;
            event_active(ready_event.get(), 0, 0);
        }
    }

    void cancel(std::uint64_t ticket) noexcept {
        auto it = waiters.find(ticket);
        if (it == waiters.end()) return;
        if (it->second.query != nullptr && it->second.query->live_waiters > 0) --it->second.query->live_waiters;
        waiters.erase(it);
    }

    void start_query(Query& q) {
        q.started = RealClock::now();
        q.timer.reset(evtimer_new(base, &Impl::on_timer, &q));
        if (!q.timer) throw std::bad_alloc();
        start_try(q);
    }

    // Starts the next waiting queries while there is room. One whose callers have all
    // gone away is dropped unsent: under overload nobody would read its answer.
    void pump() {
        while (active < max_inflight() && !fifo.empty()) {
            Query* q = fifo.front();
            fifo.pop_front();
            if (q->live_waiters == 0) {
                const std::string key = q->key;   // not a reference into the node being erased
                inflight.erase(key);
                continue;
            }
            ++active;
            start_query(*q);
        }
    }

    void arm_timer(Query& q, std::chrono::microseconds d) {
        const timeval tv = to_timeval(d);
        event_add(q.timer.get(), &tv);
    }

    // A try that failed before anything was sent still ends from the loop, never inside
    // lookup(): the failure is noted and the timer fires at once.
    void defer_failure(Query& q, DnsStatus status, std::string detail) {
        q.deferred_failure = status;
        q.deferred_detail = std::move(detail);
        arm_timer(q, std::chrono::microseconds{0});
    }

    void close_try(Query& q) noexcept {
        if (q.udp != nullptr) {
            release_try(*q.udp, q.id);
            q.udp = nullptr;
        }
        q.readable.reset();
        q.writable.reset();
        q.fd.reset();
        if (q.timer) event_del(q.timer.get());
        q.transport = Transport::None;
        q.garbage_seen = false;
        q.deferred_failure.reset();
        q.deferred_detail.clear();
        q.tcp_out.clear();
        q.tcp_in.clear();
        q.tcp_written = 0;
        q.tcp_connecting = false;
    }

    void start_try(Query& q) {
        close_try(q);
        const ServerAddress& server = addresses[q.server];
        q.last_server = server.text;
        q.transport = Transport::Udp;
        int err = 0;
        UdpSocket* socket = udp_socket(q.server, err);
        if (socket == nullptr) return defer_failure(q, DnsStatus::NetError, errno_text(err));
        q.id = unused_id(*socket);
        const auto wire = build_query(q.question, q.id);
        if (wire.empty()) return defer_failure(q, DnsStatus::NetError, "cannot build the query");
        const ssize_t n = ::send(socket->fd.get(), wire.data(), wire.size(), 0);
        if (n != static_cast<ssize_t>(wire.size())) {
            // ECONNREFUSED here reports an earlier ICMP error: this server is not listening.
            const std::string detail = n < 0 ? errno_text(errno) : "short send";
            retire(*socket);
            return defer_failure(q, DnsStatus::NetError, detail);
        }
        socket->tries.emplace(q.id, &q);
        q.udp = socket;
        if (++socket->uses >= udp_socket_uses) retire(*socket);
        ++counters.queries_sent;
        emit(DebugEvent::Kind::Query, q, "udp", {});
        arm_timer(q, timeout());
    }

    // ---- the UDP socket pool --------------------------------------------------------------

    // A socket for a try to `server`: a new one while the pool has room, else one of
    // the open ones at random. Null with `err` set if none can be had.
    UdpSocket* udp_socket(std::size_t server, int& err) {
        auto& usable = udp_usable[server];
        if (usable.size() < udp_sockets_max) {
            if (UdpSocket* fresh = open_socket(server, err)) return fresh;
            if (usable.empty()) return nullptr;
        }
        return usable[ids.next() % usable.size()];
    }

    UdpSocket* open_socket(std::size_t server, int& err) {
        const ServerAddress& sa = addresses[server];
        auto socket = std::make_unique<UdpSocket>();
        socket->impl = this;
        socket->server = server;
        const int fd = ::socket(sa.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            return nullptr;
        }
        socket->fd.reset(fd);
        // connect(): the kernel picks a random ephemeral port, and drops datagrams from
        // anyone but the server.
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa.sa), sa.len) != 0) {
            err = errno;
            return nullptr;
        }
        socket->readable.reset(event_new(base, fd, EV_READ | EV_PERSIST, &Impl::on_udp_readable, socket.get()));
        if (!socket->readable) throw std::bad_alloc();
        event_add(socket->readable.get(), nullptr);
        UdpSocket* raw = socket.get();
        udp_pool[server].push_back(std::move(socket));
        udp_usable[server].push_back(raw);
        return raw;
    }

    // A random ID that no other try on this socket holds (at most udp_socket_uses do).
    std::uint16_t unused_id(const UdpSocket& socket) {
        for (int i = 0; i < 16; ++i) {
            const std::uint16_t id = ids.next();
            if (!socket.tries.contains(id)) return id;
        }
        std::uint16_t id = ids.next();
        while (socket.tries.contains(id)) ++id;   // ends: fewer than 4,097 are taken
        return id;
    }

    // No new try goes to this socket; it closes when its last one ends.
    void retire(UdpSocket& socket) noexcept {
        if (socket.retired) return;
        socket.retired = true;
        auto& usable = udp_usable[socket.server];
        if (const auto it = std::find(usable.begin(), usable.end(), &socket); it != usable.end()) {
            *it = usable.back();
            usable.pop_back();
        }
        if (socket.tries.empty()) close_later(socket);
    }

    void release_try(UdpSocket& socket, std::uint16_t id) noexcept {
        socket.tries.erase(id);
        if (socket.retired && socket.tries.empty()) close_later(socket);
    }

    // Out of the pool now, closed on the next turn: we may be inside its own callback.
    void close_later(UdpSocket& socket) noexcept {
        auto& pool = udp_pool[socket.server];
        const auto it = std::find_if(pool.begin(), pool.end(), [&](const auto& p) { return p.get() == &socket; });
        if (it == pool.end()) return;
        try {
            closed_sockets.push_back(std::move(*it));
        } catch (...) {   // no room to defer: it stays in the pool, retired and idle
            return;
        }
        *it = std::move(pool.back());
        pool.pop_back();
        if (!reap_scheduled) {
            reap_scheduled = true;
            event_active(reap_event.get(), 0, 0);
        }
    }

    // A reply on a pooled socket goes to the try with its ID; that try checks the rest.
    void udp_readable(UdpSocket& socket) {
        for (int i = 0; i < 64; ++i) {   // bounded: other events get their turn
            sockaddr_storage from{};
            socklen_t len = sizeof(from);
            const ssize_t n =
                ::recvfrom(socket.fd.get(), rx.data(), rx.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;
                // ECONNREFUSED: an ICMP port unreachable for our connected socket. It says
                // the server is not listening, whichever try it came for: all of them fail.
                return socket_failed(socket, errno);
            }
            if (!same_peer(from, len, addresses[socket.server])) {
                drop_unmatched(socket, "wrong source");
                continue;
            }
            const auto it = n >= 2 ? socket.tries.find(static_cast<std::uint16_t>((rx[0] << 8) | rx[1]))
                                   : socket.tries.end();
            if (it == socket.tries.end()) {
                drop_unmatched(socket, n >= 2 ? "wrong id" : "undecodable");
                continue;
            }
            Query& q = *it->second;
            try {
                take_message(q, {rx.data(), static_cast<std::size_t>(n)});
            } catch (...) {
                abort(q);
            }
        }
    }

    void socket_failed(UdpSocket& socket, int err) {
        retire(socket);
        std::vector<Query*> tries;
        tries.reserve(socket.tries.size());
        for (const auto& [id, q] : socket.tries) tries.push_back(q);
        const std::string detail = errno_text(err);
        // A try's end may end its question and call out, but frees no query before the
        // next turn, and nothing new goes to a retired socket.
        for (Query* q : tries) {
            if (q->udp != &socket) continue;
            try {
                try_failed(*q, DnsStatus::NetError, detail, false);
            } catch (...) {
                abort(*q);
            }
        }
    }

    // A datagram no try on the socket asked for.
    void drop_unmatched(const UdpSocket& socket, std::string_view why) noexcept {
        ++counters.dropped;
        if (!debug) return;
        DebugEvent ev;
        ev.kind = DebugEvent::Kind::Dropped;
        ev.server = addresses[socket.server].text;
        ev.transport = "udp";
        ev.detail = why;
        try {
            debug(ev);
        } catch (...) {
        }
    }

    void start_tcp(Query& q) {
        close_try(q);
        const ServerAddress& server = addresses[q.server];
        q.transport = Transport::Tcp;
        q.id = ids.next();
        const auto wire = build_query(q.question, q.id);
        if (wire.empty()) return defer_failure(q, DnsStatus::NetError, "cannot build the query");
        // RFC 1035 4.2.2: over TCP each message is preceded by its length, two octets.
        q.tcp_out.reserve(wire.size() + 2);
        q.tcp_out.push_back(static_cast<std::uint8_t>(wire.size() >> 8));
        q.tcp_out.push_back(static_cast<std::uint8_t>(wire.size() & 0xff));
        q.tcp_out.insert(q.tcp_out.end(), wire.begin(), wire.end());
        const int fd = ::socket(server.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) return defer_failure(q, DnsStatus::NetError, errno_text(errno));
        q.fd.reset(fd);
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&server.sa), server.len) != 0 && errno != EINPROGRESS) {
            return defer_failure(q, DnsStatus::NetError, errno_text(errno));
        }
        q.tcp_connecting = true;
        ++counters.queries_sent;
        emit(DebugEvent::Kind::Query, q, "tcp", {});
        q.writable.reset(event_new(base, fd, EV_WRITE | EV_PERSIST, &Impl::on_tcp_writable, &q));
        q.readable.reset(event_new(base, fd, EV_READ | EV_PERSIST, &Impl::on_tcp_readable, &q));
        if (!q.writable || !q.readable) throw std::bad_alloc();
        event_add(q.writable.get(), nullptr);
        arm_timer(q, timeout());
    }

    // ---- replies ------------------------------------------------------------------------

    void drop(Query& q, std::string_view why) {
        ++counters.dropped;
        emit(DebugEvent::Kind::Dropped, q, transport_name(q.transport), why);
    }

    // Looks at one message from the server. True if it ended the try (the caller must
    // then stop touching the socket).
    bool take_message(Query& q, std::span<const std::uint8_t> bytes) {
        auto pkt = decode(bytes);
        if (!pkt) {
            q.garbage_seen = true;
            drop(q, "undecodable");
            return false;
        }
        const ReplyMatch m = match_reply(*pkt, q.id, q.question);
        if (m != ReplyMatch::Ours) {
            drop(q, to_string(m));
            return false;
        }
        if (q.transport == Transport::Udp && ldns_pkt_tc(pkt.get())) {
            ++counters.tcp_retries;
            emit(DebugEvent::Kind::TryFailed, q, "udp", "truncated, retrying over tcp");
            start_tcp(q);
            return true;
        }
        DnsResult r = interpret(*pkt, q.question, record_text);
        r.server = q.last_server;
        switch (r.status) {
        case DnsStatus::Answer: case DnsStatus::NxDomain: case DnsStatus::NoData:
            finish(q, std::move(r));
            return true;
        case DnsStatus::ServFail: case DnsStatus::Refused: case DnsStatus::BadResponse:
        case DnsStatus::Timeout: case DnsStatus::NetError:
            break;
        }
        // This server could not answer: the next one may.
        const DnsStatus status = r.status;
        q.server_failure = std::move(r);
        try_failed(q, status, to_string(status), true);
        return true;
    }

    void tcp_writable(Query& q) {
        if (q.tcp_connecting) {
            int err = 0;
            socklen_t len = sizeof(err);
            if (::getsockopt(q.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
            if (err != 0) return try_failed(q, DnsStatus::NetError, errno_text(err), false);
            q.tcp_connecting = false;
        }
        while (q.tcp_written < q.tcp_out.size()) {
            const ssize_t n = ::send(q.fd.get(), q.tcp_out.data() + q.tcp_written, q.tcp_out.size() - q.tcp_written,
                                     MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;   // the rest when writable
                return try_failed(q, DnsStatus::NetError, errno_text(errno), false);
            }
            q.tcp_written += static_cast<std::size_t>(n);
        }
        event_del(q.writable.get());
        event_add(q.readable.get(), nullptr);
    }

    void tcp_readable(Query& q) {
        constexpr std::size_t chunk = 4096;
        for (int i = 0; i < 64; ++i) {
            const std::size_t old = q.tcp_in.size();
            q.tcp_in.resize(old + chunk);
            const ssize_t n = ::recv(q.fd.get(), q.tcp_in.data() + old, chunk, 0);
            if (n < 0) {
                q.tcp_in.resize(old);
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;
                return try_failed(q, DnsStatus::NetError, errno_text(errno), false);
            }
            if (n == 0) {
                q.tcp_in.resize(old);
                const DnsStatus status = q.garbage_seen ? DnsStatus::BadResponse : DnsStatus::NetError;
                return try_failed(q, status, old == 0 ? "connection closed" : "connection closed mid-message", false);
            }
            q.tcp_in.resize(old + static_cast<std::size_t>(n));
            // Every complete message in the buffer, in order; a partial one waits.
            while (q.tcp_in.size() >= 2) {
                const std::size_t size = (std::size_t{q.tcp_in[0]} << 8) | q.tcp_in[1];
                if (q.tcp_in.size() < 2 + size) break;
                std::vector<std::uint8_t> message(q.tcp_in.begin() + 2, q.tcp_in.begin() + 2 + static_cast<std::ptrdiff_t>(size));
                q.tcp_in.erase(q.tcp_in.begin(), q.tcp_in.begin() + 2 + static_cast<std::ptrdiff_t>(size));
                if (take_message(q, message)) return;
            }
        }
    }

    void try_expired(Query& q) {
        if (q.deferred_failure) {
            const DnsStatus status = *q.deferred_failure;
            const std::string detail = q.deferred_detail;
            return try_failed(q, status, detail, false);
        }
        ++counters.try_timeouts;
        if (q.garbage_seen) return try_failed(q, DnsStatus::BadResponse, "timeout after undecodable replies", false);
        try_failed(q, DnsStatus::Timeout, q.transport == Transport::Tcp ? "tcp timeout" : "timeout", false);
    }

    // This try is over without an answer: next try at this server, or the next server
    // (`next_server`: it answered, unusably), or the end.
    void try_failed(Query& q, DnsStatus status, std::string_view detail, bool next_server) {
        emit(DebugEvent::Kind::TryFailed, q, transport_name(q.transport), detail);
        close_try(q);
        q.last_failure = status;
        if (next_server || ++q.attempt >= attempts()) {
            q.attempt = 0;
            ++q.server;
        }
        if (q.server < addresses.size()) return start_try(q);
        if (q.server_failure) return finish(q, std::move(*q.server_failure));
        DnsResult r;
        r.status = q.last_failure;
        finish(q, std::move(r));
    }

    // ---- the end of a question ----------------------------------------------------------

    void finish(Query& q, DnsResult r) {
        if (q.done) return;
        q.done = true;
        const std::string_view transport = transport_name(q.transport);   // "" if no try is open
        r.name = q.question.text;
        r.type = q.question.type;
        if (r.server.empty()) r.server = q.last_server;
        r.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(RealClock::now() - q.started);
        r.from_cache = false;
        ++counters.results[static_cast<std::size_t>(r.status)];
        emit(DebugEvent::Kind::Result, q, transport, {}, &r);
        close_try(q);

        try {
            const auto lifetime = policy.lifetime(r);
            if (lifetime.count() > 0) {
                const TimePoint now = clock();
                cache.insert(q.key, r, now, now + lifetime);
            }
        } catch (...) {   // not cached (out of memory): the waiters still get their answer
        }

        // Remove before calling out: a waiter may ask the same question again, and that
        // must start a new query, not join this finished one.
        auto node = inflight.extract(q.key);
        std::unique_ptr<Query> owned = node ? std::move(node.mapped()) : nullptr;
        --active;
        try {
            pump();
        } catch (...) {   // out of memory starting the next one: this question still ends
        }
        for (const std::uint64_t ticket : q.waiter_ids) {
            auto it = waiters.find(ticket);
            if (it == waiters.end()) continue;   // cancelled, possibly by an earlier waiter
            Waiter w = std::move(it->second);
            waiters.erase(it);
            call(w, r);
        }
        if (owned) {
            finished.push_back(std::move(owned));
            if (!reap_scheduled) {
                reap_scheduled = true;
                event_active(reap_event.get(), 0, 0);
            }
        }
    }

    static void call(Waiter& w, const DnsResult& r) noexcept {
        try {
            if (w.asked == r.name) {
                w.callback(r);
            } else {
                DnsResult mine = r;   // "Host.Example.Test" shares the query of "host.example.test"
                mine.name = w.asked;
                w.callback(mine);
            }
        } catch (...) {   // a caller's exception must not cost the other waiters their answer
        }
    }

    // Something threw inside a callback of ours (allocation failure): end the question
    // rather than leave its waiters hanging.
    void abort(Query& q) noexcept {
        try {
            DnsResult r;
            r.status = DnsStatus::NetError;
            finish(q, std::move(r));
        } catch (...) {
        }
    }

    // ---- libevent trampolines: no exception crosses them --------------------------------

    template <class F>
    static void guarded(void* arg, F&& f) noexcept {
        auto* q = static_cast<Query*>(arg);
        try {
            f(*q->impl, *q);
        } catch (...) {
            q->impl->abort(*q);
        }
    }

    static void on_timer(evutil_socket_t, short, void* arg) noexcept {
        guarded(arg, [](Impl& impl, Query& q) { impl.try_expired(q); });
    }
    static void on_udp_readable(evutil_socket_t, short, void* arg) noexcept {
        auto* socket = static_cast<UdpSocket*>(arg);
        try {
            socket->impl->udp_readable(*socket);
        } catch (...) {   // each message's own failure is handled inside; nothing else throws
        }
    }
    static void on_tcp_writable(evutil_socket_t, short, void* arg) noexcept {
        guarded(arg, [](Impl& impl, Query& q) { impl.tcp_writable(q); });
    }
    static void on_tcp_readable(evutil_socket_t, short, void* arg) noexcept {
        guarded(arg, [](Impl& impl, Query& q) { impl.tcp_readable(q); });
    }

    static void on_ready(evutil_socket_t, short, void* arg) noexcept {
        auto* impl = static_cast<Impl*>(arg);
        impl->ready_scheduled = false;
        std::deque<std::uint64_t> batch;
        batch.swap(impl->ready);
        for (const std::uint64_t ticket : batch) {
            auto it = impl->waiters.find(ticket);
            if (it == impl->waiters.end()) continue;
            Waiter w = std::move(it->second);
            impl->waiters.erase(it);
            if (w.ready) call(w, *w.ready);
        }
    }

    static void on_reap(evutil_socket_t, short, void* arg) noexcept {
        auto* impl = static_cast<Impl*>(arg);
        impl->reap_scheduled = false;
        impl->finished.clear();
        impl->closed_sockets.clear();
    }
};

StubResolver::StubResolver(event_base* base, const config::DnsConfig& cfg, ResolverOptions options)
    : impl_(std::make_unique<Impl>(base, cfg, std::move(options))) {}

StubResolver::~StubResolver() = default;

Ticket StubResolver::lookup(std::string_view name, RrType type, Callback callback) {
    return impl_->lookup(this, name, type, std::move(callback));
}

void StubResolver::cancel(std::uint64_t id) noexcept { impl_->cancel(id); }

const Counters& StubResolver::counters() const noexcept { return impl_->counters; }
void StubResolver::set_debug(DebugHook hook) { impl_->debug = std::move(hook); }
void StubResolver::set_record_text(bool on) noexcept { impl_->record_text = on; }
const std::vector<config::NameServer>& StubResolver::nameservers() const noexcept { return impl_->servers; }
std::size_t StubResolver::outstanding() const noexcept { return impl_->active; }
std::size_t StubResolver::waiting() const noexcept { return impl_->fifo.size(); }
std::size_t StubResolver::cache_size() const noexcept { return impl_->cache.size(); }
void StubResolver::clear_cache() noexcept { impl_->cache.clear(); }

}  // namespace rpd::dns
