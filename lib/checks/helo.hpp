// lib/checks/helo.hpp -- the HELO/EHLO name check (SPEC §3).
//
// In: helo_name and client_address as Postfix sent them. First the syntax, no DNS:
//   skip      no helo_name yet
//   invalid   neither a valid host name (checks/hostname.hpp) nor an address literal, or
//             a malformed literal ("[300.1.1.1]", "[::1]" without "IPv6:"; bad_literal set)
//   forged    an address literal [192.0.2.1] / [IPv6:2001:db8::1] that is not the client
//             address (pass when it is)
//   non_fqdn  no dot; also a bare IP address without brackets ("192.0.2.1"): Postfix's
//             reject_invalid_helo_hostname accepts it ("XXX back compat", smtpd_check.c)
//             but reject_non_fqdn_helo_hostname does not, since it is no valid host name
// One trailing dot is ignored. Then A, AAAA and MX of the name, at once, classified as
// Postfix does (STYLE.md): any answer -> it resolves; else any unknown -> tempfail;
// else (all NXDOMAIN/NODATA) -> not_found. A name that resolves is forged when the
// client address is not among its A/AAAA nor among its MX hosts' addresses (up to
// max_mx_hosts valid host names, in preference order, asked A for an IPv4 client and
// AAAA for an IPv6 one, as soon as the MX answer is in, unless the name's own addresses
// already matched); an unknown among those lookups makes it tempfail, never forged.
//
// Which questions (HeloCheckOptions, set by the engine from the config): `resolve`
// false -> the outcome after the syntax is skip and nothing is asked; `forged` false ->
// no MX host lookups, and a name that resolves passes ("forged not compared");
// `forged_matters` false (forged compared only for the header or the log) -> a name that
// resolves but whose comparison could not finish passes, the unknowns noted in the
// detail: a failed lookup of an MX host must not defer a HELO name that exists.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "checks/check.hpp"
#include "checks/outcome.hpp"
#include "util/ip.hpp"

namespace rpd::checks {

struct HeloCheckOptions {
    unsigned max_mx_hosts = 10;
    bool resolve = true;
    bool forged = true;
    bool forged_matters = true;   // an unfinished comparison is tempfail (else pass, noted)
};

class HeloCheck final : public Check {
public:
    HeloCheck(dns::Resolver& resolver, std::string helo_name, std::string client_address, HeloCheckOptions options);
    void start() override;
    HeloResult result() const;

private:
    void advance() override;
    bool address_found() const;

    std::string helo_name_;
    std::string name_;                        // trailing dot stripped
    std::optional<util::IpAddress> client_;   // unmapped
    HeloCheckOptions options_;
    std::optional<HeloResult> early_;         // decided without DNS
    bool started_ = false;
    std::size_t a_ = 0, aaaa_ = 0, mx_ = 0;
    bool hosts_asked_ = false;
    std::vector<std::pair<std::string, std::size_t>> hosts_;   // MX host, its lookup
};

}  // namespace rpd::checks
