// t/support/fake_resolver.hpp -- a dns::Resolver that answers from a table, when the test says so.
//
// set(name, type, ...) maps a question (name compared case-insensitively, trailing dot
// ignored) to a canned DnsResult; a question not in the table ends as the default status
// (NxDomain unless set_default says otherwise). Nothing is delivered from inside
// lookup(): answers wait in a FIFO until the test calls deliver_one() or run_pending(),
// like the real resolver's zero-delay events. Every question is counted; a cancelled
// Ticket's answer is dropped. FakeScheduler is the engine's `post` for tests: closures
// wait until run() is called.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "dns/types.hpp"

namespace rpd::test {

class FakeResolver final : public dns::Resolver {
public:
    // A result with only a status (NXDOMAIN, SERVFAIL, ...; NoData for an empty answer).
    void set(std::string_view name, dns::RrType type, dns::DnsStatus status);
    void set(std::string_view name, dns::RrType type, dns::DnsResult result);
    // Answers: addresses as text ("192.0.2.1", "2001:db8::1"), names, MX records.
    void set_a(std::string_view name, const std::vector<std::string>& addresses, dns::RrType type = dns::RrType::A);
    void set_aaaa(std::string_view name, const std::vector<std::string>& addresses);
    void set_ptr(std::string_view name, const std::vector<std::string>& targets);
    void set_mx(std::string_view name, const std::vector<dns::MxRecord>& records);
    void set_default(dns::DnsStatus status) { default_ = status; }

    dns::Ticket lookup(std::string_view name, dns::RrType type, Callback callback) override;

    // Delivers the oldest waiting answer; false when none waits.
    bool deliver_one();
    // Delivers until nothing waits (answers queued meanwhile too); returns how many.
    std::size_t run_pending();

    std::size_t questions() const noexcept { return asked_.size(); }
    std::size_t questions(std::string_view name, dns::RrType type) const;
    const std::vector<std::pair<std::string, dns::RrType>>& asked() const noexcept { return asked_; }
    std::size_t waiting() const noexcept { return queue_.size(); }
    std::size_t cancelled() const noexcept { return cancelled_; }

protected:
    void cancel(std::uint64_t id) noexcept override;

private:
    struct Waiting {
        std::uint64_t id;
        dns::DnsResult result;
        Callback callback;
    };
    static std::string key(std::string_view name, dns::RrType type);

    std::map<std::string, dns::DnsResult> table_;
    dns::DnsStatus default_ = dns::DnsStatus::NxDomain;
    std::deque<Waiting> queue_;
    std::vector<std::pair<std::string, dns::RrType>> asked_;
    std::uint64_t next_id_ = 1;
    std::size_t cancelled_ = 0;
};

// Zero-delay closures for the engine, run when the test says so.
class FakeScheduler {
public:
    void post(std::function<void()> fn) { queue_.push_back(std::move(fn)); }
    // Runs every waiting closure, also those posted meanwhile; returns how many.
    std::size_t run();
    std::size_t waiting() const noexcept { return queue_.size(); }
    std::function<void(std::function<void()>)> poster() {
        return [this](std::function<void()> fn) { post(std::move(fn)); };
    }

private:
    std::deque<std::function<void()>> queue_;
};

}  // namespace rpd::test
