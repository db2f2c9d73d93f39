// contrib/bench/endpoint.hpp -- where to connect or listen: unix:PATH, inet:HOST:PORT.
//
// In: the text Postfix's check_policy_service and the daemon's `listen` use
// ("unix:/path/sock", "inet:127.0.0.1:10040", "inet:[::1]:10040"; a HOST name is
// resolved once, at start, blocking: this is a tool, not the daemon). Out: a socket
// address, or an error message. Sockets come back non-blocking and close-on-exec.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

namespace rpd::bench {

struct Endpoint {
    enum class Kind { Unix, Inet };
    Kind kind = Kind::Unix;
    std::string text;            // as given, for messages
    std::string path;            // Unix only
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
};

// nullopt and `error` set when the text is not a usable address.
std::optional<Endpoint> parse_endpoint(std::string_view text, std::string& error);

// A new non-blocking stream socket of the endpoint's family; -1 and errno on failure.
int new_stream_socket(const Endpoint& ep) noexcept;

// A connected socket (still non-blocking), waiting up to `timeout_ms` for the connect;
// a full Unix listen queue is knocked on again until then. -1 and `error` set if not.
int connect_wait(const Endpoint& ep, int timeout_ms, std::string& error);

// A listening non-blocking socket. A stale Unix socket file at the path is removed
// first (a regular file is not). -1 and `error` set on failure.
int listen_on(const Endpoint& ep, int backlog, std::string& error);

}  // namespace rpd::bench
