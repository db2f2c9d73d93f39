// lib/server/libevent.hpp -- owners for libevent objects, and an owned file descriptor.
//
// event_free() also removes a pending or active event, so dropping an EventPtr is how a
// callback is guaranteed never to run again.
#pragma once

#include <event2/event.h>
#include <unistd.h>

#include <utility>

#include "util/cptr.hpp"

namespace rpd::server {

using EventPtr = util::CPtr<event, event_free>;
using EventBasePtr = util::CPtr<event_base, event_base_free>;

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) noexcept : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) reset(std::exchange(other.fd_, -1));
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

}  // namespace rpd::server
