// lib/server/daemon.hpp -- `reverse-policyd [-c FILE] [-f]`: from a config file to a running server.
//
// Order matters: load the config (errors: every FILE:LINE:COL, exit 1); bind every
// listener (exit 2 with one line on failure); drop privileges to server.user when
// started as root; go to the background unless -f; only then create the event loop.
// With -f the log goes to stderr whatever [log] says. Returns the exit code.
#pragma once

#include <string>

#include "config/config.hpp"
#include "server/server.hpp"

namespace rpd::server {

struct DaemonOptions {
    std::string config_path = config::default_path;
    bool foreground = false;
    DeciderFactory make_decider;   // empty: EngineDecider (DNS checks and the rule table)
};

int run_daemon(const DaemonOptions& options);

// Chooses the log sink and level for `config` (stderr when `foreground`).
void apply_log_config(const config::Config& config, bool foreground);

}  // namespace rpd::server
