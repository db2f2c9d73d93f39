// lib/server/connection.hpp -- one client connection speaking the policy protocol.
//
// Postfix keeps a connection open and sends one request after another; a client may
// also send several back to back. Each complete request goes to the Decider at once;
// replies leave in request order, whatever order the decisions finish in. Per batch of
// input: one read(2) and one clock read; per loop turn: one write(2) (the server calls
// flush() with the turn's time).
//
// One timer per connection serves both the request deadlines and idle_timeout; it is
// re-armed only when a new deadline is earlier than the one it is set for, so a busy
// connection does not touch the timer heap per request.
//
// close(reason) logs the reason with the peer, frees the events and cancels the jobs
// (their `done` never runs), and marks the connection dead; the server frees it on
// the next loop turn, so no callback on the stack sees freed memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "log/logger.hpp"
#include "policy/decider.hpp"
#include "policy/parser.hpp"
#include "server/libevent.hpp"

namespace rpd::server {

class Server;

using ConnId = std::uint64_t;
using Clock = std::chrono::steady_clock;

class Connection {
public:
    Connection(Server& server, ConnId id, Fd fd, std::string peer);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Creates the events and starts reading. False (and the reason) if libevent fails.
    bool start(std::string& error);

    ConnId id() const noexcept { return id_; }
    const std::string& peer() const noexcept { return peer_; }
    bool dead() const noexcept { return dead_; }
    std::size_t in_flight() const noexcept { return pending_.size(); }

    // Answers whatever decisions are ready, in order, writes them, and closes the
    // connection when it has nothing more to do (peer done, or server stopping). `now`:
    // the time the replies leave, read once per loop turn by the caller; a decision's
    // log line says delay= from its request's arrival until then.
    void flush(Clock::time_point now);
    // Server stopping: read no more requests, answer those in flight, then close.
    void stop_reading_for_shutdown();
    // Shutdown deadline passed: answer what is undecided as the deadline would, write once, close.
    void force_close(std::string_view reason);
    void close(std::string_view reason, log::Level level);

private:
    struct Pending {
        policy::Request request;
        Clock::time_point received;
        Clock::time_point deadline;
        std::optional<policy::Decision> decision;
        // Declared after `request`, so destroyed first: a job may refer to the request.
        std::unique_ptr<policy::Decider::Job> job;
    };

    static void on_read(evutil_socket_t, short, void* arg) noexcept;
    static void on_write(evutil_socket_t, short, void* arg) noexcept;
    static void on_timer(evutil_socket_t, short, void* arg) noexcept;

    void readable();
    void writable();
    void timer_fired();
    void consume(std::string_view input, Clock::time_point now);
    std::unique_ptr<Pending> new_pending();   // a spare one if there is one
    void start_request(Pending& pending, Clock::time_point now);
    void decided(Pending& pending, policy::Decision decision);
    void expire_due(Clock::time_point now);
    void write_out(Clock::time_point now);
    void arm_timer(Clock::time_point due);
    void set_reading(bool on);
    bool backlogged() const noexcept;
    void finish_if_done();

    Server& server_;
    const ConnId id_;
    Fd fd_;
    const std::string peer_;
    EventPtr read_ev_;
    EventPtr write_ev_;
    EventPtr timer_ev_;
    Clock::time_point timer_due_ = Clock::time_point::max();
    Clock::time_point last_activity_;

    policy::Parser parser_;
    // In arrival order. Each Pending stays put while its job runs (`done` points at it),
    // and answered ones are kept for reuse: their Requests keep their memory.
    // A vector, not a deque: a deque allocates 576 bytes up front, for each of thousands of
    // idle connections; Postfix has one request in flight.
    std::vector<std::unique_ptr<Pending>> pending_;
    std::vector<std::unique_ptr<Pending>> spare_;
    std::unique_ptr<Pending> filling_;   // the request being parsed; joins pending_ when complete
    std::string stash_;             // input not parsed yet because too much is in flight
    std::string out_;               // replies not yet written
    std::size_t out_sent_ = 0;

    bool reading_ = false;
    bool writing_ = false;
    bool peer_eof_ = false;         // the peer sent FIN: answer what is in flight, then close
    bool stopping_ = false;         // server shutdown
    bool dead_ = false;
    bool flush_scheduled_ = false;
};

}  // namespace rpd::server
