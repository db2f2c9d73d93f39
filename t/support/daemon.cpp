#include "support/daemon.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

extern char** environ;

namespace rpd::test {

namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
    return left < 0 ? 0 : static_cast<int>(left);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

int exit_code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

// posix_spawn RPD_BINARY with stdin from /dev/null and stdout/stderr into files.
pid_t spawn_binary(const std::vector<std::string>& args, const std::string& out_path, const std::string& err_path) {
    std::vector<char*> argv;
    std::string binary = RPD_BINARY;
    argv.push_back(binary.data());
    std::vector<std::string> copies = args;
    for (auto& a : copies) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    return rc == 0 ? pid : -1;
}

std::optional<int> wait_pid(pid_t pid, Millis timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return exit_code_of(status);
        if (r < 0) return -1;
        if (Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(5ms);
    }
}

bool connect_with_timeout(int fd, const sockaddr* sa, socklen_t len, Millis timeout) {
    if (::connect(fd, sa, len) == 0) return true;
    if (errno != EINPROGRESS && errno != EAGAIN) return false;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
    int err = 0;
    socklen_t err_len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
    return err == 0;
}

}  // namespace

// --- TempDir ---

TempDir::TempDir() {
    char templ[] = "/tmp/rpd-XXXXXX";   // short: a unix socket path must fit in 108 bytes
    if (::mkdtemp(templ) == nullptr) throw std::runtime_error(fmt::format("mkdtemp: {}", std::strerror(errno)));
    path_ = templ;
}

TempDir::~TempDir() {
    ::nftw(
        path_.c_str(), [](const char* p, const struct stat*, int, FTW*) { return ::remove(p); }, 16,
        FTW_DEPTH | FTW_PHYS);
}

std::uint16_t free_port(const std::string& host) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    int family = AF_INET;
    if (host.find(':') != std::string::npos) {
        family = AF_INET6;
        auto& sin6 = reinterpret_cast<sockaddr_in6&>(ss);
        sin6.sin6_family = AF_INET6;
        ::inet_pton(AF_INET6, host.c_str(), &sin6.sin6_addr);
        len = sizeof sin6;
    } else {
        auto& sin = reinterpret_cast<sockaddr_in&>(ss);
        sin.sin_family = AF_INET;
        ::inet_pton(AF_INET, host.c_str(), &sin.sin_addr);
        len = sizeof sin;
    }
    const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
        if (fd >= 0) ::close(fd);
        throw std::runtime_error(fmt::format("free_port({}): {}", host, std::strerror(errno)));
    }
    ::close(fd);
    return family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6&>(ss).sin6_port)
                              : ntohs(reinterpret_cast<sockaddr_in&>(ss).sin_port);
}

void write_file(const std::string& path, std::string_view text) {
    // Write a new file and rename it into place, as an admin's editor would.
    const auto tmp = path + ".new";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out) throw std::runtime_error("cannot write " + tmp);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot rename " + tmp);
}

// --- Daemon ---

Daemon::Daemon(DaemonSetup setup, Millis start_timeout) {
    own_dir_.emplace();
    dir_ = own_dir_->path();
    config_path_ = dir_ + "/reverse-policyd.toml";
    log_path_ = dir_ + "/stderr.log";
    if (setup.unix_listener) unix_path_ = dir_ + "/policy.sock";
    for (const auto& host : setup.inet_hosts) inet_ports_.push_back(free_port(host));
    write_file(config_path_, config_text(setup));
    start(start_timeout);
}

Daemon::Daemon(const std::string& config_text, TempDir& dir, Millis start_timeout) {
    dir_ = dir.path();
    config_path_ = dir_ + "/reverse-policyd.toml";
    log_path_ = dir_ + "/stderr.log";
    write_file(config_path_, config_text);
    start(start_timeout);
}

Daemon::~Daemon() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
}

std::string Daemon::config_text(const DaemonSetup& setup) const {
    std::vector<std::string> listen;
    if (!unix_path_.empty()) listen.push_back(fmt::format("\"unix:{}\"", unix_path_));
    for (std::size_t i = 0; i < setup.inet_hosts.size() && i < inet_ports_.size(); ++i) {
        const auto& host = setup.inet_hosts[i];
        listen.push_back(host.find(':') != std::string::npos ? fmt::format("\"inet:[{}]:{}\"", host, inet_ports_[i])
                                                             : fmt::format("\"inet:{}:{}\"", host, inet_ports_[i]));
    }
    return fmt::format(
        "[server]\n"
        "listen = [{}]\n"
        "{}"
        "\n[log]\n"
        "to = \"stderr\"\n"
        "level = \"{}\"\n"
        "{}{}",
        fmt::join(listen, ", "), setup.server_extra, setup.log_level, setup.extra, setup.checks);
}

void Daemon::start(Millis timeout) {
    pid_ = spawn_binary({"-f", "-c", config_path_}, log_path_ + ".out", log_path_);
    if (pid_ < 0) {
        start_error_ = fmt::format("cannot start {}", RPD_BINARY);
        return;
    }
    // The daemon logs "starting" once every listener is bound and listening.
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        if (log().find("starting: listening on") != std::string::npos) {
            started_ = true;
            return;
        }
        if (auto code = wait_pid(pid_, 0ms)) {
            pid_ = -1;
            start_error_ = fmt::format("exited with code {}: {}", *code, log());
            return;
        }
        std::this_thread::sleep_for(10ms);
    }
    start_error_ = "not listening in time: " + log();
}

std::string Daemon::log() const { return read_file(log_path_); }

std::size_t Daemon::log_count(std::string_view needle) const {
    const auto text = log();
    std::size_t count = 0;
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + needle.size())) ++count;
    return count;
}

bool Daemon::wait_for_log(std::string_view needle, Millis timeout, std::size_t times) const {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        if (log_count(needle) >= times) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
}

bool Daemon::signal(int sig) const { return pid_ > 0 && ::kill(pid_, sig) == 0; }

std::optional<int> Daemon::wait_exit(Millis timeout) {
    if (pid_ <= 0) return std::nullopt;
    auto code = wait_pid(pid_, timeout);
    if (code) pid_ = -1;
    return code;
}

RunResult run_binary(const std::vector<std::string>& args, Millis timeout) {
    TempDir dir;
    RunResult result;
    const pid_t pid = spawn_binary(args, dir.file("out"), dir.file("err"));
    if (pid < 0) return result;
    auto code = wait_pid(pid, timeout);
    if (!code) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
    } else {
        result.exit_code = *code;
    }
    result.out = read_file(dir.file("out"));
    result.err = read_file(dir.file("err"));
    return result;
}

std::string rcpt_request(std::string_view client_address, std::string_view extra) {
    return fmt::format(
        "request=smtpd_access_policy\n"
        "protocol_state=RCPT\n"
        "protocol_name=ESMTP\n"
        "client_address={}\n"
        "client_name=unknown\n"
        "client_port=51234\n"
        "reverse_client_name=unknown\n"
        "server_address=192.0.2.25\n"
        "server_port=25\n"
        "helo_name=mx.example.test\n"
        "sender=alice@example.test\n"
        "recipient=bob@example.org\n"
        "recipient_count=0\n"
        "queue_id=\n"
        "instance=1a2b.6565a1b2.c3d4e.0\n"
        "size=1024\n"
        "etrn_domain=\n"
        "stress=\n"
        "sasl_method=\n"
        "sasl_username=\n"
        "sasl_sender=\n"
        "ccert_subject=\n"
        "ccert_issuer=\n"
        "ccert_fingerprint=\n"
        "ccert_pubkey_fingerprint=\n"
        "encryption_protocol=TLSv1.3\n"
        "encryption_cipher=TLS_AES_256_GCM_SHA384\n"
        "encryption_keysize=256\n"
        "policy_context=\n"
        "{}\n",
        client_address, extra);
}

// --- PolicyClient ---

std::optional<PolicyClient> PolicyClient::connect_unix(const std::string& path, Millis timeout) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return std::nullopt;
    std::memcpy(addr.sun_path, path.data(), path.size());
    PolicyClient client(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (client.fd_ < 0 || !connect_with_timeout(client.fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr, timeout)) {
        return std::nullopt;
    }
    return client;
}

std::optional<PolicyClient> PolicyClient::connect_inet(const std::string& host, std::uint16_t port, Millis timeout,
                                                       const std::string& source) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    int family = AF_INET;
    auto fill = [&](const std::string& h, std::uint16_t p, sockaddr_storage& out) -> bool {
        if (h.find(':') != std::string::npos) {
            auto& sin6 = reinterpret_cast<sockaddr_in6&>(out);
            sin6.sin6_family = AF_INET6;
            sin6.sin6_port = htons(p);
            len = sizeof sin6;
            family = AF_INET6;
            return ::inet_pton(AF_INET6, h.c_str(), &sin6.sin6_addr) == 1;
        }
        auto& sin = reinterpret_cast<sockaddr_in&>(out);
        sin.sin_family = AF_INET;
        sin.sin_port = htons(p);
        len = sizeof sin;
        family = AF_INET;
        return ::inet_pton(AF_INET, h.c_str(), &sin.sin_addr) == 1;
    };
    if (!fill(host, port, ss)) return std::nullopt;
    const socklen_t peer_len = len;
    PolicyClient client(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (client.fd_ < 0) return std::nullopt;
    if (!source.empty()) {
        sockaddr_storage local{};
        if (!fill(source, 0, local) || ::bind(client.fd_, reinterpret_cast<sockaddr*>(&local), len) != 0) {
            return std::nullopt;
        }
    }
    if (!connect_with_timeout(client.fd_, reinterpret_cast<sockaddr*>(&ss), peer_len, timeout)) return std::nullopt;
    return client;
}

PolicyClient::PolicyClient(PolicyClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), buffer_(std::move(other.buffer_)) {}

PolicyClient& PolicyClient::operator=(PolicyClient&& other) noexcept {
    if (this != &other) {
        close();
        fd_ = std::exchange(other.fd_, -1);
        buffer_ = std::move(other.buffer_);
    }
    return *this;
}

PolicyClient::~PolicyClient() { close(); }

void PolicyClient::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

bool PolicyClient::send(std::string_view bytes, Millis timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!bytes.empty()) {
        const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p{fd_, POLLOUT, 0};
            if (::poll(&p, 1, remaining_ms(deadline)) <= 0) return false;
            continue;
        }
        return false;
    }
    return true;
}

std::optional<std::string> PolicyClient::read_reply(Millis timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        if (const auto end = buffer_.find("\n\n"); end != std::string::npos) {
            std::string reply = buffer_.substr(0, end);
            buffer_.erase(0, end + 2);
            if (reply.rfind("action=", 0) != 0 || reply.find('\n') != std::string::npos) return std::nullopt;
            return reply.substr(7);
        }
        char chunk[16 * 1024];
        const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n > 0) {
            buffer_.append(chunk, static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) return std::nullopt;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return std::nullopt;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, remaining_ms(deadline)) <= 0) return std::nullopt;
    }
}

std::optional<std::string> PolicyClient::ask(std::string_view request, Millis timeout) {
    if (!send(request, timeout)) return std::nullopt;
    return read_reply(timeout);
}

bool PolicyClient::wait_closed(Millis timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        char chunk[4096];
        const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n == 0) return true;
        if (n < 0) {
            if (errno == ECONNRESET || errno == EPIPE) return true;
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
            pollfd p{fd_, POLLIN, 0};
            const int left = remaining_ms(deadline);
            if (left == 0 || ::poll(&p, 1, left) <= 0) return false;
        }
    }
}

}  // namespace rpd::test
