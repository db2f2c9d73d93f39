// lib/server/post_queue.hpp -- "run this on the next loop turn", for checks::Engine::Post.
//
// One event per queue, not one event_base_once per call: nothing is left allocated when
// the loop goes away with work still queued (event_base_once's argument would leak), and
// posting costs no event registration. Functions run in FIFO order from a noexcept
// trampoline; an exception is logged and the rest of the queue still runs. A function
// posted while the queue runs waits for the next turn. Destroying the queue drops what
// is still queued, without running it.
#pragma once

#include <deque>
#include <functional>

#include "server/libevent.hpp"

namespace rpd::server {

class PostQueue {
public:
    explicit PostQueue(event_base* base);   // throws std::runtime_error if event_new fails
    PostQueue(const PostQueue&) = delete;
    PostQueue& operator=(const PostQueue&) = delete;

    void post(std::function<void()> fn);
    std::size_t size() const noexcept { return queue_.size(); }

private:
    static void on_wake(evutil_socket_t, short, void* arg) noexcept;

    EventPtr wake_;
    std::deque<std::function<void()>> queue_;
    std::deque<std::function<void()>> running_;
};

}  // namespace rpd::server
