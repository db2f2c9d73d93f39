// t/support/dns_loop.hpp -- a test's own event loop, and "ask one question and wait".
//
// In: a resolver on this loop, questions. Out: their results, or nothing when the bound
// runs out (the test then fails; nothing waits forever). Runs on the calling thread.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "dns/types.hpp"
#include "util/cptr.hpp"

struct event_base;

namespace rpd::test {

class TestLoop {
public:
    TestLoop();
    ~TestLoop();
    TestLoop(const TestLoop&) = delete;
    TestLoop& operator=(const TestLoop&) = delete;

    event_base* base() const noexcept { return base_; }

    // Runs the loop until done() is true (checked after every callback) or `bound` has
    // passed. True if done.
    bool run_until(const std::function<bool()>& done, std::chrono::milliseconds bound);
    // Runs the loop for `d` (e.g. to show that nothing more arrives).
    void run_for(std::chrono::milliseconds d);

private:
    event_base* base_;
};

// lookup() and run the loop until its callback ran. nullopt if it did not within `bound`.
std::optional<dns::DnsResult> ask(TestLoop& loop, dns::Resolver& resolver, const std::string& name, dns::RrType type,
                                  std::chrono::milliseconds bound = std::chrono::seconds(10));

}  // namespace rpd::test
