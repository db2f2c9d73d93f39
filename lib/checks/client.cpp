#include "checks/client.hpp"

#include <algorithm>

#include "checks/hostname.hpp"
#include "log/sanitize.hpp"

namespace rpd::checks {

ClientCheck::ClientCheck(dns::Resolver& resolver, std::string client_address, ClientCheckOptions options)
    : Check(resolver), client_address_(std::move(client_address)), options_(options) {
    if (const auto parsed = util::IpAddress::parse(client_address_)) address_ = parsed->unmapped();
}

void ClientCheck::start() {
    if (!address_) {
        finished_ = true;
        return;
    }
    ptr_ = ask(address_->reverse_name(), dns::RrType::Ptr);
}

void ClientCheck::advance() {
    if (forward_asked_ || !ptr_ || !lookups_.answered(*ptr_)) return;
    forward_asked_ = true;
    const auto& ptr = lookups_.get(*ptr_);
    if (ptr.status != dns::DnsStatus::Answer) return;
    for (const auto& raw : ptr.names) {
        if (forward_names_.size() >= options_.max_ptr_names) break;
        const auto name = strip_trailing_dot(raw);
        if (!valid_hostname(name)) continue;
        auto lower = to_lower(name);
        if (std::find(forward_names_.begin(), forward_names_.end(), lower) != forward_names_.end()) continue;
        forward_names_.push_back(std::move(lower));
    }
    const auto type = address_->is_v4() ? dns::RrType::A : dns::RrType::Aaaa;
    for (const auto& name : forward_names_) forward_.push_back(ask(name, type));
}

ClientResult ClientCheck::result() const {
    ClientResult r;
    if (keep_evidence_) r.lookups = lookups_.evidence();
    if (!address_) {
        r.outcome = ClientOutcome::Skip;
        r.detail = client_address_.empty()
                       ? "no client address"
                       : "client address " + log::sanitize(client_address_) + " is not an IP address";
        return r;
    }
    if (!ptr_) {   // not started
        r.outcome = ClientOutcome::Skip;
        r.detail = "not looked up";
        return r;
    }
    const auto& ptr = lookups_.get(*ptr_);
    for (const auto& name : ptr.names) r.ptr_names.push_back(log::sanitize(name));
    if (dns::proves_absence(ptr.status)) {
        r.outcome = ClientOutcome::NoPtr;
        r.detail = describe_status(ptr);
        return r;
    }
    if (dns::is_unknown(ptr.status)) {
        r.outcome = ClientOutcome::TempFail;
        r.ptr_failed = true;
        r.detail = describe_status(ptr);
        return r;
    }
    if (forward_names_.empty()) {
        r.outcome = ClientOutcome::NoPtr;
        r.detail = "PTR " + ptr.name + ": no valid host name";
        if (!r.ptr_names.empty()) r.detail += " among " + join(r.ptr_names, ", ");
        return r;
    }
    const auto address_text = address_->to_string();
    std::vector<std::string> unknown;
    std::vector<std::string> absent;
    for (std::size_t i = 0; i < forward_.size(); ++i) {
        const auto& fwd = lookups_.get(forward_[i]);
        if (has_address(fwd, *address_)) {
            r.confirmed_names.push_back(forward_names_[i]);
        } else if (dns::is_unknown(fwd.status)) {
            unknown.push_back(describe_status(fwd));
        } else if (fwd.status == dns::DnsStatus::Answer) {
            absent.push_back(forward_names_[i] + " has no " + std::string(dns::to_string(fwd.type)) + " for " +
                             address_text);
        } else {
            absent.push_back(describe_status(fwd));
        }
    }
    if (!r.confirmed_names.empty()) {
        r.outcome = ClientOutcome::Pass;
        r.detail = r.confirmed_names.front() + " has " +
                   std::string(dns::to_string(address_->is_v4() ? dns::RrType::A : dns::RrType::Aaaa)) + " " +
                   address_text;
    } else if (!unknown.empty()) {
        r.outcome = ClientOutcome::TempFail;
        r.detail = join(unknown, "; ");
    } else {
        r.outcome = ClientOutcome::Mismatch;
        r.detail = join(absent, "; ");
    }
    return r;
}

}  // namespace rpd::checks
