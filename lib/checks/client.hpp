// lib/checks/client.hpp -- the client check: PTR, then forward confirmation (SPEC §3).
//
// In: client_address as Postfix sent it. An IPv4-mapped IPv6 address is the IPv4 address
// it carries. Questions: the PTR of the address (the resolver follows CNAMEs inside the
// answer, RFC 2317 classless delegation); then, all at once, A (IPv4 client) or AAAA
// (IPv6 client) of up to max_ptr_names PTR names that are valid host names (duplicates
// once). Out, one of:
//   pass      some PTR name's A/AAAA contains the client address
//   no_ptr    the PTR is NXDOMAIN/NODATA, or no PTR name is a valid host name (as Postfix)
//   mismatch  every forward lookup proved absence or answered other addresses
//   tempfail  nothing confirmed and some lookup (PTR or forward) could not find out
//   skip      no client_address, or one that is not an IP address; no question asked
// A check always asks all its questions when it runs: the forward-confirmed name is in
// every log line and matched by [allowlist] client_names. It waits for every forward
// lookup, so `confirmed_names` is complete. Not here: loopback clients (the engine does
// not run checks for them), what an outcome means (lib/rules).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "checks/check.hpp"
#include "checks/outcome.hpp"
#include "util/ip.hpp"

namespace rpd::checks {

struct ClientCheckOptions {
    unsigned max_ptr_names = 10;
};

class ClientCheck final : public Check {
public:
    ClientCheck(dns::Resolver& resolver, std::string client_address, ClientCheckOptions options);
    void start() override;
    // The outcome; before finished(), as if every outstanding question had timed out.
    ClientResult result() const;

private:
    void advance() override;

    std::string client_address_;
    std::optional<util::IpAddress> address_;
    ClientCheckOptions options_;
    std::optional<std::size_t> ptr_;
    bool forward_asked_ = false;
    std::vector<std::string> forward_names_;   // valid PTR names asked, lower-case
    std::vector<std::size_t> forward_;         // their lookups, same order
};

}  // namespace rpd::checks
