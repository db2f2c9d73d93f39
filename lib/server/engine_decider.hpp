// lib/server/engine_decider.hpp -- the daemon's Decider: DNS resolver + checks::Engine on the server's loop.
//
// Built once the event_base exists (DeciderFactory). It owns one dns::StubResolver made
// from [dns] (resolv.conf when nameservers is empty) and one checks::Engine that posts
// its decisions through a PostQueue on the same loop. A resolver's debug events go to
// a ResolverMonitor (debug lines; trouble logged once per state change).
//
// Reload (SIGHUP): every request carries its Config, so the rules, headers, allowlist and
// check sections of a new Config apply to the next request at once. When [dns] changed
// (nameservers, timeout, attempts, max_inflight, cache and TTL caps), the next request
// builds a new resolver and engine (a new "generation", with an empty cache and no
// shared transactions); requests already running finish on the old one, which is freed
// on a later loop turn once its last job is gone. max_ptr_names and max_mx_hosts are
// read per request and need no new resolver.
#pragma once

#include <memory>
#include <vector>

#include "policy/decider.hpp"
#include "server/libevent.hpp"
#include "server/post_queue.hpp"

namespace rpd::server {

class EngineDecider final : public policy::Decider {
public:
    // Throws std::runtime_error when the loop cannot take the resolver's events.
    EngineDecider(event_base* base, const config::Config& config);
    ~EngineDecider() override;
    EngineDecider(const EngineDecider&) = delete;
    EngineDecider& operator=(const EngineDecider&) = delete;

    std::unique_ptr<Job> decide(std::shared_ptr<const config::Config> config, const policy::Request& request,
                                Done done) override;

    struct Generation;

private:
    void retire_if_idle(Generation* g);

    event_base* base_;
    PostQueue post_;   // declared before the generations: their engines post through it
    std::shared_ptr<Generation> current_;
    std::shared_ptr<const config::Config> last_config_;   // the last Config compared with current_
    std::vector<std::shared_ptr<Generation>> retired_;
};

// True when two [dns] sections need different resolvers.
bool resolver_settings_differ(const config::DnsConfig& a, const config::DnsConfig& b) noexcept;

}  // namespace rpd::server
