#include "support/dns_responder.hpp"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "dns/nameservers.hpp"

namespace rpd::test {

namespace {

using EventPtr = util::CPtr<event, event_free>;
using EventBasePtr = util::CPtr<event_base, event_base_free>;
using Clock = std::chrono::steady_clock;

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() { reset(); }
    Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = o.fd_;
            o.fd_ = -1;
        }
        return *this;
    }
    int get() const noexcept { return fd_; }
    void reset() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

std::string fold(std::string name) {
    if (!name.empty() && name.back() == '.') name.pop_back();
    for (char& c : name) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return name;
}

std::string key_of(const std::string& name, std::uint16_t type) { return fold(name) + "/" + std::to_string(type); }

std::uint16_t port_of(const sockaddr_storage& sa) {
    if (sa.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&sa)->sin_port);
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&sa)->sin6_port);
}

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("dns responder: " + what + ": " + std::strerror(errno)); }

}  // namespace

struct DnsResponder::Impl {
    // Bytes to send later: to a UDP peer from one of our sockets, or on a TCP connection.
    struct Outgoing {
        bool tcp = false;
        int udp_fd = -1;
        sockaddr_storage peer{};
        socklen_t peer_len = 0;
        bool from_other_port = false;   // first message from a throwaway socket
        std::uint64_t conn = 0;
        std::vector<std::vector<std::uint8_t>> messages;
        bool close_after = false;       // TCP: close once written
        bool raw = false;               // TCP: messages already framed (or deliberately broken)
    };

    struct Conn {
        Impl* impl = nullptr;
        std::uint64_t id = 0;
        Fd fd;
        EventPtr readable;
        EventPtr writable;
        std::vector<std::uint8_t> in;
        std::vector<std::uint8_t> out;
        bool close_when_flushed = false;
    };

    struct UdpArg {
        Impl* impl;
        int fd;
    };

    int family = AF_INET;
    bool compress = true;
    bool keep_log = true;
    sockaddr_storage bound{};
    socklen_t bound_len = 0;
    EventBasePtr base;
    std::vector<Fd> udp;
    std::vector<std::unique_ptr<UdpArg>> udp_args;
    std::vector<EventPtr> udp_events;
    Fd listener;
    EventPtr accept_event;
    Fd wake_read, wake_write;
    EventPtr wake_event;
    EventPtr timer;
    std::multimap<Clock::time_point, Outgoing> pending;
    std::unordered_map<std::uint64_t, std::unique_ptr<Conn>> conns;
    std::uint64_t next_conn = 1;
    std::vector<std::uint8_t> rx = std::vector<std::uint8_t>(65'536);
    std::thread thread;

    mutable std::mutex mu;   // guards everything below
    std::map<std::string, Plan> plans;
    Handler fallback;
    std::vector<SeenQuery> log;
    std::map<std::string, std::size_t> counts, tcp_counts;
    std::size_t total = 0, tcp_total = 0;

    // ---- a query in, a plan out -----------------------------------------------------

    // The reply bytes for `plan`; `q` is the decoded query.
    std::vector<std::uint8_t> reply_bytes(const SeenQuery& q, const Plan& plan, bool truncated,
                                          const std::string& qname, std::uint16_t id) const {
        ReplySpec spec;
        spec.qname = qname;
        spec.qtype = q.type;
        spec.id = id;
        spec.rcode = plan.rcode;
        spec.rd = q.rd;
        if (truncated) {
            spec.tc = true;   // as Unbound does: no records at all, TC set
        } else {
            spec.answer = plan.answer;
            spec.authority = plan.authority;
            spec.additional = plan.additional;
        }
        if (q.edns) spec.edns_udp_size = 1232;
        return make_wire(spec, compress);
    }

    // The messages to send for this query, in order.
    std::vector<std::vector<std::uint8_t>> messages_for(const SeenQuery& q, const Plan& plan) const {
        std::vector<std::vector<std::uint8_t>> out;
        const bool truncated = plan.truncate_udp && !q.tcp;
        auto real = reply_bytes(q, plan, truncated, q.name, q.id);
        if (plan.garbage || plan.garbage_first) {
            // Our ID and a plausible header, then a question whose first label claims 63
            // octets and ends after 2: no parser can read it.
            std::vector<std::uint8_t> junk(real.begin(), real.begin() + 12);
            junk.insert(junk.end(), {0x3f, 'x', 'y'});
            out.push_back(std::move(junk));
            if (plan.garbage) return out;
        }
        if (plan.wrong_id_first) out.push_back(reply_bytes(q, plan, truncated, q.name, static_cast<std::uint16_t>(q.id + 1)));
        if (plan.other_question_first) out.push_back(reply_bytes(q, plan, truncated, "other-question.example.test", q.id));
        if (!plan.decoys_only) out.push_back(std::move(real));
        return out;
    }

    Plan plan_for(const SeenQuery& q) {
        Handler handler;
        {
            std::lock_guard lock(mu);
            ++total;
            if (q.tcp) ++tcp_total;
            if (keep_log || !plans.empty()) {
                const std::string key = key_of(q.name, q.type);
                if (keep_log) {
                    log.push_back(q);
                    ++counts[key];
                    if (q.tcp) ++tcp_counts[key];
                }
                if (auto it = plans.find(key); it != plans.end()) return it->second;
            }
            handler = fallback;
        }
        if (handler) return handler(q);
        return Plan::rcode_only(LDNS_RCODE_REFUSED);
    }

    static std::optional<SeenQuery> parse_query(std::span<const std::uint8_t> bytes, bool tcp, std::uint16_t port) {
        auto pkt = dns::decode(bytes);
        if (!pkt || ldns_pkt_qr(pkt.get()) || ldns_pkt_qdcount(pkt.get()) != 1) return std::nullopt;
        const ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(pkt.get()), 0);
        if (question == nullptr) return std::nullopt;
        SeenQuery q;
        q.name = dns::name_to_text(*ldns_rr_owner(question));
        q.type = static_cast<std::uint16_t>(ldns_rr_get_type(question));
        q.id = ldns_pkt_id(pkt.get());
        q.tcp = tcp;
        q.source_port = port;
        q.edns = ldns_pkt_edns(pkt.get());
        q.edns_udp_size = ldns_pkt_edns_udp_size(pkt.get());
        q.edns_do = ldns_pkt_edns_do(pkt.get());
        q.rd = ldns_pkt_rd(pkt.get());
        return q;
    }

    void schedule(Outgoing out, std::chrono::milliseconds delay) {
        if (delay.count() <= 0) return send_now(out);
        const auto due = Clock::now() + delay;
        const bool earliest = pending.empty() || due < pending.begin()->first;
        pending.emplace(due, std::move(out));
        if (earliest) arm_timer();
    }

    void arm_timer() {
        if (pending.empty()) return;
        const auto wait = std::max(Clock::duration::zero(), pending.begin()->first - Clock::now());
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(wait).count();
        timeval tv{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
        event_add(timer.get(), &tv);
    }

    void send_now(Outgoing& out) {
        if (!out.tcp) {
            for (std::size_t i = 0; i < out.messages.size(); ++i) {
                const auto& m = out.messages[i];
                if (i == 0 && out.from_other_port) {
                    Fd other(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
                    if (other.get() >= 0) {
                        (void)::sendto(other.get(), m.data(), m.size(), 0, reinterpret_cast<const sockaddr*>(&out.peer),
                                       out.peer_len);
                    }
                    continue;
                }
                (void)::sendto(out.udp_fd, m.data(), m.size(), 0, reinterpret_cast<const sockaddr*>(&out.peer), out.peer_len);
            }
            return;
        }
        auto it = conns.find(out.conn);
        if (it == conns.end()) return;   // the client went away
        Conn& c = *it->second;
        for (const auto& m : out.messages) {
            if (!out.raw) {
                c.out.push_back(static_cast<std::uint8_t>(m.size() >> 8));
                c.out.push_back(static_cast<std::uint8_t>(m.size() & 0xff));
            }
            c.out.insert(c.out.end(), m.begin(), m.end());
        }
        if (out.close_after) c.close_when_flushed = true;
        flush(c);
    }

    // ---- UDP --------------------------------------------------------------------------

    void udp_readable(int fd) {
        for (int i = 0; i < 256; ++i) {
            sockaddr_storage peer{};
            socklen_t len = sizeof(peer);
            const ssize_t n = ::recvfrom(fd, rx.data(), rx.size(), 0, reinterpret_cast<sockaddr*>(&peer), &len);
            if (n < 0) return;
            auto q = parse_query({rx.data(), static_cast<std::size_t>(n)}, false, port_of(peer));
            if (!q) continue;
            const Plan plan = plan_for(*q);
            if (plan.drop) continue;
            Outgoing out;
            out.udp_fd = fd;
            out.peer = peer;
            out.peer_len = len;
            out.messages = messages_for(*q, plan);
            if (plan.spoof_port_first && !out.messages.empty()) {
                out.messages.insert(out.messages.begin(), out.messages.back());
                out.from_other_port = true;
            }
            schedule(std::move(out), plan.delay);
        }
    }

    // ---- TCP --------------------------------------------------------------------------

    void accept_one() {
        for (int i = 0; i < 64; ++i) {
            const int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) return;
            auto c = std::make_unique<Conn>();
            c->impl = this;
            c->id = next_conn++;
            c->fd = Fd(fd);
            c->readable.reset(event_new(base.get(), fd, EV_READ | EV_PERSIST, &Impl::on_conn_readable, c.get()));
            c->writable.reset(event_new(base.get(), fd, EV_WRITE | EV_PERSIST, &Impl::on_conn_writable, c.get()));
            event_add(c->readable.get(), nullptr);
            conns.emplace(c->id, std::move(c));
        }
    }

    void close_conn(Conn& c) { conns.erase(c.id); }   // frees c

    void flush(Conn& c) {
        while (!c.out.empty()) {
            const ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    event_add(c.writable.get(), nullptr);
                    return;
                }
                return close_conn(c);
            }
            c.out.erase(c.out.begin(), c.out.begin() + n);
        }
        event_del(c.writable.get());
        if (c.close_when_flushed) close_conn(c);
    }

    void conn_readable(Conn& c) {
        std::uint8_t buf[4096];
        const ssize_t n = ::recv(c.fd.get(), buf, sizeof(buf), 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
        if (n <= 0) return close_conn(c);
        c.in.insert(c.in.end(), buf, buf + n);
        sockaddr_storage peer{};
        socklen_t len = sizeof(peer);
        ::getpeername(c.fd.get(), reinterpret_cast<sockaddr*>(&peer), &len);
        const std::uint64_t id = c.id;
        while (c.in.size() >= 2) {
            const std::size_t size = (std::size_t{c.in[0]} << 8) | c.in[1];
            if (c.in.size() < 2 + size) break;
            std::vector<std::uint8_t> msg(c.in.begin() + 2, c.in.begin() + 2 + static_cast<std::ptrdiff_t>(size));
            c.in.erase(c.in.begin(), c.in.begin() + 2 + static_cast<std::ptrdiff_t>(size));
            auto q = parse_query(msg, true, port_of(peer));
            if (!q) continue;
            const Plan plan = plan_for(*q);
            if (plan.drop) continue;
            Outgoing out;
            out.tcp = true;
            out.conn = id;
            if (plan.tcp_close_silently) {
                out.close_after = true;
                out.raw = true;
                out.messages.emplace_back();
            } else if (plan.tcp_close_mid_message) {
                auto whole = reply_bytes(*q, plan, false, q->name, q->id);
                std::vector<std::uint8_t> half{static_cast<std::uint8_t>(whole.size() >> 8),
                                               static_cast<std::uint8_t>(whole.size() & 0xff)};
                half.insert(half.end(), whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(whole.size() / 2));
                out.messages.push_back(std::move(half));
                out.raw = true;
                out.close_after = true;
            } else {
                out.messages = messages_for(*q, plan);
            }
            schedule(std::move(out), plan.delay);
            if (conns.find(id) == conns.end()) return;   // closed while sending
        }
    }

    // ---- the loop ---------------------------------------------------------------------

    void timer_fired() {
        const auto now = Clock::now();
        while (!pending.empty() && pending.begin()->first <= now) {
            auto node = pending.extract(pending.begin());
            send_now(node.mapped());
        }
        arm_timer();
    }

    static void on_udp(evutil_socket_t, short, void* arg) noexcept {
        auto* a = static_cast<UdpArg*>(arg);
        try {
            a->impl->udp_readable(a->fd);
        } catch (...) {
        }
    }
    static void on_accept(evutil_socket_t, short, void* arg) noexcept {
        try {
            static_cast<Impl*>(arg)->accept_one();
        } catch (...) {
        }
    }
    static void on_conn_readable(evutil_socket_t, short, void* arg) noexcept {
        auto* c = static_cast<Conn*>(arg);
        try {
            c->impl->conn_readable(*c);
        } catch (...) {
            c->impl->close_conn(*c);
        }
    }
    static void on_conn_writable(evutil_socket_t, short, void* arg) noexcept {
        auto* c = static_cast<Conn*>(arg);
        try {
            c->impl->flush(*c);
        } catch (...) {
            c->impl->close_conn(*c);
        }
    }
    static void on_timer(evutil_socket_t, short, void* arg) noexcept {
        try {
            static_cast<Impl*>(arg)->timer_fired();
        } catch (...) {
        }
    }
    static void on_wake(evutil_socket_t, short, void* arg) noexcept {
        event_base_loopbreak(static_cast<Impl*>(arg)->base.get());
    }

    // ---- setup ------------------------------------------------------------------------

    // UDP sockets sharing one port, and a TCP listener on the same port. A port whose
    // TCP side is taken is given up and another one tried.
    bool bind_all(const std::string& address, int udp_count, std::uint16_t port) {
        sockaddr_storage sa{};
        socklen_t sa_len = 0;
        if (address.find(':') == std::string::npos) {
            auto* sin = reinterpret_cast<sockaddr_in*>(&sa);
            sin->sin_family = AF_INET;
            sin->sin_port = htons(port);
            if (::inet_pton(AF_INET, address.c_str(), &sin->sin_addr) != 1) throw std::invalid_argument(address);
            sa_len = sizeof(sockaddr_in);
            family = AF_INET;
        } else {
            auto* sin6 = reinterpret_cast<sockaddr_in6*>(&sa);
            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons(port);
            if (::inet_pton(AF_INET6, address.c_str(), &sin6->sin6_addr) != 1) throw std::invalid_argument(address);
            sa_len = sizeof(sockaddr_in6);
            family = AF_INET6;
        }
        udp.clear();
        const int one = 1;
        const int big = 4 << 20;
        for (int i = 0; i < std::max(1, udp_count); ++i) {
            Fd fd(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
            if (fd.get() < 0) fail("socket");
            ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
            ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
            ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
            if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sa_len) != 0) fail("bind udp");
            if (i == 0) {
                socklen_t len = sizeof(sa);
                ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len);
                sa_len = len;
            }
            udp.push_back(std::move(fd));
        }
        listener = Fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (listener.get() < 0) fail("socket");
        ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&sa), sa_len) != 0) {
            if (errno == EADDRINUSE) return false;
            fail("bind tcp");
        }
        if (::listen(listener.get(), 128) != 0) fail("listen");
        bound = sa;
        bound_len = sa_len;
        return true;
    }

    void start(const Options& options) {
        compress = options.compress;
        keep_log = options.keep_log;
        bool bound_ok = false;
        // A fixed port that is taken stays taken: one try.
        const int tries = options.port == 0 ? 20 : 1;
        for (int i = 0; i < tries && !bound_ok; ++i) bound_ok = bind_all(options.address, options.udp_sockets, options.port);
        if (!bound_ok) {
            errno = EADDRINUSE;
            fail(options.port == 0 ? "no free port for UDP and TCP" : "TCP port " + std::to_string(options.port));
        }
        base.reset(event_base_new());
        if (!base) throw std::runtime_error("dns responder: event_base_new failed");
        for (const auto& fd : udp) {
            udp_args.push_back(std::make_unique<UdpArg>(UdpArg{this, fd.get()}));
            udp_events.emplace_back(event_new(base.get(), fd.get(), EV_READ | EV_PERSIST, &Impl::on_udp, udp_args.back().get()));
            event_add(udp_events.back().get(), nullptr);
        }
        accept_event.reset(event_new(base.get(), listener.get(), EV_READ | EV_PERSIST, &Impl::on_accept, this));
        event_add(accept_event.get(), nullptr);
        int pair[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) fail("socketpair");
        wake_read = Fd(pair[0]);
        wake_write = Fd(pair[1]);
        wake_event.reset(event_new(base.get(), wake_read.get(), EV_READ | EV_PERSIST, &Impl::on_wake, this));
        event_add(wake_event.get(), nullptr);
        timer.reset(evtimer_new(base.get(), &Impl::on_timer, this));
        thread = std::thread([this] { event_base_dispatch(base.get()); });
    }

    void stop() noexcept {
        if (thread.joinable()) {
            const char byte = 'x';
            (void)::write(wake_write.get(), &byte, 1);
            thread.join();
        }
        // The loop has stopped: free events before their sockets and the base.
        conns.clear();
        pending.clear();
        udp_events.clear();
        accept_event.reset();
        wake_event.reset();
        timer.reset();
    }
};

DnsResponder::DnsResponder() : DnsResponder(Options{}) {}

DnsResponder::DnsResponder(Options options) : impl_(std::make_unique<Impl>()) {
    impl_->start(options);
    port_ = port_of(impl_->bound);
}

DnsResponder::~DnsResponder() { impl_->stop(); }

config::NameServer DnsResponder::nameserver() const {
    config::NameServer ns;
    if (impl_->family == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(&impl_->bound);
        std::array<std::uint8_t, 4> b{};
        std::memcpy(b.data(), &sin->sin_addr, 4);
        ns.address = util::IpAddress::v4(b);
    } else {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&impl_->bound);
        std::array<std::uint8_t, 16> b{};
        std::memcpy(b.data(), &sin6->sin6_addr, 16);
        ns.address = util::IpAddress::v6(b);
    }
    ns.port = port_;
    ns.text = dns::server_text(ns.address, ns.port);
    return ns;
}

void DnsResponder::set(const std::string& name, dns::RrType type, Plan plan) {
    std::lock_guard lock(impl_->mu);
    impl_->plans[key_of(name, static_cast<std::uint16_t>(type))] = std::move(plan);
}

void DnsResponder::set_default(Handler handler) {
    std::lock_guard lock(impl_->mu);
    impl_->fallback = std::move(handler);
}

std::size_t DnsResponder::count(const std::string& name, dns::RrType type) const {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->counts.find(key_of(name, static_cast<std::uint16_t>(type)));
    return it == impl_->counts.end() ? 0 : it->second;
}

std::size_t DnsResponder::count_tcp(const std::string& name, dns::RrType type) const {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->tcp_counts.find(key_of(name, static_cast<std::uint16_t>(type)));
    return it == impl_->tcp_counts.end() ? 0 : it->second;
}

std::size_t DnsResponder::queries() const {
    std::lock_guard lock(impl_->mu);
    return impl_->total;
}

std::size_t DnsResponder::tcp_queries() const {
    std::lock_guard lock(impl_->mu);
    return impl_->tcp_total;
}

std::vector<SeenQuery> DnsResponder::seen() const {
    std::lock_guard lock(impl_->mu);
    return impl_->log;
}

void DnsResponder::clear_counts() {
    std::lock_guard lock(impl_->mu);
    impl_->log.clear();
    impl_->counts.clear();
    impl_->tcp_counts.clear();
    impl_->total = impl_->tcp_total = 0;
}

}  // namespace rpd::test
