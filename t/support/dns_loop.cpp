#include "support/dns_loop.hpp"

#include <event2/event.h>

#include <stdexcept>

namespace rpd::test {

namespace {

using Clock = std::chrono::steady_clock;
using EventPtr = util::CPtr<event, event_free>;

timeval to_timeval(Clock::duration d) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    return timeval{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
}

void on_tick(evutil_socket_t, short, void*) noexcept {}

}  // namespace

TestLoop::TestLoop() : base_(event_base_new()) {
    if (base_ == nullptr) throw std::runtime_error("event_base_new failed");
}

TestLoop::~TestLoop() { event_base_free(base_); }

bool TestLoop::run_until(const std::function<bool()>& done, std::chrono::milliseconds bound) {
    const auto deadline = Clock::now() + bound;
    // A timer at the deadline, so EVLOOP_ONCE never blocks past it (or forever when
    // nothing else is pending).
    EventPtr tick(evtimer_new(base_, &on_tick, nullptr));
    while (!done()) {
        const auto now = Clock::now();
        if (now >= deadline) return false;
        const timeval tv = to_timeval(deadline - now);
        event_add(tick.get(), &tv);
        event_base_loop(base_, EVLOOP_ONCE);
    }
    return true;
}

void TestLoop::run_for(std::chrono::milliseconds d) {
    (void)run_until([] { return false; }, d);
}

std::optional<dns::DnsResult> ask(TestLoop& loop, dns::Resolver& resolver, const std::string& name, dns::RrType type,
                                  std::chrono::milliseconds bound) {
    std::optional<dns::DnsResult> got;
    auto ticket = resolver.lookup(name, type, [&](const dns::DnsResult& r) { got = r; });
    if (got) throw std::logic_error("callback ran inside lookup()");
    loop.run_until([&] { return got.has_value(); }, bound);
    return got;
}

}  // namespace rpd::test
