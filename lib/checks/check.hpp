// lib/checks/check.hpp -- what the three checks share: their DNS questions and their life cycle.
//
// A Check asks its questions through dns::Resolver, all of one step at once (they run
// concurrently), and may ask more when an answer names more hosts (PTR names, MX hosts).
// It is finished when no question is outstanding; then it calls on_finish once, as the
// last thing it does, from the resolver's callback (so from the event loop). start()
// never calls on_finish: a check that needs no question (skip, a syntax outcome) is
// finished() right after start(), and the caller looks.
//
// Before it is finished a check can still say what it knows: result() counts every
// question not answered yet as a Timeout (SPEC: "unfinished lookups count as tempfail")
// without changing the check, which goes on. cancel() drops its tickets; the questions
// go on in the resolver and still fill its cache.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dns/types.hpp"

namespace rpd::checks {

// "PTR 9.113.0.203.in-addr.arpa: NXDOMAIN", sanitised.
std::string describe_status(const dns::DnsResult& r);
// True when `r` is an Answer whose addresses contain `address` (IPv4-mapped compare equal).
bool has_address(const dns::DnsResult& r, const util::IpAddress& address) noexcept;
// The MX hosts of an MX answer worth asking: valid host names (lower-case, duplicates
// once, "" of a null MX and malformed names left out), lowest preference first, at most
// `max_hosts`.
std::vector<std::string> mx_hosts(const dns::DnsResult& mx, unsigned max_hosts);
std::string join(const std::vector<std::string>& parts, std::string_view separator);

// The questions of one check, in the order asked.
class LookupSet {
public:
    using OnResult = std::function<void(std::size_t index)>;

    explicit LookupSet(dns::Resolver& resolver) : resolver_(resolver) {}
    LookupSet(const LookupSet&) = delete;
    LookupSet& operator=(const LookupSet&) = delete;

    // Asks `name` for `type`; `on_result(index)` runs when the answer has been stored.
    std::size_t ask(std::string_view name, dns::RrType type, OnResult on_result);

    std::size_t size() const noexcept { return entries_.size(); }
    std::size_t pending() const noexcept { return pending_; }
    bool answered(std::size_t i) const noexcept { return entries_[i].answered; }
    // The stored result, or a Timeout for the same question when none came yet. Valid
    // until the set is destroyed.
    const dns::DnsResult& get(std::size_t i) const noexcept { return *entries_[i].result; }
    dns::DnsStatus status(std::size_t i) const noexcept;
    // Every question with what it ended as (unanswered ones as Timeout), in order.
    std::vector<dns::DnsResult> evidence() const;
    void cancel() noexcept;

private:
    struct Entry {
        // The question, a Timeout until its answer is stored. Behind a pointer: an
        // inline DnsResult made every entry ~290 bytes, and growing the vector past three
        // of them a malloc of more than 1 KiB, which took glibc through
        // malloc_consolidate on every HELO check (2026-11-23 profile).
        std::unique_ptr<dns::DnsResult> result;
        bool answered = false;
        dns::Ticket ticket;
    };
    dns::Resolver& resolver_;
    std::vector<Entry> entries_;
    std::size_t pending_ = 0;
};

class Check {
public:
    explicit Check(dns::Resolver& resolver) : lookups_(resolver) {}
    virtual ~Check() = default;
    Check(const Check&) = delete;
    Check& operator=(const Check&) = delete;

    virtual void start() = 0;
    bool finished() const noexcept { return finished_; }
    void set_on_finish(std::function<void()> on_finish) { on_finish_ = std::move(on_finish); }
    // Drops the outstanding tickets: no callback after this. finished() stays as it was.
    void cancel() noexcept { lookups_.cancel(); }
    std::size_t questions() const noexcept { return lookups_.size(); }
    const LookupSet& lookups() const noexcept { return lookups_; }
    // Whether result() copies every question and answer into its lookups (on by
    // default; the daemon, which never shows them, turns it off).
    void keep_evidence(bool keep) noexcept { keep_evidence_ = keep; }

protected:
    // Asks a question; its answer calls advance(), then finish_if_done().
    std::size_t ask(std::string_view name, dns::RrType type);
    // Marks the check finished when nothing is outstanding and tells the owner. The
    // owner may destroy the check from on_finish: nothing runs after it.
    void finish_if_done();
    // Called after each answer: ask follow-up questions if any.
    virtual void advance() {}

    LookupSet lookups_;
    bool finished_ = false;
    bool keep_evidence_ = true;

private:
    std::function<void()> on_finish_;
};

}  // namespace rpd::checks
