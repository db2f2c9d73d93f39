// lib/server/dunno_decider.hpp -- a Decider that answers every request with DUNNO.
//
// The stand-in until the rules engine exists, and the cheapest possible decision for
// load tests. Like every Decider it answers asynchronously: decide() only queues the
// job; one event per decider (not one per request) runs the queue on the next loop
// turn. Destroying a job before then unqueues it: its `done` never runs.
#pragma once

#include <cstddef>
#include <memory>

#include "policy/decider.hpp"
#include "server/libevent.hpp"

namespace rpd::server {

class DunnoDecider final : public policy::Decider {
public:
    explicit DunnoDecider(event_base* base);
    ~DunnoDecider() override;
    DunnoDecider(const DunnoDecider&) = delete;
    DunnoDecider& operator=(const DunnoDecider&) = delete;

    std::unique_ptr<Job> decide(std::shared_ptr<const config::Config> config, const policy::Request& request,
                                Done done) override;

    class QueuedJob;

private:
    friend class QueuedJob;
    static void on_wake(evutil_socket_t, short, void* arg) noexcept;
    void enqueue(QueuedJob* job) noexcept;
    void unlink(QueuedJob* job) noexcept;
    void run_queue();

    EventPtr wake_;
    QueuedJob* head_ = nullptr;   // intrusive FIFO: no allocation to queue a job
    QueuedJob* tail_ = nullptr;
    std::size_t queued_ = 0;
};

}  // namespace rpd::server
