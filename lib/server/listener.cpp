#include "server/listener.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace rpd::server {

namespace {

// The kernel caps this at net.core.somaxconn.
constexpr int listen_backlog = 4096;

std::string errno_text(int err) { return std::strerror(err); }

// Is a process accepting on the unix socket at `addr`? ECONNREFUSED is the only
// answer that proves nobody is.
std::variant<bool, std::string> socket_in_use(const sockaddr_un& addr) {
    Fd probe{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (!probe) return fmt::format("socket: {}", errno_text(errno));
    if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return true;
    const int err = errno;
    if (err == ECONNREFUSED) return false;
    if (err == EAGAIN) return true;   // backlog full: someone listens
    return fmt::format("cannot tell whether the existing socket is in use: {}", errno_text(err));
}

std::variant<ListenSocket, std::string> open_unix(const config::ListenAddress& address, mode_t mode) {
    const auto& path = address.path;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof addr.sun_path) {
        return fmt::format("{}: socket path empty or longer than {} bytes", address.text, sizeof addr.sun_path - 1);
    }
    std::memcpy(addr.sun_path, path.data(), path.size());

    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            return fmt::format("{}: {} exists and is not a socket; not removing it", address.text, path);
        }
        auto in_use = socket_in_use(addr);
        if (auto* err = std::get_if<std::string>(&in_use)) return fmt::format("{}: {}", address.text, *err);
        if (std::get<bool>(in_use)) {
            return fmt::format("{}: another process is accepting connections on {}", address.text, path);
        }
        if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
            return fmt::format("{}: cannot remove stale socket {}: {}", address.text, path, errno_text(errno));
        }
    } else if (errno != ENOENT) {
        return fmt::format("{}: {}: {}", address.text, path, errno_text(errno));
    }

    ListenSocket sock;
    sock.address = address;
    sock.fd.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!sock.fd) return fmt::format("{}: socket: {}", address.text, errno_text(errno));
    // Create it private, then open it up to socket_mode: no moment with wider access.
    const mode_t old_umask = ::umask(0177);
    const int rc = ::bind(sock.fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    const int bind_errno = errno;
    ::umask(old_umask);
    if (rc != 0) return fmt::format("{}: cannot bind: {}", address.text, errno_text(bind_errno));
    if (::chmod(path.c_str(), mode) != 0) {
        const int err = errno;
        ::unlink(path.c_str());
        return fmt::format("{}: chmod {:o}: {}", address.text, mode, errno_text(err));
    }
    if (::listen(sock.fd.get(), listen_backlog) != 0) {
        const int err = errno;
        ::unlink(path.c_str());
        return fmt::format("{}: listen: {}", address.text, errno_text(err));
    }
    if (::stat(path.c_str(), &st) == 0) {
        sock.dev = st.st_dev;
        sock.ino = st.st_ino;
    }
    return sock;
}

std::variant<ListenSocket, std::string> open_inet(const config::ListenAddress& address) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    const bool any_host = address.host.empty() || address.host == "*";
    const auto port = std::to_string(address.port);
    addrinfo* found = nullptr;
    if (const int rc = ::getaddrinfo(any_host ? nullptr : address.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        return fmt::format("{}: not a numeric address: {}", address.text, ::gai_strerror(rc));
    }
    const util::CPtr<addrinfo, ::freeaddrinfo> owner{found};

    ListenSocket sock;
    sock.address = address;
    sock.fd.reset(::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!sock.fd) return fmt::format("{}: socket: {}", address.text, errno_text(errno));
    const int on = 1;
    ::setsockopt(sock.fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    // "inet:[::]:port" means IPv6 only; IPv4 is a listen entry of its own.
    if (found->ai_family == AF_INET6) ::setsockopt(sock.fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    if (::bind(sock.fd.get(), found->ai_addr, found->ai_addrlen) != 0) {
        return fmt::format("{}: cannot bind: {}", address.text, errno_text(errno));
    }
    if (::listen(sock.fd.get(), listen_backlog) != 0) {
        return fmt::format("{}: listen: {}", address.text, errno_text(errno));
    }
    return sock;
}

}  // namespace

std::variant<ListenSocket, std::string> open_listener(const config::ListenAddress& address, mode_t socket_mode) {
    switch (address.kind) {
    case config::ListenAddress::Kind::Unix: return open_unix(address, socket_mode);
    case config::ListenAddress::Kind::Inet: return open_inet(address);
    }
    return fmt::format("{}: unknown listener kind", address.text);
}

void remove_socket_file(const ListenSocket& socket) noexcept {
    if (socket.address.kind != config::ListenAddress::Kind::Unix || socket.ino == 0) return;
    struct stat st {};
    if (::lstat(socket.address.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == socket.dev &&
        st.st_ino == socket.ino) {
        ::unlink(socket.address.path.c_str());
    }
}

}  // namespace rpd::server
