// lib/checks/sender.hpp -- the MAIL FROM domain check (SPEC §3).
//
// In: the sender address and client_address as Postfix sent them. Without DNS:
//   skip       the null sender (<> / ""), a sender without a domain, a non-ASCII domain
//              (SMTPUTF8: no IDNA here, so not judged), or nothing depends on it
//   not_found  a domain that is not a valid host name, a malformed address literal
//   pass/forged an address literal [192.0.2.1] / [IPv6:...]: pass when it is the client
//              address, forged when not (its only "address" is the literal)
// Otherwise MX, A and AAAA of the domain, at once. "MX first": the MX answer decides
// what the domain is --
//   NXDOMAIN                      -> not_found (an A/AAAA answer would still win: DNS
//                                    that contradicts itself is not proof of absence)
//   a single MX with exchange "." -> null_mx (RFC 7505: the domain accepts no mail)
//   NODATA                        -> the implicit MX: the domain's own A/AAAA; none -> not_found
//   MX hosts                      -> each valid host (up to max_mx_hosts) asked A and AAAA,
//                                    as soon as the MX answer is in; when no host resolves
//                                    (all proved absent, or only malformed MX records) and
//                                    the domain has no A/AAAA either -> not_found, as Postfix's
//                                    reject_unknown_sender_domain for "a malformed MX record"
// forged: the domain resolves but the client address is not among the domain's A/AAAA
// nor its MX hosts' addresses. Any lookup that could not find out where it mattered
// makes the outcome tempfail, never not_found or forged.
//
// Which questions (SenderCheckOptions, set by the engine from the config): `lookup`
// false -> skip after the syntax, nothing asked; `mx_hosts_resolve` false -> MX hosts are
// not asked A+AAAA to prove that they resolve (an MX answer with a valid host counts as
// resolving, as in Postfix); `forged` false -> no comparison. With only `forged`, MX
// hosts are asked in the client's family (A for IPv4, AAAA for IPv6) and not at all
// when the domain's own addresses already matched.
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
    bool mx_hosts_resolve = true;
    bool forged = true;
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
