// lib/server/server.hpp -- the event loop: listeners, connections, signals, reload.
//
// The Server is the sole owner of the event_base. It accepts on already bound
// listeners (listener.hpp), refuses inet peers outside server.allow and connections
// beyond max_connections (each kind logged once per burst, not per connection), and
// hands every request to the Decider made by the factory. Signals arrive through
// libevent: SIGTERM/SIGINT stop accepting, answer what is in flight and return from
// run() within request_deadline (a second one returns at once); SIGHUP reloads the
// config file, and a file with errors is logged (every FILE:LINE:COL) while the old
// config stays. Requests keep the config they started with.
//
// Not here: binding (listener.hpp), privileges and daemonising (daemon.hpp), deciding.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "policy/decider.hpp"
#include "server/connection.hpp"
#include "server/libevent.hpp"
#include "server/listener.hpp"

namespace rpd::server {

// Makes the Decider once the event_base exists (the real one needs it for DNS).
using DeciderFactory =
    std::function<std::unique_ptr<policy::Decider>(event_base* base, std::shared_ptr<const config::Config> config)>;

// Logs the first event of a burst at once; repeats within `quiet` are only counted, and
// the next line after the quiet time says how many were not logged.
class BurstLog {
public:
    explicit BurstLog(std::chrono::seconds quiet) : quiet_(quiet) {}
    // True: log now, `suppressed` events were left out since the last line.
    bool should_log(Clock::time_point now, std::size_t& suppressed) noexcept;

private:
    std::chrono::seconds quiet_;
    Clock::time_point last_ = Clock::time_point::min();
    std::size_t suppressed_ = 0;
};

struct ServerOptions {
    std::string config_path;   // what SIGHUP reloads; "" = reload disabled
    // Applies a reloaded config's process-wide settings (log level, sink).
    std::function<void(const config::Config&)> on_reload;
};

class Server {
public:
    // Throws std::runtime_error if libevent cannot be set up (a startup failure).
    Server(std::shared_ptr<const config::Config> config, std::vector<ListenSocket> listeners,
           const DeciderFactory& make_decider, ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Runs until stopped by a signal (or stop()). Returns the exit code: 0 after a
    // clean stop, 2 if the loop failed.
    int run();
    void stop(std::string_view why);
    void reload();

    // --- for Connection ---
    event_base* base() const noexcept { return base_.get(); }
    const std::shared_ptr<const config::Config>& config() const noexcept { return config_; }
    policy::Decider& decider() noexcept { return *decider_; }
    char* read_buffer() noexcept { return read_buffer_.get(); }
    static constexpr std::size_t read_buffer_size = 64 * 1024;
    // The connection has replies to write: flush it at the end of this turn (once per
    // turn: the connection remembers that it asked).
    void schedule_flush(ConnId id);
    // The connection is closed: free it at the end of this turn.
    void schedule_free(ConnId id);

private:
    struct Listener {
        Server* server = nullptr;
        ListenSocket socket;
        EventPtr ev;
    };

    static void on_accept(evutil_socket_t, short, void* arg) noexcept;
    static void on_turn(evutil_socket_t, short, void* arg) noexcept;
    static void on_signal(evutil_socket_t, short, void* arg) noexcept;
    static void on_shutdown_deadline(evutil_socket_t, short, void* arg) noexcept;
    static void on_resume_accept(evutil_socket_t, short, void* arg) noexcept;

    void accept_from(Listener& listener);
    void add_connection(Fd fd, std::string peer);
    void end_of_turn();
    void schedule_turn();
    void close_listeners();
    void pause_accepting(std::chrono::milliseconds how_long);

    // Destroyed last: every event below belongs to it.
    EventBasePtr base_;
    std::shared_ptr<const config::Config> config_;
    ServerOptions options_;
    std::unique_ptr<policy::Decider> decider_;
    std::vector<std::unique_ptr<Listener>> listeners_;
    std::unordered_map<ConnId, std::unique_ptr<Connection>> connections_;
    ConnId next_id_ = 1;
    std::unique_ptr<char[]> read_buffer_;

    EventPtr turn_ev_;
    bool turn_scheduled_ = false;
    std::vector<ConnId> to_flush_;
    std::vector<ConnId> to_free_;
    std::vector<ConnId> scratch_;

    std::vector<EventPtr> signal_evs_;
    EventPtr shutdown_ev_;
    EventPtr resume_accept_ev_;
    bool stopping_ = false;
    bool failed_ = false;

    BurstLog refused_allow_log_{std::chrono::seconds(60)};
    BurstLog refused_limit_log_{std::chrono::seconds(60)};
    BurstLog accept_error_log_{std::chrono::seconds(60)};
};

}  // namespace rpd::server
