// contrib/bench/endpoint.cpp -- see endpoint.hpp.
#include "endpoint.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

namespace rpd::bench {

std::optional<Endpoint> parse_endpoint(std::string_view text, std::string& error) {
    Endpoint ep;
    ep.text = std::string(text);
    if (text.starts_with("unix:")) {
        ep.kind = Endpoint::Kind::Unix;
        ep.path = std::string(text.substr(5));
        sockaddr_un sun{};
        if (ep.path.empty()) {
            error = fmt::format("{}: empty socket path", text);
            return std::nullopt;
        }
        if (ep.path.size() >= sizeof sun.sun_path || ep.path.find('\0') != std::string::npos) {
            error = fmt::format("{}: socket path longer than {} bytes", text, sizeof sun.sun_path - 1);
            return std::nullopt;
        }
        sun.sun_family = AF_UNIX;
        std::memcpy(sun.sun_path, ep.path.data(), ep.path.size());
        std::memcpy(&ep.addr, &sun, sizeof sun);
        ep.addr_len = static_cast<socklen_t>(sizeof sun);
        return ep;
    }
    if (!text.starts_with("inet:")) {
        error = fmt::format("{}: expected unix:PATH or inet:HOST:PORT", text);
        return std::nullopt;
    }
    ep.kind = Endpoint::Kind::Inet;
    const std::string_view hostport = text.substr(5);
    const auto colon = hostport.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == hostport.size()) {
        error = fmt::format("{}: expected inet:HOST:PORT", text);
        return std::nullopt;
    }
    std::string host(hostport.substr(0, colon));
    const std::string port(hostport.substr(colon + 1));
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 || std::stoul(port) > 65535) {
        error = fmt::format("{}: bad port '{}'", text, port);
        return std::nullopt;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0 || res == nullptr) {
        error = fmt::format("{}: cannot resolve '{}': {}", text, host, gai_strerror(rc));
        return std::nullopt;
    }
    std::memcpy(&ep.addr, res->ai_addr, res->ai_addrlen);
    ep.addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return ep;
}

int new_stream_socket(const Endpoint& ep) noexcept {
    const int fd = socket(ep.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && ep.kind == Endpoint::Kind::Inet) {
        // One small write per request and per reply: never wait for Nagle.
        const int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

int connect_wait(const Endpoint& ep, int timeout_ms, std::string& error) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        const int fd = new_stream_socket(ep);
        if (fd < 0) {
            error = fmt::format("{}: socket: {}", ep.text, std::strerror(errno));
            return -1;
        }
        int err = 0;
        if (connect(fd, reinterpret_cast<const sockaddr*>(&ep.addr), ep.addr_len) != 0) {
            err = errno;
            if (err == EINPROGRESS) {
                pollfd p{fd, POLLOUT, 0};
                const int n = poll(&p, 1, timeout_ms);
                socklen_t len = sizeof err;
                if (n == 0) err = ETIMEDOUT;
                else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
            }
        }
        if (err == 0) return fd;
        close(fd);
        if (err == EAGAIN && ep.kind == Endpoint::Kind::Unix && std::chrono::steady_clock::now() < deadline) {
            poll(nullptr, 0, 1);   // listen queue full: the server is busy, not gone
            continue;
        }
        error = fmt::format("cannot connect to {}: {}", ep.text, std::strerror(err));
        return -1;
    }
}

int listen_on(const Endpoint& ep, int backlog, std::string& error) {
    if (ep.kind == Endpoint::Kind::Unix) {
        struct stat st {};
        if (lstat(ep.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(ep.path.c_str());
    }
    const int fd = new_stream_socket(ep);
    if (fd < 0) {
        error = fmt::format("{}: socket: {}", ep.text, std::strerror(errno));
        return -1;
    }
    if (ep.kind == Endpoint::Kind::Inet) {
        const int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    if (bind(fd, reinterpret_cast<const sockaddr*>(&ep.addr), ep.addr_len) != 0) {
        error = fmt::format("{}: bind: {}", ep.text, std::strerror(errno));
        close(fd);
        return -1;
    }
    if (listen(fd, backlog) != 0) {
        error = fmt::format("{}: listen: {}", ep.text, std::strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

}  // namespace rpd::bench
