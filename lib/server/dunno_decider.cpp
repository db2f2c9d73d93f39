#include "server/dunno_decider.hpp"

#include <stdexcept>

#include "log/logger.hpp"

namespace rpd::server {

class DunnoDecider::QueuedJob final : public policy::Decider::Job {
public:
    QueuedJob(DunnoDecider* owner, Done done) : owner_(owner), done_(std::move(done)) {}
    ~QueuedJob() override {
        if (queued_ && owner_ != nullptr) owner_->unlink(this);
    }

    void expire() override {
        if (!queued_) return;
        owner_->unlink(this);
        finish();
    }

    // Runs `done` once. `this` may be destroyed by it: nothing touches members after.
    void finish() {
        auto done = std::move(done_);
        done(policy::Decision{"DUNNO", {}});
    }

    DunnoDecider* owner_;
    Done done_;
    QueuedJob* prev_ = nullptr;
    QueuedJob* next_ = nullptr;
    bool queued_ = false;
};

DunnoDecider::DunnoDecider(event_base* base) : wake_(event_new(base, -1, 0, &DunnoDecider::on_wake, this)) {
    if (!wake_) throw std::runtime_error("event_new failed");
}

DunnoDecider::~DunnoDecider() {
    for (auto* job = head_; job != nullptr; job = job->next_) {
        job->queued_ = false;
        job->owner_ = nullptr;
    }
}

std::unique_ptr<policy::Decider::Job> DunnoDecider::decide(std::shared_ptr<const config::Config>,
                                                           const policy::Request&, Done done) {
    auto job = std::make_unique<QueuedJob>(this, std::move(done));
    enqueue(job.get());
    return job;
}

void DunnoDecider::enqueue(QueuedJob* job) noexcept {
    job->prev_ = tail_;
    job->next_ = nullptr;
    if (tail_ != nullptr) tail_->next_ = job;
    else head_ = job;
    tail_ = job;
    job->queued_ = true;
    if (queued_++ == 0) event_active(wake_.get(), 0, 0);
}

void DunnoDecider::unlink(QueuedJob* job) noexcept {
    if (job->prev_ != nullptr) job->prev_->next_ = job->next_;
    else head_ = job->next_;
    if (job->next_ != nullptr) job->next_->prev_ = job->prev_;
    else tail_ = job->prev_;
    job->prev_ = job->next_ = nullptr;
    job->queued_ = false;
    --queued_;
}

void DunnoDecider::on_wake(evutil_socket_t, short, void* arg) noexcept {
    auto* self = static_cast<DunnoDecider*>(arg);
    try {
        self->run_queue();
    } catch (const std::exception& e) {
        log::error("dunno decider: {}", e.what());
    }
    if (self->queued_ > 0) event_active(self->wake_.get(), 0, 0);
}

void DunnoDecider::run_queue() {
    // Only the jobs queued before this turn: one queued by a `done` waits for the next.
    auto count = queued_;
    while (count-- > 0 && head_ != nullptr) {
        auto* job = head_;
        unlink(job);
        job->finish();
    }
}

}  // namespace rpd::server
