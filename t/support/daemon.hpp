// t/support/daemon.hpp -- run the real reverse-policyd binary, and talk to it.
//
// Daemon writes a config into a fresh temp dir, starts RPD_BINARY -f -c CONFIG with
// stderr captured to a file, waits (bounded) until it is listening, and in its
// destructor kills it by pid and reaps it, also when a test fails. PolicyClient is a
// small blocking policy-protocol client with timeouts on every call. Loopback only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rpd::test {

using namespace std::chrono_literals;
using Millis = std::chrono::milliseconds;

class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const noexcept { return path_; }
    std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

private:
    std::string path_;
};

// A TCP port on `host` that was free a moment ago (bind port 0, read it, close).
std::uint16_t free_port(const std::string& host = "127.0.0.1");

void write_file(const std::string& path, std::string_view text);

// Config sections that turn every DNS check off: each request is answered DUNNO at once
// with nothing asked (for tests of the server core, which must not depend on DNS).
inline constexpr const char* checks_off =
    "\n[client]\nlookup = false\n[helo]\nlookup = false\n[sender]\nlookup = false\n";

struct DaemonSetup {
    bool unix_listener = true;
    std::vector<std::string> inet_hosts;   // e.g. {"127.0.0.1", "::1"}: one free port each
    std::string server_extra;             // more [server] lines: "max_connections = 5\n"
    std::string log_level = "info";
    std::string extra;                    // more sections after [server] and [log]
    std::string checks = checks_off;      // "" = the checks as configured in `extra` (or defaults)
};

class Daemon {
public:
    // Starts the daemon; check started() (and start_error()) before using it.
    explicit Daemon(DaemonSetup setup = {}, Millis start_timeout = 10s);
    // A config written by the test (its listen addresses must be the ones it uses).
    Daemon(const std::string& config_text, TempDir& dir, Millis start_timeout = 10s);
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    bool started() const noexcept { return started_; }
    const std::string& start_error() const noexcept { return start_error_; }
    pid_t pid() const noexcept { return pid_; }

    const std::string& unix_path() const noexcept { return unix_path_; }
    // The port of the i-th inet host of the setup.
    std::uint16_t inet_port(std::size_t i = 0) const { return inet_ports_.at(i); }
    const std::string& config_path() const noexcept { return config_path_; }
    const std::string& dir() const noexcept { return dir_; }

    // The config text for `setup` with the listen addresses chosen for this daemon.
    std::string config_text(const DaemonSetup& setup) const;

    std::string log() const;   // everything written to stderr so far
    std::size_t log_count(std::string_view needle) const;
    bool wait_for_log(std::string_view needle, Millis timeout, std::size_t times = 1) const;

    bool signal(int sig) const;
    // The exit code (or 128 + signal) once the process has ended, nullopt on timeout.
    std::optional<int> wait_exit(Millis timeout);

private:
    void start(Millis timeout);

    std::optional<TempDir> own_dir_;
    std::string dir_;
    std::string config_path_;
    std::string log_path_;
    std::string unix_path_;
    std::vector<std::uint16_t> inet_ports_;
    pid_t pid_ = -1;
    bool started_ = false;
    std::string start_error_;
};

// Runs RPD_BINARY with `args` to completion (bounded); returns exit code and output.
struct RunResult {
    int exit_code = -1;   // 128 + signal if killed; -1 if it could not run or timed out
    std::string out;      // stdout
    std::string err;      // stderr
};
RunResult run_binary(const std::vector<std::string>& args, Millis timeout = 10s);

// A request as Postfix 3.7 sends it at RCPT, with documentation values; `extra` lines
// ("name=value\n" each) are added before the empty line.
std::string rcpt_request(std::string_view client_address = "203.0.113.9", std::string_view extra = {});

class PolicyClient {
public:
    static std::optional<PolicyClient> connect_unix(const std::string& path, Millis timeout = 5s);
    // `source`: bind the client to this local address first ("127.0.0.2").
    static std::optional<PolicyClient> connect_inet(const std::string& host, std::uint16_t port,
                                                    Millis timeout = 5s, const std::string& source = {});
    PolicyClient(PolicyClient&& other) noexcept;
    PolicyClient& operator=(PolicyClient&& other) noexcept;
    PolicyClient(const PolicyClient&) = delete;
    PolicyClient& operator=(const PolicyClient&) = delete;
    ~PolicyClient();

    bool send(std::string_view bytes, Millis timeout = 5s);
    // The action of the next reply ("DUNNO"), or nullopt on timeout, EOF or a reply
    // that is not "action=...\n\n".
    std::optional<std::string> read_reply(Millis timeout = 5s);
    // send + read_reply.
    std::optional<std::string> ask(std::string_view request, Millis timeout = 5s);
    // True when the peer closes (EOF or reset) within `timeout`; replies read meanwhile
    // are discarded.
    bool wait_closed(Millis timeout);
    void close();
    int fd() const noexcept { return fd_; }

private:
    explicit PolicyClient(int fd) : fd_(fd) {}
    int fd_ = -1;
    std::string buffer_;
};

}  // namespace rpd::test
