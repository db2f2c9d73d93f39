#include "server/server.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "log/logger.hpp"
#include "util/duration.hpp"

namespace rpd::server {

namespace {

// Accepts per readiness event: enough for a burst, without starving the other sockets.
constexpr int accepts_per_event = 64;

timeval to_timeval(std::chrono::milliseconds d) noexcept {
    if (d.count() < 0) d = std::chrono::milliseconds(0);
    return timeval{static_cast<time_t>(d.count() / 1000), static_cast<suseconds_t>((d.count() % 1000) * 1000)};
}

std::string inet_peer(const util::IpAddress& ip, const sockaddr_storage& ss) {
    std::uint16_t port = 0;
    if (ss.ss_family == AF_INET) port = ntohs(reinterpret_cast<const sockaddr_in&>(ss).sin_port);
    if (ss.ss_family == AF_INET6) port = ntohs(reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
    return ip.is_v4() ? fmt::format("{}:{}", ip.to_string(), port) : fmt::format("[{}]:{}", ip.to_string(), port);
}

std::string unix_peer(int fd, const config::ListenAddress& listener) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0) {
        return fmt::format("{} pid={}", listener.text, cred.pid);
    }
    return listener.text;
}

std::string suppressed_note(std::size_t n) {
    return n == 0 ? std::string() : fmt::format(" ({} more not logged)", n);
}

}  // namespace

bool BurstLog::should_log(Clock::time_point now, std::size_t& suppressed) noexcept {
    if (last_ != Clock::time_point::min() && now - last_ < quiet_) {
        ++suppressed_;
        return false;
    }
    suppressed = suppressed_;
    suppressed_ = 0;
    last_ = now;
    return true;
}

Server::Server(std::shared_ptr<const config::Config> config, std::vector<ListenSocket> listeners,
               const DeciderFactory& make_decider, ServerOptions options)
    : base_(event_base_new()),
      config_(std::move(config)),
      options_(std::move(options)),
      read_buffer_(std::make_unique<char[]>(read_buffer_size)) {
    if (!base_) throw std::runtime_error("cannot create the event loop (event_base_new failed)");
    decider_ = make_decider(base_.get(), config_);
    if (!decider_) throw std::runtime_error("no decider");

    turn_ev_.reset(event_new(base_.get(), -1, 0, &Server::on_turn, this));
    shutdown_ev_.reset(event_new(base_.get(), -1, 0, &Server::on_shutdown_deadline, this));
    resume_accept_ev_.reset(event_new(base_.get(), -1, 0, &Server::on_resume_accept, this));
    if (!turn_ev_ || !shutdown_ev_ || !resume_accept_ev_) throw std::runtime_error("event_new failed");

    for (const int sig : {SIGTERM, SIGINT, SIGHUP}) {
        EventPtr ev{evsignal_new(base_.get(), sig, &Server::on_signal, this)};
        if (!ev || event_add(ev.get(), nullptr) != 0) throw std::runtime_error("cannot handle signals");
        signal_evs_.push_back(std::move(ev));
    }

    for (auto& socket : listeners) {
        auto listener = std::make_unique<Listener>();
        listener->server = this;
        listener->socket = std::move(socket);
        listener->ev.reset(event_new(base_.get(), listener->socket.fd.get(), EV_READ | EV_PERSIST, &Server::on_accept,
                                     listener.get()));
        if (!listener->ev || event_add(listener->ev.get(), nullptr) != 0) {
            throw std::runtime_error(fmt::format("{}: cannot watch the listener", listener->socket.address.text));
        }
        listeners_.push_back(std::move(listener));
    }
}

Server::~Server() {
    connections_.clear();
    close_listeners();
    log::set_buffered(false);
}

int Server::run() {
    log::set_buffered(true, [this] { schedule_turn(); });
    std::vector<std::string> names;
    for (const auto& l : listeners_) names.push_back(l->socket.address.text);
    log::info("starting: listening on {}", fmt::join(names, ", "));
    const int rc = event_base_dispatch(base_.get());
    log::set_buffered(false);
    if (rc < 0 || failed_) {
        log::error("event loop failed");
        return 2;
    }
    log::info("stopped");
    return 0;
}

// --- accepting ---

void Server::on_accept(evutil_socket_t, short, void* arg) noexcept {
    auto* listener = static_cast<Listener*>(arg);
    try {
        listener->server->accept_from(*listener);
    } catch (const std::exception& e) {
        log::error("accept: {}", e.what());
    }
}

void Server::accept_from(Listener& listener) {
    const bool is_inet = listener.socket.address.kind == config::ListenAddress::Kind::Inet;
    for (int i = 0; i < accepts_per_event && !stopping_; ++i) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        Fd fd{::accept4(listener.socket.fd.get(), reinterpret_cast<sockaddr*>(&ss), &len,
                        SOCK_NONBLOCK | SOCK_CLOEXEC)};
        if (!fd) {
            const int err = errno;
            if (err == EAGAIN || err == EWOULDBLOCK) return;
            if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
            std::size_t suppressed = 0;
            if (accept_error_log_.should_log(Clock::now(), suppressed)) {
                log::warning("{}: accept: {}{}", listener.socket.address.text, std::strerror(err),
                             suppressed_note(suppressed));
            }
            // Out of descriptors or memory: the socket stays readable, so pause instead of spinning.
            pause_accepting(std::chrono::milliseconds(500));
            return;
        }
        std::string peer;
        if (is_inet) {
            const auto ip = util::IpAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
            peer = ip ? inet_peer(*ip, ss) : std::string("unknown");
            const auto& allow = config_->server.allow;
            const bool allowed =
                ip && std::any_of(allow.begin(), allow.end(), [&](const util::Cidr& c) { return c.contains(*ip); });
            if (!allowed) {
                std::size_t suppressed = 0;
                if (refused_allow_log_.should_log(Clock::now(), suppressed)) {
                    log::warning("{}: refused connection from {}: not in server.allow{}", listener.socket.address.text,
                                 peer, suppressed_note(suppressed));
                }
                continue;   // `fd` closes here
            }
        } else {
            peer = unix_peer(fd.get(), listener.socket.address);
        }
        if (connections_.size() >= config_->server.max_connections) {
            std::size_t suppressed = 0;
            if (refused_limit_log_.should_log(Clock::now(), suppressed)) {
                log::warning("{}: refused connection from {}: max_connections ({}) reached{}",
                             listener.socket.address.text, peer, config_->server.max_connections,
                             suppressed_note(suppressed));
            }
            continue;
        }
        add_connection(std::move(fd), std::move(peer));
    }
}

void Server::add_connection(Fd fd, std::string peer) {
    const auto id = next_id_++;
    auto conn = std::make_unique<Connection>(*this, id, std::move(fd), std::move(peer));
    std::string error;
    if (!conn->start(error)) {
        log::error("{}: {}", conn->peer(), error);
        return;
    }
    log::debug("{}: connected", conn->peer());
    connections_.emplace(id, std::move(conn));
}

void Server::pause_accepting(std::chrono::milliseconds how_long) {
    for (auto& l : listeners_) event_del(l->ev.get());
    const auto tv = to_timeval(how_long);
    event_add(resume_accept_ev_.get(), &tv);
}

void Server::on_resume_accept(evutil_socket_t, short, void* arg) noexcept {
    auto* self = static_cast<Server*>(arg);
    if (self->stopping_) return;
    for (auto& l : self->listeners_) event_add(l->ev.get(), nullptr);
}

void Server::close_listeners() {
    for (auto& l : listeners_) {
        l->ev.reset();
        remove_socket_file(l->socket);
    }
    listeners_.clear();
    resume_accept_ev_.reset();
}

// --- end of each loop turn: write replies, free closed connections, flush the log ---

void Server::schedule_turn() {
    if (turn_scheduled_ || !turn_ev_) return;
    turn_scheduled_ = true;
    event_active(turn_ev_.get(), 0, 0);
}

void Server::schedule_flush(ConnId id) {
    to_flush_.push_back(id);
    schedule_turn();
}

void Server::schedule_free(ConnId id) {
    to_free_.push_back(id);
    schedule_turn();
}

void Server::on_turn(evutil_socket_t, short, void* arg) noexcept {
    auto* self = static_cast<Server*>(arg);
    try {
        self->end_of_turn();
    } catch (const std::exception& e) {
        log::error("internal error: {}", e.what());
    }
    log::flush();
}

void Server::end_of_turn() {
    turn_scheduled_ = false;
    // Swap out first: flushing may schedule more, which the next turn takes. The
    // scratch vector keeps its capacity, so a busy loop does not allocate here.
    scratch_.swap(to_flush_);
    const auto now = Clock::now();   // one clock read for every reply of this turn
    for (const auto id : scratch_) {
        const auto it = connections_.find(id);
        if (it == connections_.end()) continue;
        try {
            it->second->flush(now);
        } catch (const std::exception& e) {
            it->second->close(fmt::format("internal error: {}", e.what()), log::Level::Error);
        }
    }
    scratch_.clear();
    scratch_.swap(to_free_);
    for (const auto id : scratch_) connections_.erase(id);
    scratch_.clear();
    if (stopping_ && connections_.empty()) event_base_loopbreak(base_.get());
}

// --- signals, stop, reload ---

void Server::on_signal(evutil_socket_t sig, short, void* arg) noexcept {
    auto* self = static_cast<Server*>(arg);
    try {
        if (sig == SIGHUP) {
            self->reload();
        } else {
            self->stop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
        }
    } catch (const std::exception& e) {
        log::error("signal {}: {}", static_cast<int>(sig), e.what());
    }
    log::flush();
}

void Server::stop(std::string_view why) {
    if (stopping_) {
        log::info("{} again: stopping now", why);
        for (auto& [id, conn] : connections_) conn->close("server stopping now", log::Level::Debug);
        event_base_loopbreak(base_.get());
        return;
    }
    stopping_ = true;
    std::size_t in_flight = 0;
    for (const auto& [id, conn] : connections_) in_flight += conn->in_flight();
    const auto deadline = config_->server.request_deadline;
    log::info("stopping on {}: {} connection(s), {} request(s) in flight, answering them within {}", why,
              connections_.size(), in_flight, util::format_duration(deadline));
    close_listeners();
    for (auto& [id, conn] : connections_) conn->stop_reading_for_shutdown();
    const auto tv = to_timeval(deadline);
    event_add(shutdown_ev_.get(), &tv);
    schedule_turn();
}

void Server::on_shutdown_deadline(evutil_socket_t, short, void* arg) noexcept {
    auto* self = static_cast<Server*>(arg);
    try {
        for (auto& [id, conn] : self->connections_) conn->force_close("server stopping: shutdown deadline reached");
    } catch (const std::exception& e) {
        log::error("shutdown: {}", e.what());
    }
    event_base_loopbreak(self->base_.get());
}

void Server::reload() {
    if (options_.config_path.empty()) {
        log::warning("SIGHUP: no configuration file to reload");
        return;
    }
    const auto& path = options_.config_path;
    auto loaded = config::load_file(path);
    if (auto* errors = std::get_if<std::vector<config::ConfigError>>(&loaded)) {
        for (const auto& e : *errors) log::error("{}", e.to_string());
        log::error("reload of {} failed ({} error(s)): keeping the previous configuration", path, errors->size());
        return;
    }
    auto fresh = std::get<std::shared_ptr<const config::Config>>(std::move(loaded));
    const auto& before = config_->server;
    const auto& after = fresh->server;
    std::vector<std::string> before_listen, after_listen;
    for (const auto& l : before.listen) before_listen.push_back(l.text);
    for (const auto& l : after.listen) after_listen.push_back(l.text);
    if (before_listen != after_listen || before.socket_mode != after.socket_mode || before.user != after.user) {
        log::warning("server.listen, server.socket_mode and server.user changes take effect after a restart");
    }
    config_ = std::move(fresh);
    if (options_.on_reload) options_.on_reload(*config_);
    log::info("configuration reloaded from {}", path);
}

}  // namespace rpd::server
