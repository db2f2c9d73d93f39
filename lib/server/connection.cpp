#include "server/connection.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "policy/response.hpp"
#include "server/server.hpp"

namespace rpd::server {

namespace {

// Stop reading from a client that sends faster than it reads its replies.
constexpr std::size_t max_in_flight = 256;
constexpr std::size_t max_unsent = 256 * 1024;
// Answered Pendings kept for reuse (Postfix sends one request at a time: one is enough).
constexpr std::size_t max_spare = 8;

timeval to_timeval(Clock::duration d) noexcept {
    if (d < Clock::duration::zero()) d = Clock::duration::zero();
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    return timeval{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
}

double seconds(Clock::duration d) noexcept { return std::chrono::duration<double>(d).count(); }

}  // namespace

Connection::Connection(Server& server, ConnId id, Fd fd, std::string peer)
    : server_(server), id_(id), fd_(std::move(fd)), peer_(std::move(peer)), last_activity_(Clock::now()) {}

Connection::~Connection() = default;

bool Connection::start(std::string& error) {
    auto* base = server_.base();
    read_ev_.reset(event_new(base, fd_.get(), EV_READ | EV_PERSIST, &Connection::on_read, this));
    write_ev_.reset(event_new(base, fd_.get(), EV_WRITE | EV_PERSIST, &Connection::on_write, this));
    timer_ev_.reset(event_new(base, -1, 0, &Connection::on_timer, this));
    if (!read_ev_ || !write_ev_ || !timer_ev_) {
        error = "event_new failed";
        return false;
    }
    set_reading(true);
    arm_timer(last_activity_ + server_.config()->server.idle_timeout);
    return true;
}

// --- libevent trampolines: nothing may throw past them ---

void Connection::on_read(evutil_socket_t, short, void* arg) noexcept {
    auto* self = static_cast<Connection*>(arg);
    try {
        self->readable();
    } catch (const std::exception& e) {
        self->close(fmt::format("internal error: {}", e.what()), log::Level::Error);
    }
}

void Connection::on_write(evutil_socket_t, short, void* arg) noexcept {
    auto* self = static_cast<Connection*>(arg);
    try {
        self->writable();
    } catch (const std::exception& e) {
        self->close(fmt::format("internal error: {}", e.what()), log::Level::Error);
    }
}

void Connection::on_timer(evutil_socket_t, short, void* arg) noexcept {
    auto* self = static_cast<Connection*>(arg);
    try {
        self->timer_fired();
    } catch (const std::exception& e) {
        self->close(fmt::format("internal error: {}", e.what()), log::Level::Error);
    }
}

// --- input ---

void Connection::readable() {
    auto* buffer = server_.read_buffer();
    const auto n = ::recv(fd_.get(), buffer, Server::read_buffer_size, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        close(fmt::format("read error: {}", std::strerror(errno)), log::Level::Info);
        return;
    }
    if (n == 0) {
        set_reading(false);
        if (parser_.finish() == policy::Parser::Status::Error) {
            close(fmt::format("malformed request: {}", parser_.error().to_string()), log::Level::Warning);
            return;
        }
        peer_eof_ = true;
        finish_if_done();
        return;
    }
    const auto now = Clock::now();   // the one clock read for every request in this batch
    last_activity_ = now;
    consume(std::string_view(buffer, static_cast<std::size_t>(n)), now);
}

void Connection::consume(std::string_view input, Clock::time_point now) {
    while (!input.empty()) {
        if (backlogged()) {
            // Keep the rest for when the client has read its replies.
            stash_.assign(input);
            set_reading(false);
            return;
        }
        if (!filling_) filling_ = new_pending();
        switch (parser_.parse(input, filling_->request)) {
        case policy::Parser::Status::Complete: {
            pending_.push_back(std::move(filling_));
            start_request(*pending_.back(), now);
            break;
        }
        case policy::Parser::Status::NeedMore: break;
        case policy::Parser::Status::Error:
            close(fmt::format("malformed request: {}", parser_.error().to_string()), log::Level::Warning);
            return;
        }
    }
}

bool Connection::backlogged() const noexcept {
    return pending_.size() >= max_in_flight || out_.size() - out_sent_ >= max_unsent;
}

std::unique_ptr<Connection::Pending> Connection::new_pending() {
    if (spare_.empty()) return std::make_unique<Pending>();
    auto p = std::move(spare_.back());
    spare_.pop_back();
    return p;
}

void Connection::start_request(Pending& pending, Clock::time_point now) {
    const auto& config = server_.config();
    pending.received = now;
    pending.deadline = now + config->server.request_deadline;
    // Two pointers: small enough for std::function to store without allocating.
    pending.job = server_.decider().decide(config, pending.request, [this, p = &pending](policy::Decision d) {
        decided(*p, std::move(d));
    });
    arm_timer(pending.deadline);
}

void Connection::decided(Pending& pending, policy::Decision decision) {
    if (pending.decision) return;   // a Decider that answers twice: the first answer stands
    pending.decision = std::move(decision);
    if (!flush_scheduled_) {
        flush_scheduled_ = true;
        server_.schedule_flush(id_);
    }
}

// --- output ---

void Connection::flush(Clock::time_point now) {
    flush_scheduled_ = false;
    if (dead_) return;
    std::size_t answered = 0;
    while (answered < pending_.size() && pending_[answered]->decision) {
        auto& done = *pending_[answered];
        auto& decision = *done.decision;
        policy::append_response(out_, decision.action);
        if (log::enabled(log::Level::Info)) {
            // The decision is ours and dropped below: its line is finished in place.
            auto& line = decision.log_line;
            if (line.empty()) log::append_decision_line(line, done.request, decision.action);
            log::append_delay(line, now - done.received);
            log::write(log::Level::Info, line);
        }
        done.job.reset();
        done.decision.reset();
        if (spare_.size() < max_spare) spare_.push_back(std::move(pending_[answered]));
        ++answered;
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(answered));
    write_out(now);
    if (dead_) return;
    if (!stash_.empty() && !backlogged()) {
        auto input = std::move(stash_);
        stash_.clear();
        consume(input, now);
        if (dead_) return;
    }
    if (stash_.empty() && !reading_ && !peer_eof_ && !stopping_) set_reading(true);
    finish_if_done();
}

void Connection::write_out(Clock::time_point now) {
    while (out_sent_ < out_.size()) {
        const auto n = ::send(fd_.get(), out_.data() + out_sent_, out_.size() - out_sent_, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            close(fmt::format("write error: {}", std::strerror(errno)), log::Level::Info);
            return;
        }
        out_sent_ += static_cast<std::size_t>(n);
        last_activity_ = now;
        break;   // one write per turn; what is left waits for EV_WRITE
    }
    const bool all_sent = out_sent_ == out_.size();
    if (all_sent) {
        out_.clear();
        out_sent_ = 0;
    }
    if (all_sent == writing_) {
        writing_ = !all_sent;
        if (writing_) event_add(write_ev_.get(), nullptr);
        else event_del(write_ev_.get());
    }
}

void Connection::writable() {
    const auto now = Clock::now();
    write_out(now);
    if (dead_) return;
    if (!writing_) flush(now);   // room again: resume reading if it was held back
}

void Connection::finish_if_done() {
    if (dead_ || !pending_.empty() || out_sent_ < out_.size() || !stash_.empty()) return;
    if (peer_eof_) close("peer disconnected", log::Level::Debug);
    else if (stopping_) close("server stopping", log::Level::Debug);
}

// --- time ---

void Connection::arm_timer(Clock::time_point due) {
    if (due >= timer_due_) return;   // it fires earlier and re-arms itself
    const auto tv = to_timeval(due - Clock::now());
    event_add(timer_ev_.get(), &tv);
    timer_due_ = due;
}

void Connection::timer_fired() {
    timer_due_ = Clock::time_point::max();
    const auto now = Clock::now();
    expire_due(now);
    if (dead_) return;
    auto next = Clock::time_point::max();
    bool undecided = false;
    for (const auto& p : pending_) {
        if (!p->decision) {
            undecided = true;
            if (p->deadline < next) next = p->deadline;
        }
    }
    if (!undecided) {
        const auto idle_until = last_activity_ + server_.config()->server.idle_timeout;
        if (idle_until <= now) {
            close(fmt::format("idle for {:.0f}s", seconds(now - last_activity_)), log::Level::Debug);
            return;
        }
        next = idle_until;
    }
    arm_timer(next);
}

void Connection::expire_due(Clock::time_point now) {
    // expire() runs `done` at once; decided() only records, so pending_ stays put here.
    for (auto& p : pending_) {
        if (p->decision || p->deadline > now || !p->job) continue;
        p->job->expire();
        if (!p->decision) {
            log::error("{}: decider did not answer at the deadline; answering DUNNO", peer_);
            decided(*p, policy::Decision{"DUNNO", {}});
        }
    }
}

// --- state ---

void Connection::set_reading(bool on) {
    if (on == reading_ || !read_ev_) return;
    reading_ = on;
    if (on) event_add(read_ev_.get(), nullptr);
    else event_del(read_ev_.get());
}

void Connection::stop_reading_for_shutdown() {
    if (dead_) return;
    stopping_ = true;
    set_reading(false);
    // Requests already taken off the socket (stash_ included) are in flight: answered.
    finish_if_done();
}

void Connection::force_close(std::string_view reason) {
    if (dead_) return;
    expire_due(Clock::time_point::max());
    flush(Clock::now());
    if (!dead_) close(reason, log::Level::Info);
}

void Connection::close(std::string_view reason, log::Level level) {
    if (dead_) return;
    dead_ = true;
    if (level == log::Level::Debug) {
        log::debug("{}: {}; connection closed", peer_, reason);
    } else {
        log::write(level, fmt::format("{}: {}; connection closed", peer_, reason));
    }
    read_ev_.reset();
    write_ev_.reset();
    timer_ev_.reset();
    reading_ = writing_ = false;
    pending_.clear();   // destroys the jobs: their `done` will not run
    filling_.reset();
    spare_.clear();
    stash_.clear();
    out_.clear();
    fd_.reset();
    server_.schedule_free(id_);
}

}  // namespace rpd::server
