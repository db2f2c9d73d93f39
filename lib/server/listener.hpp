// lib/server/listener.hpp -- bound, listening sockets for the [server] listen addresses.
//
// In: a ListenAddress ("unix:PATH" or "inet:HOST:PORT") and the unix socket mode.
// Out: a non-blocking listening socket, or a one-line error for the startup log.
// Plain sockets, no event loop: the daemon binds before it drops privileges and
// before the server (and its event_base) exists.
//
// A unix socket path that already exists is replaced only when it is a socket that
// nobody accepts on (a stale file left by a crash); a live socket or any other kind of
// file is an error, never removed. HOST must be a numeric address (no DNS at startup).
#pragma once

#include <sys/types.h>

#include <string>
#include <variant>

#include "config/config.hpp"
#include "server/libevent.hpp"

namespace rpd::server {

struct ListenSocket {
    Fd fd;
    config::ListenAddress address;
    // Unix: the socket file we created, so that only ours is removed at exit.
    dev_t dev = 0;
    ino_t ino = 0;
};

std::variant<ListenSocket, std::string> open_listener(const config::ListenAddress& address, mode_t socket_mode);

// Unix: removes the socket file if it is still the one this process created.
void remove_socket_file(const ListenSocket& socket) noexcept;

}  // namespace rpd::server
