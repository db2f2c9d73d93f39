#include "server/daemon.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "log/logger.hpp"
#include "server/engine_decider.hpp"

namespace rpd::server {

namespace {

constexpr int exit_config = 1;
constexpr int exit_runtime = 2;

// A startup failure: one line in the log, and on the terminal too when the log is syslog.
int fatal(int code, const std::string& message) {
    log::error("fatal: {}", message);
    if (log::is_syslog()) std::fprintf(stderr, "%s: fatal: %s\n", log::ident, message.c_str());
    log::flush();
    return code;
}

std::string drop_privileges(const std::string& user) {
    if (user.empty()) return {};
    if (::geteuid() != 0) {
        log::info("not started as root: server.user = \"{}\" ignored", user);
        return {};
    }
    errno = 0;
    const passwd* pw = ::getpwnam(user.c_str());
    if (pw == nullptr) return fmt::format("server.user: no such user \"{}\"", user);
    const uid_t uid = pw->pw_uid;
    const gid_t gid = pw->pw_gid;
    if (::setgid(gid) != 0) return fmt::format("setgid({}): {}", gid, std::strerror(errno));
    if (::initgroups(user.c_str(), gid) != 0) return fmt::format("initgroups({}): {}", user, std::strerror(errno));
    if (::setuid(uid) != 0) return fmt::format("setuid({}): {}", uid, std::strerror(errno));
    // Paranoia (Postfix does the same): root must be gone for good.
    if (uid != 0 && ::setuid(0) == 0) return "privileges could not be dropped: setuid(0) still succeeds";
    log::info("running as user {} (uid {}, gid {})", user, uid, gid);
    return {};
}

std::string daemonize(bool keep_stderr) {
    const pid_t pid = ::fork();
    if (pid < 0) return fmt::format("fork: {}", std::strerror(errno));
    if (pid > 0) ::_exit(0);
    ::setsid();
    if (::chdir("/") != 0) return fmt::format("chdir /: {}", std::strerror(errno));
    const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0) return fmt::format("/dev/null: {}", std::strerror(errno));
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);
    if (!keep_stderr) ::dup2(null, STDERR_FILENO);
    ::close(null);
    return {};
}

}  // namespace

void apply_log_config(const config::Config& config, bool foreground) {
    const bool to_stderr = foreground || config.log.to == config::LogConfig::Sink::Stderr;
    if (to_stderr) log::use_stderr();
    else log::use_syslog(config.log.facility);
    log::set_debug(config.log.level == config::LogConfig::Level::Debug);
}

int run_daemon(const DaemonOptions& options) {
    ::signal(SIGPIPE, SIG_IGN);
    log::use_stderr();

    auto loaded = config::load_file(options.config_path);
    if (auto* errors = std::get_if<std::vector<config::ConfigError>>(&loaded)) {
        for (const auto& e : *errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
        std::fprintf(stderr, "%s: fatal: %zu error(s) in %s, not started\n", log::ident, errors->size(),
                     options.config_path.c_str());
        return exit_config;
    }
    auto config = std::get<std::shared_ptr<const config::Config>>(std::move(loaded));
    apply_log_config(*config, options.foreground);

    if (config->server.listen.empty()) return fatal(exit_config, "server.listen is empty: nothing to listen on");
    std::vector<ListenSocket> listeners;
    for (const auto& address : config->server.listen) {
        auto opened = open_listener(address, config->server.socket_mode);
        if (auto* error = std::get_if<std::string>(&opened)) {
            for (const auto& l : listeners) remove_socket_file(l);
            return fatal(exit_runtime, *error);
        }
        listeners.push_back(std::get<ListenSocket>(std::move(opened)));
    }
    if (auto error = drop_privileges(config->server.user); !error.empty()) {
        for (const auto& l : listeners) remove_socket_file(l);
        return fatal(exit_runtime, error);
    }
    if (!options.foreground) {
        if (auto error = daemonize(config->log.to == config::LogConfig::Sink::Stderr); !error.empty()) {
            return fatal(exit_runtime, error);
        }
        apply_log_config(*config, false);   // the stderr prefix carries the new PID
    }

    const bool foreground = options.foreground;
    ServerOptions server_options;
    server_options.config_path = options.config_path;
    server_options.on_reload = [foreground](const config::Config& c) { apply_log_config(c, foreground); };
    DeciderFactory make_decider = options.make_decider;
    if (!make_decider) {
        make_decider = [](event_base* base, std::shared_ptr<const config::Config> c) {
            return std::make_unique<EngineDecider>(base, *c);
        };
    }
    try {
        Server server(config, std::move(listeners), make_decider, std::move(server_options));
        return server.run();
    } catch (const std::exception& e) {
        return fatal(exit_runtime, e.what());
    }
}

}  // namespace rpd::server
