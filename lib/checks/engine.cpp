#include "checks/engine.hpp"

#include <algorithm>
#include <list>
#include <optional>
#include <unordered_map>
#include <utility>

#include "checks/client.hpp"
#include "checks/helo.hpp"
#include "checks/sender.hpp"
#include "rules/decision.hpp"

namespace rpd::checks {

namespace {

using TimePoint = std::chrono::steady_clock::time_point;

class JobCore;

// One check, shared by the requests of one instance that need it.
struct Run {
    CheckKind kind = CheckKind::Client;
    std::string key;                          // its input; a different input is a new Run
    std::unique_ptr<Check> check;
    std::vector<std::weak_ptr<JobCore>> waiters;
};

struct Transaction {
    std::shared_ptr<const config::Config> config;   // the config its runs were started with
    std::array<std::shared_ptr<Run>, check_count> runs;
    bool header_sent = false;
    TimePoint last_used{};
    std::list<std::string>::iterator lru;            // valid while stored
};

constexpr std::size_t index(CheckKind k) noexcept { return static_cast<std::size_t>(k); }

bool matters(const rules::Action& a) noexcept { return a.kind != rules::ActionKind::Dunno; }
bool tempfail_matters(const config::CheckCommon& s) noexcept { return s.tempfail && matters(*s.tempfail); }

class JobCore : public std::enable_shared_from_this<JobCore> {
public:
    JobCore(Engine::Post post, std::shared_ptr<Transaction> txn, std::shared_ptr<const config::Config> config,
            policy::Request request, Engine::Explained done)
        : post_(std::move(post)), txn_(std::move(txn)), config_(std::move(config)), request_(std::move(request)),
          done_(std::move(done)) {}

    std::array<std::shared_ptr<Run>, check_count> runs;
    // A check decided without a Run (loopback, lookup = false): skip with this detail.
    std::array<std::string, check_count> fixed_skip;
    std::array<bool, check_count> evaluated{};

    // A run finished, or the job was just set up: when nothing is outstanding, decide
    // on the next loop turn (never from inside decide() or a resolver callback).
    void schedule() {
        if (finished_ || posted_) return;
        for (const auto& run : runs) {
            if (run && !run->check->finished()) return;
        }
        posted_ = true;
        post_([weak = weak_from_this()] {
            if (const auto self = weak.lock()) self->finalize(false);
        });
    }

    void finalize(bool expired) {
        if (finished_) return;
        finished_ = true;
        const auto self = shared_from_this();   // `done` may destroy the Job that holds us
        rules::CheckResults results;
        Explanation explanation;
        for (std::size_t k = 0; k < check_count; ++k) {
            auto& ce = explanation.checks[k];
            ce.kind = static_cast<CheckKind>(k);
            if (!evaluated[k]) continue;
            ce.finished = !runs[k] || runs[k]->check->finished();
            // Expired only when the deadline cut something short.
            explanation.expired = explanation.expired || (expired && !ce.finished);
            switch (ce.kind) {
            case CheckKind::Client: results.client = client_result(); break;
            case CheckKind::Helo: results.helo = helo_result(); break;
            case CheckKind::Sender: results.sender = sender_result(); break;
            }
        }
        if (results.client) explanation.checks[index(CheckKind::Client)].lookups = results.client->lookups;
        if (results.helo) explanation.checks[index(CheckKind::Helo)].lookups = results.helo->lookups;
        if (results.sender) explanation.checks[index(CheckKind::Sender)].lookups = results.sender->lookups;

        const auto verdict = rules::decide(*config_, request_, results, txn_->header_sent);
        if (verdict.header) txn_->header_sent = true;
        for (std::size_t k = 0; k < check_count; ++k) {
            const auto& v = verdict.checks[k];
            auto& ce = explanation.checks[k];
            ce.evaluated = v.evaluated;
            ce.outcome = v.outcome;
            ce.detail = v.detail;
            ce.rule = v.rule;
            ce.action = v.action;
            ce.exempt = v.exempt;
            ce.in_context = v.in_context;
        }
        explanation.rule = verdict.rule;
        explanation.header = verdict.header;
        explanation.decision = policy::Decision{verdict.action, verdict.log_line};
        unsubscribe(false);
        auto done = std::move(done_);
        done(std::move(explanation));
    }

    // The Job went away before its answer: no `done`; a check nobody else waits for is
    // cancelled and forgotten, so a later request starts it afresh.
    void cancel() noexcept {
        if (finished_) return;
        finished_ = true;
        unsubscribe(true);
    }

private:
    void unsubscribe(bool cancel_orphans) noexcept {
        for (std::size_t k = 0; k < check_count; ++k) {
            auto& run = runs[k];
            if (!run) continue;
            std::erase_if(run->waiters, [this](const std::weak_ptr<JobCore>& w) {
                const auto p = w.lock();
                return !p || p.get() == this;
            });
            if (cancel_orphans && run->waiters.empty() && !run->check->finished()) {
                run->check->cancel();
                if (txn_->runs[k] == run) txn_->runs[k].reset();
            }
        }
    }

    ClientResult client_result() const {
        const auto k = index(CheckKind::Client);
        if (!runs[k]) return ClientResult{ClientOutcome::Skip, fixed_skip[k], {}, {}, {}, false};
        return static_cast<const ClientCheck&>(*runs[k]->check).result();
    }
    HeloResult helo_result() const {
        const auto k = index(CheckKind::Helo);
        if (!runs[k]) return HeloResult{HeloOutcome::Skip, fixed_skip[k], {}, false};
        return static_cast<const HeloCheck&>(*runs[k]->check).result();
    }
    SenderResult sender_result() const {
        const auto k = index(CheckKind::Sender);
        if (!runs[k]) return SenderResult{SenderOutcome::Skip, fixed_skip[k], {}};
        return static_cast<const SenderCheck&>(*runs[k]->check).result();
    }

    Engine::Post post_;
    std::shared_ptr<Transaction> txn_;
    std::shared_ptr<const config::Config> config_;
    policy::Request request_;
    Engine::Explained done_;
    bool finished_ = false;
    bool posted_ = false;
};

class JobHandle final : public policy::Decider::Job {
public:
    explicit JobHandle(std::shared_ptr<JobCore> core) : core_(std::move(core)) {}
    ~JobHandle() override { core_->cancel(); }
    void expire() override { core_->finalize(true); }

private:
    std::shared_ptr<JobCore> core_;
};

std::string key_of(CheckKind kind, const policy::Request& r) {
    switch (kind) {
    case CheckKind::Client: return r.client_address;
    case CheckKind::Helo: return r.helo_name + '\n' + r.client_address;
    case CheckKind::Sender: return r.sender + '\n' + r.client_address;
    }
    return {};
}

}  // namespace

struct Engine::State {
    dns::Resolver& resolver;
    Post post;
    Options options;
    Clock clock;
    std::unordered_map<std::string, std::shared_ptr<Transaction>> transactions;
    std::list<std::string> lru;   // most recently used first

    State(dns::Resolver& r, Post p, Options o, Clock c)
        : resolver(r), post(std::move(p)), options(o), clock(std::move(c)) {}

    void purge(TimePoint now) {
        while (!lru.empty()) {
            const auto& oldest = transactions.at(lru.back());
            if (transactions.size() <= options.max_transactions && now - oldest->last_used < options.transaction_ttl) {
                break;
            }
            transactions.erase(lru.back());
            lru.pop_back();
        }
    }

    std::shared_ptr<Transaction> transaction(const std::string& instance, TimePoint now) {
        if (instance.empty()) return std::make_shared<Transaction>();
        if (const auto it = transactions.find(instance); it != transactions.end()) {
            auto& txn = it->second;
            lru.splice(lru.begin(), lru, txn->lru);
            txn->last_used = now;
            return txn;
        }
        auto txn = std::make_shared<Transaction>();
        txn->last_used = now;
        lru.push_front(instance);
        txn->lru = lru.begin();
        transactions.emplace(instance, txn);
        purge(now);   // enforce the size bound with the new entry counted
        return txn;
    }

    std::shared_ptr<Run> start_run(CheckKind kind, const config::Config& c, const policy::Request& r,
                                   std::string key) {
        auto run = std::make_shared<Run>();
        run->kind = kind;
        run->key = std::move(key);
        const bool all = options.ask_everything;
        const bool header = c.headers.warning;
        switch (kind) {
        case CheckKind::Client:
            run->check = std::make_unique<ClientCheck>(resolver, r.client_address,
                                                       ClientCheckOptions{c.dns.max_ptr_names});
            break;
        case CheckKind::Helo: {
            const auto& s = c.helo;
            HeloCheckOptions o;
            o.max_mx_hosts = c.dns.max_mx_hosts;
            o.resolve = all || header || matters(s.not_found) || matters(s.forged) || tempfail_matters(s);
            o.forged = all || header || matters(s.forged);
            if (!all && authenticated_exempt(s, r)) o.resolve = o.forged = false;
            run->check = std::make_unique<HeloCheck>(resolver, r.helo_name, r.client_address, o);
            break;
        }
        case CheckKind::Sender: {
            const auto& s = c.sender;
            SenderCheckOptions o;
            o.max_mx_hosts = c.dns.max_mx_hosts;
            o.lookup = all || header || matters(s.not_found) || matters(s.null_mx) || matters(s.forged) ||
                       tempfail_matters(s);
            o.forged = all || header || matters(s.forged);
            o.forged_matters = matters(s.forged);
            if (!all && authenticated_exempt(s, r)) o.lookup = o.forged = false;
            run->check = std::make_unique<SenderCheck>(resolver, r.sender, r.client_address, o);
            break;
        }
        }
        Run* raw = run.get();   // the Run owns the check, so it outlives the callback
        run->check->set_on_finish([raw] {
            const auto waiters = raw->waiters;
            for (const auto& w : waiters) {
                if (const auto job = w.lock()) job->schedule();
            }
        });
        run->check->start();
        return run;
    }

    static bool authenticated_exempt(const config::CheckCommon& s, const policy::Request& r) {
        return s.exempt_authenticated && !r.sasl_username.empty() && rules::at_or_after_mail(r.state());
    }
};

Engine::Engine(dns::Resolver& resolver, Post post, Options options, Clock clock)
    : state_(std::make_shared<State>(resolver, std::move(post), options,
                                     clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); }))) {}

Engine::~Engine() = default;

std::size_t Engine::transactions() const noexcept { return state_->transactions.size(); }

std::unique_ptr<policy::Decider::Job> Engine::decide(std::shared_ptr<const config::Config> config,
                                                     const policy::Request& request, Done done) {
    return explain(std::move(config), request,
                   [done = std::move(done)](Explanation e) { done(std::move(e.decision)); });
}

std::unique_ptr<policy::Decider::Job> Engine::explain(std::shared_ptr<const config::Config> config,
                                                      const policy::Request& request, Explained done) {
    auto& s = *state_;
    const auto now = s.clock();
    s.purge(now);
    auto txn = s.transaction(request.instance, now);
    if (txn->config != config) {
        txn->runs = {};   // started under another config: its questions may not fit this one
        txn->config = config;
    }
    const auto& c = *config;
    auto core = std::make_shared<JobCore>(s.post, txn, config, request, std::move(done));

    const auto state = request.state();
    core->evaluated[index(CheckKind::Client)] = true;
    core->evaluated[index(CheckKind::Helo)] = !request.helo_name.empty();
    core->evaluated[index(CheckKind::Sender)] = rules::at_or_after_mail(state);

    const auto ip = request.client_ip();
    const bool loopback = ip && ip->is_loopback();
    const config::CheckCommon* sections[] = {&c.client, &c.helo, &c.sender};
    for (std::size_t k = 0; k < check_count; ++k) {
        if (!core->evaluated[k]) continue;
        const auto kind = static_cast<CheckKind>(k);
        if (loopback) {
            core->fixed_skip[k] = "loopback client: always exempt, not looked up";
            continue;
        }
        if (!sections[k]->lookup) {
            core->fixed_skip[k] = "not looked up: lookup = false";
            continue;
        }
        auto key = key_of(kind, request);
        auto& run = txn->runs[k];
        if (!run || run->key != key) run = s.start_run(kind, c, request, std::move(key));
        core->runs[k] = run;
        if (!run->check->finished()) run->waiters.push_back(core);
    }
    core->schedule();
    return std::make_unique<JobHandle>(std::move(core));
}

}  // namespace rpd::checks
