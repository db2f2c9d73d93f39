// lib/checks/engine.hpp -- the decision engine: Request -> checks -> rules -> Decision.
//
// Implements policy::Decider. Per request it evaluates the checks whose input exists at
// that protocol_state (client: any state; helo: once helo_name is sent; sender: MAIL,
// RCPT, DATA, END-OF-MESSAGE), then rules::decide(). `done` runs exactly once, never
// from inside decide(): the jobs whose checks are done are decided together on the next
// loop turn (one `post` per turn, the server's zero-delay event), also when every result
// was known at once. Job::expire()
// decides at once, counting unanswered questions as Timeout (-> tempfail, never a
// permanent outcome). Destroying a Job before its answer cancels it: `done` will not
// run, and a check that no other request waits for is cancelled (its tickets dropped)
// and forgotten.
//
// Transactions: results are kept per Postfix `instance` and reused by its later
// requests (one per RCPT, one per restriction list with smtpd_delay_reject=yes); a
// check still running is shared by concurrent requests of the same instance. A check
// is redone when its input changes (client_address, helo_name, sender) or the Config
// object does (SIGHUP). The table holds at most Options::max_transactions instances,
// least recently used dropped first, and forgets an instance Options::transaction_ttl
// after its last request (default 8192 and 10 minutes: Postfix's smtpd_timeout is 300s
// per command). A request without `instance` shares no transaction. The warning header
// is sent at most once per instance. A transaction is stored only when it holds something
// the shared results below may not (a check in flight, one that cannot be shared, the
// header sent): an instance whose checks all came from there finds them there again.
//
// Shared results: beyond its transaction, a check is shared by every request with the
// same input (the same client address; HELO name or sender with that address) and the
// same authenticated exemption, while every answer it used lives: until the earliest
// expiry of those answers by [dns] (max_ttl, negative_ttl; a TTL of 0 is not shared). A
// check that ended in tempfail, or with questions outstanding, is shared only within its
// transaction: the next transaction asks again (the resolver's tempfail_ttl still protects the servers). At most
// Options::max_shared_results checks per kind are kept, least recently used dropped
// first; a new Config object (SIGHUP) empties the table. A cached decision is thus a few
// hash lookups and rules::decide(), no resolver call. With keep_evidence off (the daemon),
// a finished check keeps its outcome, detail and names, not its DnsResults, and the
// shared results are kept packed (checks/packed_results.hpp), the max_decoded_results
// most recently used of each kind also decoded: a cached decision for a busy client costs
// no decoding, and 100,000 clients fit in a few tens of MiB.
//
// The request passed to decide()/explain() is referred to, not copied: it must stay
// valid until `done` has run or the Job is destroyed.
//
// Which questions are asked (only what some action, the header or the log needs;
// "matters" = an action other than DUNNO; `ask_everything` = all, for `check`):
// - client: the PTR and every forward lookup, always (the log line's client name and
//   [allowlist] client_names need the forward-confirmed name).
// - helo: A/AAAA/MX when headers.warning is on or not_found, forged or an explicit
//   tempfail matters; MX hosts' addresses for the forged comparison when headers.warning
//   is on or forged matters. Else only the syntax is judged and resolution is skip.
// - sender: MX/A/AAAA when headers.warning is on or not_found, null_mx, forged or an
//   explicit tempfail matters; MX hosts asked, in the client's family, only for the
//   forged comparison, when headers.warning is on or forged matters (whether they
//   resolve does not decide not_found, as in Postfix); an unfinished comparison is
//   tempfail only when forged matters.
// - helo and sender ask nothing (skip) when the request is authenticated (sasl_username,
//   MAIL state or later) and the check has exempt_authenticated: no action can follow.
// - `lookup = false` in a section: that check is skip, nothing asked.
// - a loopback client (127/8, ::1): every check is skip, nothing asked (always exempt).
// "auto" tempfail acts only when another outcome of the check matters, so it adds nothing.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "checks/outcome.hpp"
#include "config/config.hpp"
#include "dns/types.hpp"
#include "policy/decider.hpp"
#include "policy/request.hpp"

namespace rpd::checks {

// One decision, explained (for `check`, --json and the debug log).
struct CheckExplanation {
    CheckKind kind = CheckKind::Client;
    bool evaluated = false;    // false: no input at this protocol_state
    bool finished = true;      // false: decided at the deadline with questions outstanding
    std::string outcome = "-";
    std::string detail;
    std::string rule;          // the rule this outcome maps to ("client.no_ptr"); "" for none
    std::string action = "DUNNO";
    std::string exempt;        // why it counted as DUNNO; "" = it counted
    bool in_context = true;    // false: policy_context names other checks, so its action was not used
    std::vector<dns::DnsResult> lookups;
};

struct Explanation {
    std::array<CheckExplanation, check_count> checks;
    std::string rule = "-";    // the rule that fired: "client.no_ptr", "headers.warning", "-"
    bool header = false;
    bool expired = false;      // decided at the deadline with questions outstanding
    policy::Decision decision;
};

class Engine final : public policy::Decider {
public:
    using Post = std::function<void(std::function<void()>)>;
    using Clock = std::function<std::chrono::steady_clock::time_point()>;
    using Explained = std::function<void(Explanation)>;

    struct Options {
        std::size_t max_transactions = 8192;
        std::chrono::seconds transaction_ttl{600};
        std::size_t max_shared_results = 100'000;   // per check kind; 0: share only within a transaction
        std::size_t max_decoded_results = 4096;     // per kind, without keep_evidence: the rest packed
        bool ask_everything = false;                // every question, whatever the actions
        bool keep_evidence = true;                  // false: a finished check keeps no DnsResults
                                                    // (the daemon: only explain() shows them)
    };

    // `resolver` must outlive the engine and every Job. `clock` defaults to steady_clock.
    Engine(dns::Resolver& resolver, Post post, Options options, Clock clock = {});
    Engine(dns::Resolver& resolver, Post post) : Engine(resolver, std::move(post), Options{}) {}
    ~Engine() override;
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    std::unique_ptr<Job> decide(std::shared_ptr<const config::Config> config, const policy::Request& request,
                                Done done) override;
    // The same decision, with everything that led to it.
    std::unique_ptr<Job> explain(std::shared_ptr<const config::Config> config, const policy::Request& request,
                                 Explained done);

    std::size_t transactions() const noexcept;
    std::size_t shared_results() const noexcept;   // all kinds

    struct State;   // shared with the jobs; defined in engine.cpp

private:
    std::unique_ptr<Job> start(std::shared_ptr<const config::Config> config, const policy::Request& request,
                               Done done, Explained explained);

    std::shared_ptr<State> state_;
};

}  // namespace rpd::checks
