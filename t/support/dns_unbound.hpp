// t/support/dns_unbound.hpp -- a real recursive resolver (Debian's unbound) serving the test zones.
//
// In: zone files (by default every zone in t/data/zones/zones.list, plus any a test
// adds). Out: an unbound process answering on 127.0.0.1:<free port>, in the foreground,
// no chroot, no privilege drop, no syslog, no remote control, nothing sent to the
// network (do-not-query-address covers every address, so a name outside the zones, or
// delegated away from them, ends in SERVFAIL). The zones are loaded as auth-zones
// "for-upstream": unbound resolves them as a recursive server would, following CNAMEs
// across zones (RFC 2317), truncating big answers over UDP (EDNS 1232).
// The destructor stops the process by its pid (SIGTERM, then SIGKILL) and removes the
// temporary directory. Not here: starting unbound when the binary is missing -- then
// running() is false and error() says why, and the test fails (never skips).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace rpd::test {

class UnboundServer {
public:
    struct Zone {
        std::string origin;   // "example.test."
        std::string file;     // absolute path of the zone file
    };
    struct Options {
        std::vector<Zone> zones = default_zones();
        std::string binary = "/usr/sbin/unbound";
        std::chrono::milliseconds startup{10'000};   // bound on waiting for the first answer
    };

    // t/data/zones/zones.list: "origin file" per line, '#' comments.
    static std::vector<Zone> default_zones();

    UnboundServer();
    explicit UnboundServer(Options options);
    ~UnboundServer();
    UnboundServer(const UnboundServer&) = delete;
    UnboundServer& operator=(const UnboundServer&) = delete;

    bool running() const noexcept { return pid_ > 0; }
    const std::string& error() const noexcept { return error_; }   // with the log's tail
    std::uint16_t port() const noexcept { return port_; }
    pid_t pid() const noexcept { return pid_; }
    config::NameServer nameserver() const;
    std::string log() const;   // unbound's stderr so far

private:
    bool start_once(const Options& options);
    void stop() noexcept;
    bool answers(std::chrono::milliseconds wait) const;

    std::string dir_;
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
    std::string error_;
};

}  // namespace rpd::test
