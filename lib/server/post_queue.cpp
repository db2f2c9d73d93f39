#include "server/post_queue.hpp"

#include <stdexcept>

#include "log/logger.hpp"

namespace rpd::server {

PostQueue::PostQueue(event_base* base) : wake_(event_new(base, -1, 0, &PostQueue::on_wake, this)) {
    if (!wake_) throw std::runtime_error("event_new failed");
}

void PostQueue::post(std::function<void()> fn) {
    queue_.push_back(std::move(fn));
    if (queue_.size() == 1) event_active(wake_.get(), 0, 0);
}

void PostQueue::on_wake(evutil_socket_t, short, void* arg) noexcept {
    auto* self = static_cast<PostQueue*>(arg);
    // Only what was queued before this turn; the swap keeps both deques' memory.
    self->running_.swap(self->queue_);
    while (!self->running_.empty()) {
        auto fn = std::move(self->running_.front());
        self->running_.pop_front();
        try {
            fn();
        } catch (const std::exception& e) {
            log::error("internal error in a posted callback: {}", e.what());
        } catch (...) {
            log::error("internal error in a posted callback");
        }
    }
    if (!self->queue_.empty()) event_active(self->wake_.get(), 0, 0);
}

}  // namespace rpd::server
