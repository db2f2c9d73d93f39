#include "checks/engine.hpp"

#include <algorithm>
#include <list>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>

#include "checks/client.hpp"
#include "checks/helo.hpp"
#include "checks/packed_results.hpp"
#include "checks/sender.hpp"
#include "dns/cache.hpp"
#include "rules/decision.hpp"

namespace rpd::checks {

namespace {

using TimePoint = std::chrono::steady_clock::time_point;

class JobCore;

// One check for one input, shared by the requests that need it: those of a transaction,
// and those of any transaction while it sits in the shared table (engine.hpp).
struct Run {
    CheckKind kind = CheckKind::Client;
    std::string key;                 // kind's input and exemption: another key is another Run
    std::unique_ptr<Check> check;    // while it runs; dropped after unless evidence is kept
    std::variant<std::monostate, ClientResult, HeloResult, SenderResult> result;   // once finished
    bool finished = false;
    bool cancelled = false;          // nobody waited any more: tickets dropped, it never finishes
    bool shared = false;             // in State::shared
    TimePoint expires{};             // a finished shared run serves until then
    std::list<Run*>::iterator lru;   // valid while shared
    std::vector<std::weak_ptr<JobCore>> waiters;
};

struct Transaction {
    std::shared_ptr<const config::Config> config;   // the config its runs were started with
    std::array<std::shared_ptr<Run>, check_count> runs;
    bool header_sent = false;
    TimePoint last_used{};
    const std::string* instance = nullptr;           // the table's key, while stored
    std::list<Transaction*>::iterator lru;           // valid while stored
};

constexpr std::size_t index(CheckKind k) noexcept { return static_cast<std::size_t>(k); }

bool matters(const rules::Action& a) noexcept { return a.kind != rules::ActionKind::Dunno; }
bool tempfail_matters(const config::CheckCommon& s) noexcept { return s.tempfail && matters(*s.tempfail); }

bool authenticated_exempt(const config::CheckCommon& s, const policy::Request& r) {
    return s.exempt_authenticated && !r.sasl_username.empty() && rules::at_or_after_mail(r.state());
}

// Whether a HELO or sender check compares the client address with the addresses of
// the name (forged): when an action or the header depends on it, or `check` asks for
// everything; never for an exempt request, which asks nothing.
bool forged_compared(CheckKind kind, const config::Config& c, bool exempt, bool all) noexcept {
    if (all) return true;
    if (exempt) return false;
    const auto& forged = kind == CheckKind::Helo ? c.helo.forged : c.sender.forged;
    return c.headers.warning || matters(forged);
}

// The run's input: what a reused result must have been computed from. HELO and sender
// results depend on whether the request is exempt as authenticated (then nothing is
// asked), and on the client address when forged is compared or the input holds an
// address literal ("[192.0.2.1]" is always compared with it). Otherwise they do not,
// and every client with that HELO name or sender shares one result.
void key_of(std::string& key, CheckKind kind, const policy::Request& r, bool exempt, bool forged) {
    key.clear();
    switch (kind) {
    case CheckKind::Client: key += r.client_address; return;
    case CheckKind::Helo: key += r.helo_name; break;
    case CheckKind::Sender: key += r.sender; break;
    }
    key += exempt ? "\n1\n" : "\n0\n";
    if (forged || key.find('[') != std::string::npos) key += r.client_address;
}

// Calls f with the run's result, if it has one (not for std::monostate).
template <class RunType, class F>
void with_result(RunType& run, F&& f) {
    std::visit(
        [&](auto& r) {
            if constexpr (!std::is_same_v<std::decay_t<decltype(r)>, std::monostate>) f(r);
        },
        run.result);
}

// How long a just finished check may serve other transactions: as long as every answer
// it used is cached by [dns]. Nothing when it could not find something out.
std::optional<std::chrono::seconds> shareable_for(const Run& run, const dns::CachePolicy& policy) {
    bool tempfail = false;
    with_result(run, [&](const auto& r) { tempfail = r.outcome == decltype(r.outcome)::TempFail; });
    if (tempfail || !run.check) return std::nullopt;
    auto life = policy.max_ttl;
    const auto& lookups = run.check->lookups();
    for (std::size_t i = 0; i < lookups.size(); ++i) {
        const auto& lookup = lookups.get(i);
        if (dns::is_unknown(lookup.status)) return std::nullopt;
        life = std::min(life, policy.lifetime(lookup));
    }
    if (life <= std::chrono::seconds::zero()) return std::nullopt;
    return life;
}

void drop_evidence(Run& run) {
    // swap, not `= {}`: that picks operator=(initializer_list), which keeps the capacity
    with_result(run, [](auto& r) { std::vector<dns::DnsResult>().swap(r.lookups); });
}

template <class Result>
Result skip_result(std::string_view detail) {
    Result r;
    r.outcome = decltype(r.outcome)::Skip;
    r.detail = std::string(detail);
    return r;
}

}  // namespace

struct Engine::State {
    dns::Resolver& resolver;
    Post post;
    Options options;
    Clock clock;
    std::unordered_map<std::string, std::shared_ptr<Transaction>> transactions;
    std::list<Transaction*> lru;   // most recently used first
    std::uint64_t transactions_added = 0;   // a job without one looks again only if this moved

    // Jobs whose checks are all done, decided together on the next loop turn: one post
    // per turn, not one per request.
    std::vector<std::weak_ptr<JobCore>> ready;
    std::vector<std::weak_ptr<JobCore>> deciding;
    bool drain_posted = false;

    // Finished (or running) checks shared across transactions, per kind; the key views
    // point into each Run's own key.
    std::array<std::unordered_map<std::string_view, std::shared_ptr<Run>>, check_count> shared;
    std::array<std::list<Run*>, check_count> shared_lru;   // most recently used first
    std::array<std::unique_ptr<PackedResults>, check_count> packed;   // when evidence is not kept
    std::shared_ptr<const config::Config> shared_config;   // the table's runs were started with it
    dns::CachePolicy policy;
    std::string scratch_key;

    State(dns::Resolver& r, Post p, Options o, Clock c)
        : resolver(r), post(std::move(p)), options(o), clock(std::move(c)) {
        if (packing()) {
            for (auto& store : packed) store = std::make_unique<PackedResults>(options.max_shared_results);
        }
    }

    bool packing() const noexcept { return !options.keep_evidence && options.max_shared_results > 0; }
    std::size_t hot_limit() const noexcept {
        return packing() ? std::min(options.max_shared_results, options.max_decoded_results) : options.max_shared_results;
    }

    void purge(TimePoint now) {
        while (!lru.empty()) {
            const auto* oldest = lru.back();
            if (transactions.size() <= options.max_transactions && now - oldest->last_used < options.transaction_ttl) {
                break;
            }
            lru.pop_back();
            transactions.erase(transactions.find(*oldest->instance));   // by iterator: the key lives in the node
        }
    }

    // The stored transaction of `instance`, marked recently used; null when none is stored.
    std::shared_ptr<Transaction> find_transaction(const std::string& instance, TimePoint now) {
        if (instance.empty()) return nullptr;
        const auto it = transactions.find(instance);
        if (it == transactions.end()) return nullptr;
        auto& txn = it->second;
        lru.splice(lru.begin(), lru, txn->lru);
        txn->last_used = now;
        return txn;
    }

    // Stores a transaction for `instance` (not empty, not stored yet).
    std::shared_ptr<Transaction> add_transaction(const std::string& instance, TimePoint now,
                                                 const std::shared_ptr<const config::Config>& config) {
        ++transactions_added;
        auto txn = std::make_shared<Transaction>();
        txn->config = config;
        txn->last_used = now;
        const auto stored = transactions.emplace(instance, txn).first;
        txn->instance = &stored->first;
        lru.push_front(txn.get());
        txn->lru = lru.begin();
        purge(now);   // enforce the size bound with the new entry counted
        return txn;
    }

    // A new Config object: results started under the old one may not fit it.
    void use_config(const std::shared_ptr<const config::Config>& config) {
        if (config == shared_config) return;
        for (std::size_t k = 0; k < check_count; ++k) {
            for (auto* run : shared_lru[k]) run->shared = false;
            shared[k].clear();
            shared_lru[k].clear();
            if (packed[k]) packed[k]->clear();
        }
        shared_config = config;
        policy = dns::CachePolicy::from(config->dns);
    }

    void unshare(Run& run) noexcept {
        if (!run.shared) return;
        const auto k = index(run.kind);
        run.shared = false;
        shared_lru[k].erase(run.lru);
        shared[k].erase(run.key);   // may free the run: nothing touches it after this
    }

    void share(const std::shared_ptr<Run>& run) {
        if (options.max_shared_results == 0) return;
        const auto k = index(run->kind);
        shared_lru[k].push_front(run.get());
        run->lru = shared_lru[k].begin();
        run->shared = true;
        shared[k].emplace(run->key, run);
        while (shared[k].size() > std::max<std::size_t>(hot_limit(), 1)) unshare(*shared_lru[k].back());
    }

    // The run for this input: the shared one if it is still good, else a new one.
    // `exempt` and `forged` are part of `key` (key_of).
    std::shared_ptr<Run> find_or_start(CheckKind kind, const config::Config& c, const policy::Request& r,
                                       std::string_view key, bool exempt, bool forged, TimePoint now) {
        const auto k = index(kind);
        if (const auto it = shared[k].find(key); it != shared[k].end()) {
            auto run = it->second;
            if (!run->cancelled && (!run->finished || now < run->expires)) {
                shared_lru[k].splice(shared_lru[k].begin(), shared_lru[k], run->lru);
                return run;
            }
            unshare(*run);
        }
        if (packed[k]) {
            if (const auto found = packed[k]->find(key, now)) {
                if (auto run = unpacked(kind, key, *found)) {
                    share(run);
                    return run;
                }
            }
        }
        auto run = std::make_shared<Run>();
        run->kind = kind;
        run->key = std::string(key);
        make_check(*run, c, r, exempt, forged);
        share(run);
        run->check->start();
        // A check that needs no question is finished right after start() (check.hpp).
        if (run->check->finished()) finish(*run);
        return run;
    }

    void make_check(Run& run, const config::Config& c, const policy::Request& r, bool exempt, bool forged) {
        const bool all = options.ask_everything;
        const bool header = c.headers.warning;
        switch (run.kind) {
        case CheckKind::Client:
            run.check = std::make_unique<ClientCheck>(resolver, r.client_address,
                                                      ClientCheckOptions{c.dns.max_ptr_names});
            break;
        case CheckKind::Helo: {
            const auto& s = c.helo;
            HeloCheckOptions o;
            o.max_mx_hosts = c.dns.max_mx_hosts;
            o.resolve = all || header || matters(s.not_found) || matters(s.forged) || tempfail_matters(s);
            o.forged = forged;
            o.forged_matters = matters(s.forged);
            if (!all && exempt) o.resolve = false;
            run.check = std::make_unique<HeloCheck>(resolver, r.helo_name, r.client_address, o);
            break;
        }
        case CheckKind::Sender: {
            const auto& s = c.sender;
            SenderCheckOptions o;
            o.max_mx_hosts = c.dns.max_mx_hosts;
            o.lookup = all || header || matters(s.not_found) || matters(s.null_mx) || matters(s.forged) ||
                       tempfail_matters(s);
            o.forged = forged;
            o.forged_matters = matters(s.forged);
            if (!all && exempt) o.lookup = false;
            run.check = std::make_unique<SenderCheck>(resolver, r.sender, r.client_address, o);
            break;
        }
        }
        run.check->keep_evidence(options.keep_evidence);
        Run* raw = &run;   // the Run owns the check, so it outlives the callback
        run.check->set_on_finish([this, raw] { finish(*raw); });
    }

    // The check has no question left: keep its result, decide whether others may use
    // it, and wake the requests waiting for it (they decide on the next loop turn).
    void finish(Run& run) {
        if (run.finished) return;
        run.finished = true;
        switch (run.kind) {
        case CheckKind::Client: run.result = static_cast<const ClientCheck&>(*run.check).result(); break;
        case CheckKind::Helo: run.result = static_cast<const HeloCheck&>(*run.check).result(); break;
        case CheckKind::Sender: run.result = static_cast<const SenderCheck&>(*run.check).result(); break;
        }
        const auto waiters = std::move(run.waiters);
        run.waiters.clear();
        bool keep = false;
        if (run.shared) {
            if (const auto life = shareable_for(run, policy)) {
                run.expires = clock() + *life;
                keep = true;
            }
        }
        if (!options.keep_evidence) drop_evidence(run);
        if (keep && packed[index(run.kind)]) {
            with_result(run, [&](const auto& r) {
                // A pass's detail serves only explanations, which keep evidence and so
                // never pack: leave it out.
                const bool passed = r.outcome == decltype(r.outcome)::Pass;
                packed[index(run.kind)]->insert(run.key, pack(r, !passed), run.expires);
            });
        }
        // The check itself goes when someone next looks at the run, outside its callback.
        if (run.shared && !keep) unshare(run);   // may free the run: nothing touches it after this
        for (const auto& w : waiters) {
            if (const auto job = w.lock()) schedule(*job);
        }
    }

    // A finished run from its packed result (nothing if the bytes do not decode).
    static std::shared_ptr<Run> unpacked(CheckKind kind, std::string_view key, const PackedResults::Found& found) {
        auto run = std::make_shared<Run>();
        run->kind = kind;
        run->key = std::string(key);
        run->finished = true;
        run->expires = found.expires;
        switch (kind) {
        case CheckKind::Client:
            if (auto r = unpack_client(found.packed)) run->result = std::move(*r);
            break;
        case CheckKind::Helo:
            if (auto r = unpack_helo(found.packed)) run->result = std::move(*r);
            break;
        case CheckKind::Sender:
            if (auto r = unpack_sender(found.packed)) run->result = std::move(*r);
            break;
        }
        if (std::holds_alternative<std::monostate>(run->result)) return nullptr;
        return run;
    }

    static void schedule(JobCore& job);
    void make_ready(const std::shared_ptr<JobCore>& job);
    void drain_ready();
};

namespace {

class JobCore : public std::enable_shared_from_this<JobCore> {
public:
    JobCore(std::shared_ptr<Engine::State> state, std::shared_ptr<Transaction> txn,
            std::shared_ptr<const config::Config> config, const policy::Request& request, Engine::Done done,
            Engine::Explained explained)
        : state_(std::move(state)), txn_(std::move(txn)), config_(std::move(config)), request_(request),
          done_(std::move(done)), explained_(std::move(explained)) {}

    std::array<std::shared_ptr<Run>, check_count> runs;
    // A check decided without a Run (loopback, lookup = false): skip with this detail.
    std::array<std::string_view, check_count> fixed_skip;
    std::array<bool, check_count> evaluated{};

    // A run finished, or the job was just set up: when nothing is outstanding, decide
    // on the next loop turn (never from inside decide() or a resolver callback).
    void schedule() {
        if (finished_ || posted_) return;
        for (const auto& run : runs) {
            if (run && !run->finished) return;
        }
        posted_ = true;
        state_->make_ready(shared_from_this());
    }

    void finalize(bool expired) {
        if (finished_) return;
        finished_ = true;
        const auto self = shared_from_this();   // `done` may destroy the Job that holds us
        std::optional<ClientResult> client_now;
        std::optional<HeloResult> helo_now;
        std::optional<SenderResult> sender_now;
        rules::CheckResultRefs results;
        results.details = static_cast<bool>(explained_);
        if (evaluated[index(CheckKind::Client)]) results.client = current<ClientResult, ClientCheck>(CheckKind::Client, client_now);
        if (evaluated[index(CheckKind::Helo)]) results.helo = current<HeloResult, HeloCheck>(CheckKind::Helo, helo_now);
        if (evaluated[index(CheckKind::Sender)]) results.sender = current<SenderResult, SenderCheck>(CheckKind::Sender, sender_now);

        // A request that took every check finished from the shared table stored no
        // transaction; another request of its instance may have meanwhile.
        if (!txn_ && state_->transactions_added != added_at_start_) {
            txn_ = state_->find_transaction(request_.instance, state_->clock());
        }
        auto verdict = rules::decide(*config_, request_, results, txn_ && txn_->header_sent);
        if (verdict.header) {
            if (!txn_ && !request_.instance.empty()) {
                txn_ = state_->add_transaction(request_.instance, state_->clock(), config_);
                txn_->runs = runs;
            }
            if (txn_) txn_->header_sent = true;
        }
        unsubscribe(false);
        for (auto& run : runs) {
            if (run && run->finished && !state_->options.keep_evidence) run->check.reset();
        }
        if (!explained_) {
            auto done = std::move(done_);
            done(policy::Decision{std::move(verdict.action), std::move(verdict.log_line)});
            return;
        }
        Explanation explanation;
        for (std::size_t k = 0; k < check_count; ++k) {
            auto& ce = explanation.checks[k];
            ce.kind = static_cast<CheckKind>(k);
            if (!evaluated[k]) continue;
            ce.finished = !runs[k] || runs[k]->finished;
            // Expired only when the deadline cut something short.
            explanation.expired = explanation.expired || (expired && !ce.finished);
        }
        if (results.client) explanation.checks[index(CheckKind::Client)].lookups = results.client->lookups;
        if (results.helo) explanation.checks[index(CheckKind::Helo)].lookups = results.helo->lookups;
        if (results.sender) explanation.checks[index(CheckKind::Sender)].lookups = results.sender->lookups;
        for (std::size_t k = 0; k < check_count; ++k) {
            auto& v = verdict.checks[k];
            auto& ce = explanation.checks[k];
            ce.evaluated = v.evaluated;
            ce.outcome = std::move(v.outcome);
            ce.detail = std::move(v.detail);
            ce.rule = std::move(v.rule);
            ce.action = std::move(v.action);
            ce.exempt = std::move(v.exempt);
            ce.in_context = v.in_context;
        }
        explanation.rule = std::move(verdict.rule);
        explanation.header = verdict.header;
        explanation.decision = policy::Decision{std::move(verdict.action), std::move(verdict.log_line)};
        auto explained = std::move(explained_);
        explained(std::move(explanation));
    }

    const std::shared_ptr<Engine::State>& state() const noexcept { return state_; }
    void set_transaction(std::shared_ptr<Transaction> txn) { txn_ = std::move(txn); }
    void set_added_at_start(std::uint64_t n) noexcept { added_at_start_ = n; }

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
            // Our own reference keeps the run alive while unshare() drops the table's.
            const auto& run = runs[k];
            if (!run) continue;
            std::erase_if(run->waiters, [this](const std::weak_ptr<JobCore>& w) {
                const auto p = w.lock();
                return !p || p.get() == this;
            });
            if (cancel_orphans && run->waiters.empty() && !run->finished) {
                run->check->cancel();
                run->cancelled = true;
                state_->unshare(*run);
                if (txn_ && txn_->runs[k] == run) txn_->runs[k].reset();
            }
        }
    }

    // The check's result: a finished run's own, else what it knows now (unanswered
    // questions count as Timeout), else skip.
    template <class Result, class CheckType>
    const Result* current(CheckKind kind, std::optional<Result>& scratch) const {
        const auto& run = runs[index(kind)];
        if (!run) {
            scratch = skip_result<Result>(fixed_skip[index(kind)]);
            return &*scratch;
        }
        if (run->finished) return &std::get<Result>(run->result);
        scratch = static_cast<const CheckType&>(*run->check).result();
        return &*scratch;
    }

    std::shared_ptr<Engine::State> state_;
    std::shared_ptr<Transaction> txn_;
    std::shared_ptr<const config::Config> config_;
    const policy::Request& request_;
    Engine::Done done_;
    Engine::Explained explained_;
    std::uint64_t added_at_start_ = 0;   // State::transactions_added when the job started
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

}  // namespace

void Engine::State::schedule(JobCore& job) { job.schedule(); }

void Engine::State::make_ready(const std::shared_ptr<JobCore>& job) {
    ready.push_back(job);
    if (drain_posted) return;
    drain_posted = true;
    post([weak = std::weak_ptr<State>(job->state())] {
        if (const auto self = weak.lock()) self->drain_ready();
    });
}

void Engine::State::drain_ready() {
    drain_posted = false;
    deciding.swap(ready);   // jobs made ready meanwhile wait for the next turn
    for (const auto& weak : deciding) {
        if (const auto job = weak.lock()) job->finalize(false);
    }
    deciding.clear();
}

Engine::Engine(dns::Resolver& resolver, Post post, Options options, Clock clock)
    : state_(std::make_shared<State>(resolver, std::move(post), options,
                                     clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); }))) {}

Engine::~Engine() = default;

std::size_t Engine::transactions() const noexcept { return state_->transactions.size(); }

std::size_t Engine::shared_results() const noexcept {
    std::size_t n = 0;
    for (std::size_t k = 0; k < check_count; ++k) {
        n += state_->packed[k] ? state_->packed[k]->size() : state_->shared[k].size();
    }
    return n;
}

std::unique_ptr<policy::Decider::Job> Engine::decide(std::shared_ptr<const config::Config> config,
                                                     const policy::Request& request, Done done) {
    return start(std::move(config), request, std::move(done), {});
}

std::unique_ptr<policy::Decider::Job> Engine::explain(std::shared_ptr<const config::Config> config,
                                                      const policy::Request& request, Explained done) {
    return start(std::move(config), request, {}, std::move(done));
}

std::unique_ptr<policy::Decider::Job> Engine::start(std::shared_ptr<const config::Config> config,
                                                    const policy::Request& request, Done done,
                                                    Explained explained) {
    auto& s = *state_;
    const auto now = s.clock();
    s.purge(now);
    s.use_config(config);
    // A transaction is stored only when it holds something the shared table may not: a
    // check in flight or one that cannot be shared (tempfail), or the header sent. A
    // request whose checks all come finished from the shared table stores nothing; its
    // instance's next request finds the same checks there while they live.
    auto txn = s.find_transaction(request.instance, now);
    if (txn && txn->config != config) {
        txn->runs = {};   // started under another config: its questions may not fit this one
        txn->config = config;
    }
    const auto& c = *config;
    auto core = std::make_shared<JobCore>(state_, txn, config, request, std::move(done), std::move(explained));
    core->set_added_at_start(s.transactions_added);

    const auto state = request.state();
    core->evaluated[index(CheckKind::Client)] = true;
    core->evaluated[index(CheckKind::Helo)] = !request.helo_name.empty();
    core->evaluated[index(CheckKind::Sender)] = rules::at_or_after_mail(state);

    const auto ip = request.client_ip();
    const bool loopback = ip && ip->is_loopback();
    const config::CheckCommon* sections[] = {&c.client, &c.helo, &c.sender};
    bool worth_storing = false;
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
        const bool exempt = kind != CheckKind::Client && authenticated_exempt(*sections[k], request);
        // One derivation for the key and the check, so a shared result always fits its key.
        const bool forged = kind != CheckKind::Client && forged_compared(kind, c, exempt, s.options.ask_everything);
        key_of(s.scratch_key, kind, request, exempt, forged);
        std::shared_ptr<Run> run = txn ? txn->runs[k] : nullptr;
        if (!run || run->cancelled || run->key != s.scratch_key) {
            run = s.find_or_start(kind, c, request, s.scratch_key, exempt, forged, now);
            if (txn) txn->runs[k] = run;
        }
        worth_storing = worth_storing || !run->finished || !run->shared;
        if (!run->finished) run->waiters.push_back(core);
        core->runs[k] = std::move(run);
    }
    if (!txn && worth_storing && !request.instance.empty()) {
        txn = s.add_transaction(request.instance, now, config);
        txn->runs = core->runs;
        core->set_transaction(txn);
    }
    core->schedule();
    return std::make_unique<JobHandle>(std::move(core));
}

}  // namespace rpd::checks
