#include "checks/sender.hpp"

#include "checks/hostname.hpp"
#include "log/sanitize.hpp"

namespace rpd::checks {

namespace {

SenderResult make(SenderOutcome outcome, std::string detail) {
    SenderResult r;
    r.outcome = outcome;
    r.detail = std::move(detail);
    return r;
}

std::string_view family_name(const util::IpAddress& a) noexcept { return a.is_v4() ? "A" : "AAAA"; }

}  // namespace

SenderCheck::SenderCheck(dns::Resolver& resolver, std::string sender, std::string client_address,
                         SenderCheckOptions options)
    : Check(resolver), sender_(std::move(sender)), options_(options) {
    if (const auto parsed = util::IpAddress::parse(client_address)) client_ = parsed->unmapped();
}

void SenderCheck::start() {
    started_ = true;
    const auto at = sender_.rfind('@');
    const std::string_view raw_domain =
        at == std::string::npos ? std::string_view{} : std::string_view(sender_).substr(at + 1);
    const auto shown = log::sanitize(raw_domain);
    if (sender_.empty() || sender_ == "<>") {
        early_ = make(SenderOutcome::Skip, "null sender");
    } else if (raw_domain.empty()) {
        early_ = make(SenderOutcome::Skip, "sender " + log::sanitize(sender_) + " has no domain");
    } else if (const auto literal = parse_address_literal(raw_domain); literal.is_literal) {
        if (!literal.address) {
            early_ = make(SenderOutcome::NotFound, shown + " is a malformed address literal");
        } else if (!client_) {
            early_ = make(SenderOutcome::Pass, shown + " is an address literal; no client address to compare");
        } else if (literal.address->unmapped() == *client_) {
            early_ = make(SenderOutcome::Pass, shown + " is the client address");
        } else {
            early_ = make(SenderOutcome::Forged, shown + " is not the client address " + client_->to_string());
        }
    } else if (!is_ascii(raw_domain)) {
        early_ = make(SenderOutcome::Skip, shown + " is not ASCII: not looked up");
    } else {
        domain_ = to_lower(strip_trailing_dot(raw_domain));
        if (!valid_hostname(domain_)) {
            early_ = make(SenderOutcome::NotFound, shown + " is not a valid domain name");
        } else if (!options_.lookup) {
            early_ = make(SenderOutcome::Skip, domain_ + " not looked up: no action depends on it");
        }
    }
    if (early_) {
        finished_ = true;
        return;
    }
    mx_ = ask(domain_, dns::RrType::Mx);
    a_ = ask(domain_, dns::RrType::A);
    aaaa_ = ask(domain_, dns::RrType::Aaaa);
}

bool SenderCheck::null_mx() const {
    const auto& mx = lookups_.get(mx_);
    if (mx.status != dns::DnsStatus::Answer || mx.mx.size() != 1) return false;
    const auto& exchange = mx.mx.front().exchange;
    return exchange.empty() || exchange == ".";
}

bool SenderCheck::address_found() const {
    if (!client_) return false;
    if (has_address(lookups_.get(a_), *client_) || has_address(lookups_.get(aaaa_), *client_)) return true;
    for (const auto& host : hosts_) {
        for (const auto& index : {host.a, host.aaaa}) {
            if (index && has_address(lookups_.get(*index), *client_)) return true;
        }
    }
    return false;
}

void SenderCheck::advance() {
    if (hosts_asked_ || !lookups_.answered(mx_)) return;
    hosts_asked_ = true;
    if (null_mx() || !options_.forged || !client_ || address_found()) return;
    const auto type = client_->is_v4() ? dns::RrType::A : dns::RrType::Aaaa;
    for (auto& name : mx_hosts(lookups_.get(mx_), options_.max_mx_hosts)) {
        Host host{std::move(name), std::nullopt, std::nullopt};
        if (client_->is_v4()) host.a = ask(host.name, type);
        else host.aaaa = ask(host.name, type);
        hosts_.push_back(std::move(host));
    }
}

SenderResult SenderCheck::result() const {
    if (early_) return *early_;
    if (!started_) return make(SenderOutcome::Skip, "not looked up");
    SenderResult r;
    if (keep_evidence_) r.lookups = lookups_.evidence();
    const auto& mx = lookups_.get(mx_), &a = lookups_.get(a_), &aaaa = lookups_.get(aaaa_);
    const auto result = [&r](SenderOutcome outcome, std::string detail) {
        r.outcome = outcome;
        r.detail = std::move(detail);
        return r;
    };
    if (null_mx()) return result(SenderOutcome::NullMx, domain_ + " has a null MX (RFC 7505): it accepts no mail");

    // The client address among the domain's or its MX hosts' addresses settles it. Only
    // when forged is compared: otherwise the result must not depend on the client (the
    // engine then shares it between clients).
    if (client_ && options_.forged) {
        for (const auto* own : {&a, &aaaa}) {
            if (has_address(*own, *client_)) {
                return result(SenderOutcome::Pass, domain_ + " has " + std::string(family_name(*client_)) + " " +
                                                       client_->to_string());
            }
        }
        for (const auto& host : hosts_) {
            for (const auto& index : {host.a, host.aaaa}) {
                if (index && has_address(lookups_.get(*index), *client_)) {
                    return result(SenderOutcome::Pass, "MX host " + host.name + " of " + domain_ + " has " +
                                                           std::string(family_name(*client_)) + " " +
                                                           client_->to_string());
                }
            }
        }
    }

    const bool domain_addresses = a.status == dns::DnsStatus::Answer || aaaa.status == dns::DnsStatus::Answer;
    const bool domain_absent = dns::proves_absence(a.status) && dns::proves_absence(aaaa.status);
    const auto valid_hosts = mx.status == dns::DnsStatus::Answer ? mx_hosts(mx, options_.max_mx_hosts)
                                                                 : std::vector<std::string>{};
    // Postfix needs an MX or an address record, nothing more: whether the MX hosts
    // resolve does not matter to "does the domain exist".
    if (!domain_addresses && valid_hosts.empty()) {
        if (mx.status == dns::DnsStatus::NxDomain) return result(SenderOutcome::NotFound, describe_status(mx));
        if (mx.status == dns::DnsStatus::NoData && domain_absent) {
            return result(SenderOutcome::NotFound, domain_ + " has no MX, A or AAAA");
        }
        if (mx.status == dns::DnsStatus::Answer && domain_absent) {
            return result(SenderOutcome::NotFound, domain_ + " has only malformed MX records and no A or AAAA");
        }
        std::vector<std::string> unknowns;
        for (const auto* r : {&mx, &a, &aaaa}) {
            if (dns::is_unknown(r->status)) unknowns.push_back(describe_status(*r));
        }
        return result(SenderOutcome::TempFail, join(unknowns, "; "));
    }
    const std::string exists = valid_hosts.empty() ? domain_ + " has an address record"
                                                   : domain_ + " has MX " + join(valid_hosts, ", ");
    if (!options_.forged || !client_) return result(SenderOutcome::Pass, exists + "; forged not compared");

    // Forged only when every lookup that could hold the client address answered.
    std::vector<std::string> unknowns;
    if (dns::is_unknown(mx.status)) unknowns.push_back(describe_status(mx));
    const auto& own_family = client_->is_v4() ? a : aaaa;
    if (dns::is_unknown(own_family.status)) unknowns.push_back(describe_status(own_family));
    for (const auto& host : hosts_) {
        const auto index = client_->is_v4() ? host.a : host.aaaa;
        if (index && dns::is_unknown(lookups_.status(*index))) unknowns.push_back(describe_status(lookups_.get(*index)));
    }
    if (!unknowns.empty()) {
        if (options_.forged_matters) return result(SenderOutcome::TempFail, join(unknowns, "; "));
        return result(SenderOutcome::Pass, exists + "; forged comparison unfinished: " + join(unknowns, "; "));
    }
    return result(SenderOutcome::Forged,
                  client_->to_string() + " is not among the addresses of " + domain_ + " or its MX hosts");
}

}  // namespace rpd::checks
