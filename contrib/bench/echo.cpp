// contrib/bench/echo.cpp -- see echo.hpp.
#include "echo.hpp"

#include <event2/event.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "util/cptr.hpp"

namespace rpd::bench {
namespace {

using EventPtr = util::CPtr<event, event_free>;
using BasePtr = util::CPtr<event_base, event_base_free>;

constexpr std::string_view reply = "action=DUNNO\n\n";
constexpr std::size_t pattern_replies = 4096 / reply.size();
constexpr std::size_t read_size = 64 * 1024;
// Stop reading from a peer that does not read its replies once this much is owed.
constexpr std::uint64_t max_owed = 1024 * 1024;

class EchoServer;

struct EchoConn {
    int fd = -1;
    EventPtr rev, wev;
    bool line_start = true;     // the next byte starts a line: a '\n' there ends a request
    bool reading = true;
    std::uint64_t owed = 0;     // reply bytes not yet written
    std::size_t phase = 0;      // offset into `reply` of the next byte owed
};

class EchoServer {
public:
    EchoServer(const EchoPlan& plan, int listen_fd);
    ~EchoServer();
    void run();
    std::uint64_t requests() const noexcept { return requests_; }
    std::uint64_t connections() const noexcept { return connections_; }

private:
    static void on_accept(evutil_socket_t, short, void* arg) noexcept;
    static void on_read(evutil_socket_t fd, short, void* arg) noexcept;
    static void on_write(evutil_socket_t fd, short, void* arg) noexcept;
    static void on_stop(evutil_socket_t, short, void* arg) noexcept;

    void accept_some();
    void read_some(EchoConn& c);
    void flush(EchoConn& c);
    void drop(int fd) noexcept;

    const EchoPlan& plan_;
    int listen_fd_;
    BasePtr base_;
    EventPtr accept_ev_, sigint_, sigterm_, timer_;
    std::vector<std::unique_ptr<EchoConn>> conns_;   // indexed by fd
    std::string pattern_;                            // `reply` repeated, written from
    std::unique_ptr<char[]> in_;
    std::uint64_t requests_ = 0;
    std::uint64_t connections_ = 0;
};

EchoServer::EchoServer(const EchoPlan& plan, int listen_fd) : plan_(plan), listen_fd_(listen_fd) {
    base_.reset(event_base_new());
    if (!base_) throw std::runtime_error("event_base_new failed");
    accept_ev_.reset(event_new(base_.get(), listen_fd_, EV_READ | EV_PERSIST, on_accept, this));
    sigint_.reset(evsignal_new(base_.get(), SIGINT, on_stop, this));
    sigterm_.reset(evsignal_new(base_.get(), SIGTERM, on_stop, this));
    timer_.reset(evtimer_new(base_.get(), on_stop, this));
    if (!accept_ev_ || !sigint_ || !sigterm_ || !timer_) throw std::bad_alloc();
    for (std::size_t i = 0; i < pattern_replies; ++i) pattern_ += reply;
    in_ = std::make_unique<char[]>(read_size);
}

EchoServer::~EchoServer() {
    for (auto& c : conns_) {   // events before the base, and before their sockets
        if (!c) continue;
        const int fd = c->fd;
        c.reset();
        close(fd);
    }
}

void EchoServer::run() {
    event_add(accept_ev_.get(), nullptr);
    event_add(sigint_.get(), nullptr);
    event_add(sigterm_.get(), nullptr);
    if (plan_.max_duration.count() > 0) {
        const auto ms = plan_.max_duration.count();
        const timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>(ms % 1000 * 1000)};
        event_add(timer_.get(), &tv);
    }
    event_base_dispatch(base_.get());
}

void EchoServer::on_stop(evutil_socket_t, short, void* arg) noexcept {
    event_base_loopbreak(static_cast<EchoServer*>(arg)->base_.get());
}

void EchoServer::on_accept(evutil_socket_t, short, void* arg) noexcept {
    auto* s = static_cast<EchoServer*>(arg);
    try { s->accept_some(); } catch (const std::exception& e) { fmt::print(stderr, "rpd-bench echo: accept: {}\n", e.what()); }
}

void EchoServer::accept_some() {
    // A bounded batch per event keeps accepting fair to the established connections.
    for (int i = 0; i < 64; ++i) {
        const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                fmt::print(stderr, "rpd-bench echo: accept: {}\n", std::strerror(errno));
            return;   // EAGAIN, or try again at the next event
        }
        auto c = std::make_unique<EchoConn>();
        c->fd = fd;
        c->rev.reset(event_new(base_.get(), fd, EV_READ | EV_PERSIST, on_read, this));
        c->wev.reset(event_new(base_.get(), fd, EV_WRITE | EV_PERSIST, on_write, this));
        if (!c->rev || !c->wev) {
            close(fd);
            continue;
        }
        event_add(c->rev.get(), nullptr);
        if (static_cast<std::size_t>(fd) >= conns_.size()) conns_.resize(static_cast<std::size_t>(fd) + 1);
        conns_[static_cast<std::size_t>(fd)] = std::move(c);
        ++connections_;
    }
}

void EchoServer::on_read(evutil_socket_t fd, short, void* arg) noexcept {
    auto* s = static_cast<EchoServer*>(arg);
    auto& c = *s->conns_[static_cast<std::size_t>(fd)];
    try { s->read_some(c); } catch (...) { s->drop(fd); }
}

void EchoServer::on_write(evutil_socket_t fd, short, void* arg) noexcept {
    auto* s = static_cast<EchoServer*>(arg);
    auto& c = *s->conns_[static_cast<std::size_t>(fd)];
    try { s->flush(c); } catch (...) { s->drop(fd); }
}

void EchoServer::read_some(EchoConn& c) {
    const ssize_t n = recv(c.fd, in_.get(), read_size, 0);
    if (n == 0) {
        drop(c.fd);
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) drop(c.fd);
        return;
    }
    const char* p = in_.get();
    const char* const end = p + n;
    std::uint64_t done = 0;
    while (p < end) {
        const auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
        if (nl == nullptr) {
            c.line_start = false;
            break;
        }
        if (nl == p && c.line_start) ++done;   // an empty line: end of a request
        c.line_start = true;
        p = nl + 1;
    }
    if (done == 0) return;
    requests_ += done;
    c.owed += done * reply.size();
    flush(c);
}

void EchoServer::flush(EchoConn& c) {
    while (c.owed > 0) {
        const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(c.owed, pattern_.size() - c.phase));
        const ssize_t n = send(c.fd, pattern_.data() + c.phase, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                drop(c.fd);
                return;
            }
            break;
        }
        c.owed -= static_cast<std::uint64_t>(n);
        c.phase = (c.phase + static_cast<std::size_t>(n)) % reply.size();
        if (static_cast<std::size_t>(n) < len) break;
    }
    const bool want_write = c.owed > 0;
    if (want_write != (event_pending(c.wev.get(), EV_WRITE, nullptr) != 0)) {
        if (want_write) event_add(c.wev.get(), nullptr);
        else event_del(c.wev.get());
    }
    const bool want_read = c.owed < max_owed;
    if (want_read != c.reading) {
        c.reading = want_read;
        if (want_read) event_add(c.rev.get(), nullptr);
        else event_del(c.rev.get());
    }
}

void EchoServer::drop(int fd) noexcept {
    auto& slot = conns_[static_cast<std::size_t>(fd)];
    if (!slot) return;
    // Freeing an event from inside its own callback is safe in libevent 2.1: the loop
    // does not touch it after the callback returns. Events go before the socket.
    slot.reset();
    close(fd);
}

}  // namespace

int run_echo(const EchoPlan& plan, std::string& error) {
    const int fd = listen_on(plan.listen, SOMAXCONN, error);
    if (fd < 0) return 2;
    try {
        EchoServer server(plan, fd);
        fmt::print(stderr, "rpd-bench echo: listening on {}\n", plan.listen.text);
        std::fflush(stderr);
        server.run();
        fmt::print(stderr, "rpd-bench echo: served {} requests on {} connections\n", server.requests(),
                   server.connections());
    } catch (const std::exception& e) {
        error = fmt::format("echo: {}", e.what());
        close(fd);
        return 2;
    }
    close(fd);
    if (plan.listen.kind == Endpoint::Kind::Unix) unlink(plan.listen.path.c_str());
    return 0;
}

}  // namespace rpd::bench
