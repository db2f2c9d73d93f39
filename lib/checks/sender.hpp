// lib/checks/sender.hpp -- the MAIL FROM domain check (SPEC §3).
//
// In: the sender address and client_address as Postfix sent them. Without DNS:
//   skip       the null sender (<> / ""), a sender without a domain, a non-ASCII domain
//              (SMTPUTF8: no IDNA here, so not judged), or nothing depends on it
//   not_found  a domain that is not a valid host name, a malformed address literal
//   pass/forged an address literal [192.0.2.1] / [IPv6:...]: pass when it is the client
//              address, forged when not (its only "address" is the literal)
// Otherwise MX, A and AAAA of the domain, at once. As Postfix's
// reject_unknown_sender_domain (checked against Postfix 3.7 with the same zones), the
// domain needs an MX record or an A/AAAA record, nothing more:
//   a single MX with exchange "." -> null_mx (RFC 7505: the domain accepts no mail)
//   an MX with a valid host       -> the domain exists, whether or not that host resolves
//   an A or AAAA answer           -> the domain exists (an A answer wins over an MX NXDOMAIN:
//                                    DNS that contradicts itself is not proof of absence)
//   MX NXDOMAIN, or MX, A and AAAA all NODATA/NXDOMAIN -> not_found
//   only malformed MX exchanges and no A/AAAA -> not_found (Postfix: "malformed MX record")
//   anything else (an MX, A or AAAA lookup that could not find out) -> tempfail
// MX hosts' addresses matter only for the forged comparison: forged when the domain
// exists but the client address is not among the domain's A/AAAA nor its MX hosts'
// addresses (MX hosts asked in the client's family, up to max_mx_hosts, not at all when
// the domain's own addresses already matched). A comparison that could not finish
// (an MX host lookup or the domain's own lookup in the client's family failed
// temporarily) is tempfail only when `forged_matters`; otherwise the outcome is pass,
// with the gap in the detail: a tempfail nobody acts on must not defer mail through
// tempfail = "auto".
//
// Which questions (SenderCheckOptions, set by the engine from the config): `lookup`
// false -> skip after the syntax, nothing asked; `forged` false -> no comparison, no MX
// host lookups.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "checks/check.hpp"
#include "checks/outcome.hpp"
#include "util/ip.hpp"

namespace rpd::checks {

struct SenderCheckOptions {
    unsigned max_mx_hosts = 10;
    bool lookup = true;
    bool forged = true;           // compare (asks the MX hosts' addresses)
    bool forged_matters = true;   // an unfinished comparison is tempfail (else pass, noted)
};

class SenderCheck final : public Check {
public:
    SenderCheck(dns::Resolver& resolver, std::string sender, std::string client_address, SenderCheckOptions options);
    void start() override;
    SenderResult result() const;

private:
    struct Host {
        std::string name;
        std::optional<std::size_t> a, aaaa;
    };
    void advance() override;
    bool address_found() const;
    bool null_mx() const;

    std::string sender_;
    std::string domain_;                      // lower-case, trailing dot stripped
    std::optional<util::IpAddress> client_;   // unmapped
    SenderCheckOptions options_;
    std::optional<SenderResult> early_;
    bool started_ = false;
    std::size_t mx_ = 0, a_ = 0, aaaa_ = 0;
    bool hosts_asked_ = false;
    std::vector<Host> hosts_;
};

}  // namespace rpd::checks
