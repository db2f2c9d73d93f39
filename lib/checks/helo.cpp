#include "checks/helo.hpp"

#include "checks/hostname.hpp"
#include "log/sanitize.hpp"

namespace rpd::checks {

namespace {

HeloResult make(HeloOutcome outcome, std::string detail) {
    HeloResult r;
    r.outcome = outcome;
    r.detail = std::move(detail);
    return r;
}

}  // namespace

HeloCheck::HeloCheck(dns::Resolver& resolver, std::string helo_name, std::string client_address,
                     HeloCheckOptions options)
    : Check(resolver), helo_name_(std::move(helo_name)), options_(options) {
    if (const auto parsed = util::IpAddress::parse(client_address)) client_ = parsed->unmapped();
}

void HeloCheck::start() {
    started_ = true;
    const auto shown = log::sanitize(helo_name_);
    if (helo_name_.empty()) {
        early_ = make(HeloOutcome::Skip, "no HELO name yet");
    } else if (const auto literal = parse_address_literal(helo_name_); literal.is_literal) {
        if (!literal.address) {
            early_ = make(HeloOutcome::Invalid, shown + " is a malformed address literal");
            early_->bad_literal = true;
        } else if (!client_) {
            early_ = make(HeloOutcome::Pass, shown + " is an address literal; no client address to compare");
        } else if (literal.address->unmapped() == *client_) {
            early_ = make(HeloOutcome::Pass, shown + " is the client address");
        } else {
            early_ = make(HeloOutcome::Forged, shown + " is not the client address " + client_->to_string());
        }
    } else {
        name_ = std::string(strip_trailing_dot(helo_name_));
        if (util::IpAddress::parse(name_)) {
            early_ = make(HeloOutcome::NonFqdn, shown + " is an IP address without brackets");
        } else if (!valid_hostname(name_)) {
            early_ = make(HeloOutcome::Invalid, shown + " is not a valid host name");
        } else if (name_.find('.') == std::string::npos) {
            early_ = make(HeloOutcome::NonFqdn, shown + " has no dot");
        } else if (!options_.resolve) {
            early_ = make(HeloOutcome::Skip, shown + " not looked up: no action depends on it");
        }
    }
    if (early_) {
        finished_ = true;
        return;
    }
    a_ = ask(name_, dns::RrType::A);
    aaaa_ = ask(name_, dns::RrType::Aaaa);
    mx_ = ask(name_, dns::RrType::Mx);
}

bool HeloCheck::address_found() const {
    if (!client_) return false;
    if (has_address(lookups_.get(a_), *client_) || has_address(lookups_.get(aaaa_), *client_)) return true;
    for (const auto& [host, index] : hosts_) {
        if (has_address(lookups_.get(index), *client_)) return true;
    }
    return false;
}

void HeloCheck::advance() {
    if (hosts_asked_ || !options_.forged || !client_ || !lookups_.answered(mx_)) return;
    hosts_asked_ = true;
    if (address_found()) return;   // the name's own addresses matched: no need for its MX hosts
    const auto type = client_->is_v4() ? dns::RrType::A : dns::RrType::Aaaa;
    for (auto& host : mx_hosts(lookups_.get(mx_), options_.max_mx_hosts)) {
        const auto index = ask(host, type);
        hosts_.emplace_back(std::move(host), index);
    }
}

HeloResult HeloCheck::result() const {
    if (early_) return *early_;
    if (!started_) return make(HeloOutcome::Skip, "not looked up");
    HeloResult r;
    if (keep_evidence_) r.lookups = lookups_.evidence();
    const auto& a = lookups_.get(a_), &aaaa = lookups_.get(aaaa_), &mx = lookups_.get(mx_);
    const dns::DnsResult* own[] = {&a, &aaaa, &mx};

    bool resolves = false, unknown = false;
    for (const auto* l : own) {
        resolves = resolves || l->status == dns::DnsStatus::Answer;
        unknown = unknown || dns::is_unknown(l->status);
    }
    if (!resolves) {
        std::vector<std::string> why;
        for (const auto* l : own) {
            if (!unknown || dns::is_unknown(l->status)) why.push_back(describe_status(*l));
        }
        r.outcome = unknown ? HeloOutcome::TempFail : HeloOutcome::NotFound;
        r.detail = join(why, "; ");
        return r;
    }
    if (!options_.forged || !client_) {
        r.outcome = HeloOutcome::Pass;
        r.detail = name_ + " resolves; forged not compared";
        return r;
    }
    const auto client_text = client_->to_string();
    const auto family = client_->is_v4() ? dns::RrType::A : dns::RrType::Aaaa;
    const auto& own_family = client_->is_v4() ? a : aaaa;
    if (has_address(own_family, *client_)) {
        r.outcome = HeloOutcome::Pass;
        r.detail = name_ + " has " + std::string(dns::to_string(family)) + " " + client_text;
        return r;
    }
    std::vector<std::string> unknowns;
    if (dns::is_unknown(own_family.status)) unknowns.push_back(describe_status(own_family));
    if (dns::is_unknown(mx.status)) unknowns.push_back(describe_status(mx));
    for (const auto& [host, index] : hosts_) {
        const auto& h = lookups_.get(index);
        if (has_address(h, *client_)) {
            r.outcome = HeloOutcome::Pass;
            r.detail = "MX host " + host + " of " + name_ + " has " + std::string(dns::to_string(family)) + " " +
                       client_text;
            return r;
        }
        if (dns::is_unknown(h.status)) unknowns.push_back(describe_status(h));
    }
    if (!unknowns.empty()) {
        r.outcome = options_.forged_matters ? HeloOutcome::TempFail : HeloOutcome::Pass;
        r.detail = options_.forged_matters ? join(unknowns, "; ")
                                           : name_ + " resolves; forged comparison unfinished: " + join(unknowns, "; ");
        return r;
    }
    r.outcome = HeloOutcome::Forged;
    r.detail = client_text + " is not among the addresses of " + name_ + " or its MX hosts";
    return r;
}

}  // namespace rpd::checks
