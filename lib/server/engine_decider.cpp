#include "server/engine_decider.hpp"

#include <algorithm>

#include "checks/engine.hpp"
#include "dns/resolver.hpp"
#include "log/logger.hpp"
#include "server/resolver_monitor.hpp"

namespace rpd::server {

struct EngineDecider::Generation {
    config::DnsConfig dns;
    ResolverMonitor monitor;
    std::unique_ptr<dns::StubResolver> resolver;
    std::unique_ptr<checks::Engine> engine;   // after the resolver: destroyed first
    std::size_t jobs = 0;
    bool retired = false;
};

namespace {

// Counts the jobs of a generation, so a retired one is freed only when none is left.
// A plain pointer: the decider keeps the generation (current_ or retired_) while it
// has jobs, and the jobs end before the decider.
class CountedJob final : public policy::Decider::Job {
public:
    using OnLast = void (*)(EngineDecider&, EngineDecider::Generation*);
    CountedJob(std::unique_ptr<Job> inner, EngineDecider::Generation* g, EngineDecider& owner, OnLast on_last)
        : inner_(std::move(inner)), generation_(g), owner_(owner), on_last_(on_last) {
        ++generation_->jobs;
    }
    ~CountedJob() override {
        inner_.reset();
        if (--generation_->jobs == 0 && generation_->retired) on_last_(owner_, generation_);
    }
    void expire() override { inner_->expire(); }

private:
    std::unique_ptr<Job> inner_;
    EngineDecider::Generation* generation_;
    EngineDecider& owner_;
    OnLast on_last_;
};

bool same_servers(const config::DnsConfig& a, const config::DnsConfig& b) noexcept {
    return std::equal(a.nameservers.begin(), a.nameservers.end(), b.nameservers.begin(), b.nameservers.end(),
                      [](const auto& x, const auto& y) { return x.text == y.text; });
}

}  // namespace

bool resolver_settings_differ(const config::DnsConfig& a, const config::DnsConfig& b) noexcept {
    return !same_servers(a, b) || a.timeout != b.timeout || a.attempts != b.attempts ||
           a.max_inflight != b.max_inflight || a.cache_entries != b.cache_entries || a.max_ttl != b.max_ttl ||
           a.negative_ttl != b.negative_ttl || a.tempfail_ttl != b.tempfail_ttl;
}

namespace {

std::shared_ptr<EngineDecider::Generation> make_generation(event_base* base, const config::DnsConfig& dns,
                                                           PostQueue& post) {
    auto g = std::make_shared<EngineDecider::Generation>();
    g->dns = dns;
    g->resolver = std::make_unique<dns::StubResolver>(base, dns);
    auto* raw = g.get();
    g->resolver->set_debug([raw](const dns::DebugEvent& ev) { raw->monitor.on_event(ev); });
    // Checks are shared while their answers are cached, as many per kind as [dns] keeps
    // answers; the daemon keeps no DnsResults once a check is done (only `check` shows them).
    checks::Engine::Options options;
    options.max_shared_results = dns.cache_entries;
    options.keep_evidence = false;
    g->engine = std::make_unique<checks::Engine>(
        *g->resolver, [&post](std::function<void()> fn) { post.post(std::move(fn)); }, options);
    std::vector<std::string> names;
    for (const auto& ns : g->resolver->nameservers()) names.push_back(ns.text);
    log::info("resolver: asking {}{}", fmt::join(names, ", "),
              dns.nameservers.empty() ? " (from /etc/resolv.conf)" : "");
    return g;
}

}  // namespace

EngineDecider::EngineDecider(event_base* base, const config::Config& config)
    : base_(base), post_(base), current_(make_generation(base, config.dns, post_)) {}

EngineDecider::~EngineDecider() {
    // Jobs (connections) are gone before the decider; nothing posted may run after this.
    current_.reset();
    retired_.clear();
}

std::unique_ptr<policy::Decider::Job> EngineDecider::decide(std::shared_ptr<const config::Config> config,
                                                            const policy::Request& request, Done done) {
    // Compared once per Config object (a reload makes a new one), not per request.
    if (config != last_config_ && resolver_settings_differ(config->dns, current_->dns)) {
        log::info("[dns] changed: new requests use a new resolver (empty cache)");
        current_->retired = true;
        retired_.push_back(current_);
        const auto old = current_;
        current_ = make_generation(base_, config->dns, post_);
        if (old->jobs == 0) retire_if_idle(old.get());
    }
    if (config != last_config_) {
        last_config_ = config;
        // Records as text serve only debug lines in the daemon.
        current_->resolver->set_record_text(config->log.level == config::LogConfig::Level::Debug);
    }
    auto inner = current_->engine->decide(std::move(config), request, std::move(done));
    return std::make_unique<CountedJob>(std::move(inner), current_.get(), *this,
                                        [](EngineDecider& self, Generation* g) { self.retire_if_idle(g); });
}

// Frees a retired generation on a later turn: never from inside one of its own callbacks.
void EngineDecider::retire_if_idle(Generation* g) {
    post_.post([this, g] {
        const auto it = std::find_if(retired_.begin(), retired_.end(), [g](const auto& p) { return p.get() == g; });
        if (it == retired_.end() || (*it)->jobs != 0) return;
        retired_.erase(it);
        log::debug("an old resolver was freed after a [dns] change");
    });
}

}  // namespace rpd::server
