#include "rules/decision.hpp"

#include <algorithm>
#include <initializer_list>

#include "checks/hostname.hpp"
#include "log/sanitize.hpp"

namespace rpd::rules {

namespace {

using checks::CheckKind;

// SMTP limits a reply line to 512 octets (RFC 5321 §4.5.3.1.5); Postfix adds its prefix.
constexpr std::size_t max_action_length = 512;

Action make_action(ActionKind kind, Severity severity, std::string text) {
    Action a;
    a.kind = kind;
    a.severity = severity;
    a.text = std::move(text);
    return a;
}

Action dunno() { return make_action(ActionKind::Dunno, Severity::Dunno, "DUNNO"); }

// Placeholders inside, so the values go through the same sanitising expansion.
Action auto_tempfail(CheckKind kind) {
    std::string_view what;
    switch (kind) {
    case CheckKind::Client: what = "reverse name of {client_address}"; break;
    case CheckKind::Helo: what = "HELO name {helo_name}"; break;
    case CheckKind::Sender: what = "sender domain {sender_domain}"; break;
    }
    return make_action(ActionKind::DeferIfPermit, Severity::DeferIfPermit,
                       "DEFER_IF_PERMIT 4.4.3 temporary DNS failure looking up " + std::string(what) +
                           ", try again later");
}

// "450 4.7.1 text" / "REJECT text" -> "DEFER_IF_PERMIT 4.7.1 text" / "DEFER_IF_PERMIT text".
std::optional<Action> as_defer_if_permit(const Action& a) {
    if (!a.rejects_or_defers()) return std::nullopt;
    const auto space = a.text.find_first_of(" \t");
    if (space == std::string::npos) return std::nullopt;
    const auto rest_at = a.text.find_first_not_of(" \t", space);
    if (rest_at == std::string::npos) return std::nullopt;
    return make_action(ActionKind::DeferIfPermit, Severity::DeferIfPermit,
                       "DEFER_IF_PERMIT " + a.text.substr(rest_at));
}

struct Rule {
    std::string name;
    Action action;
};

Rule tempfail_rule(const config::Config& config, CheckKind kind, const config::CheckCommon& section,
                   std::initializer_list<const Action*> others, bool ptr_failed) {
    const std::string prefix = std::string(checks::to_string(kind)) + ".tempfail";
    if (section.tempfail) {
        // The config check refuses a permanent tempfail action; should one get here, a
        // temporary failure still never becomes a permanent rejection.
        if (section.tempfail->is_permanent()) return {prefix + " (permanent action refused)", auto_tempfail(kind)};
        return {prefix, *section.tempfail};
    }
    if (kind == CheckKind::Client && config.preset_postfix) {
        const auto& base = ptr_failed ? config.client.no_ptr : config.client.mismatch;
        if (auto derived = as_defer_if_permit(base)) return {prefix + " (preset postfix)", std::move(*derived)};
    }
    const bool others_act = std::any_of(others.begin(), others.end(), [](const Action* a) { return a->rejects_or_defers(); });
    if (others_act) return {prefix + " (auto)", auto_tempfail(kind)};
    return {prefix + " (auto: logged only)", dunno()};
}

std::optional<Rule> rule_for(const config::Config& config, const checks::ClientResult& r) {
    const auto& c = config.client;
    switch (r.outcome) {
    case checks::ClientOutcome::NoPtr: return Rule{"client.no_ptr", c.no_ptr};
    case checks::ClientOutcome::Mismatch: return Rule{"client.mismatch", c.mismatch};
    case checks::ClientOutcome::TempFail:
        return tempfail_rule(config, CheckKind::Client, c, {&c.no_ptr, &c.mismatch}, r.ptr_failed);
    case checks::ClientOutcome::Pass: case checks::ClientOutcome::Skip: return std::nullopt;
    }
    return std::nullopt;
}

// Postfix 3.7 words a malformed address literal "invalid ip address", not "Invalid name".
constexpr std::string_view preset_invalid_text = "501 5.5.2 Invalid name";
constexpr std::string_view preset_invalid_literal_text = "501 5.5.2 invalid ip address";

std::optional<Rule> rule_for(const config::Config& config, const checks::HeloResult& r) {
    const auto& c = config.helo;
    switch (r.outcome) {
    case checks::HeloOutcome::Invalid: {
        Rule rule{"helo.invalid", c.invalid};
        if (config.preset_postfix && r.bad_literal && rule.action.text == preset_invalid_text) {
            rule.action.text = preset_invalid_literal_text;
        }
        return rule;
    }
    case checks::HeloOutcome::NonFqdn: return Rule{"helo.non_fqdn", c.non_fqdn};
    case checks::HeloOutcome::NotFound: return Rule{"helo.not_found", c.not_found};
    case checks::HeloOutcome::Forged: return Rule{"helo.forged", c.forged};
    case checks::HeloOutcome::TempFail:
        return tempfail_rule(config, CheckKind::Helo, c, {&c.invalid, &c.non_fqdn, &c.not_found, &c.forged}, false);
    case checks::HeloOutcome::Pass: case checks::HeloOutcome::Skip: return std::nullopt;
    }
    return std::nullopt;
}

std::optional<Rule> rule_for(const config::Config& config, const checks::SenderResult& r) {
    const auto& c = config.sender;
    switch (r.outcome) {
    case checks::SenderOutcome::NotFound: return Rule{"sender.not_found", c.not_found};
    case checks::SenderOutcome::NullMx: return Rule{"sender.null_mx", c.null_mx};
    case checks::SenderOutcome::Forged: return Rule{"sender.forged", c.forged};
    case checks::SenderOutcome::TempFail:
        return tempfail_rule(config, CheckKind::Sender, c, {&c.not_found, &c.null_mx, &c.forged}, false);
    case checks::SenderOutcome::Pass: case checks::SenderOutcome::Skip: return std::nullopt;
    }
    return std::nullopt;
}

const config::CheckCommon& section_of(const config::Config& config, CheckKind kind) {
    switch (kind) {
    case CheckKind::Client: return config.client;
    case CheckKind::Helo: return config.helo;
    case CheckKind::Sender: return config.sender;
    }
    return config.client;
}

std::string exempt_reason(const config::CheckCommon& section, const policy::Request& request, bool loopback,
                          const std::string& allowlist_reason) {
    if (loopback) return "loopback client";
    if (section.exempt_authenticated) {
        if (!at_or_after_mail(request.state())) return "exempt_authenticated: waits for MAIL";
        if (!request.sasl_username.empty()) return "authenticated as " + log::sanitize(request.sasl_username);
    }
    if (section.exempt_allowlisted && !allowlist_reason.empty()) return allowlist_reason;
    return {};
}

std::string shown_or(std::string_view value, std::string_view fallback) {
    return value.empty() ? std::string(fallback) : log::sanitize(value);
}

void append_shown_or(std::string& out, std::string_view value, std::string_view fallback) {
    if (value.empty()) out += fallback;
    else log::append_sanitized(out, value);
}

template <class Outcome>
constexpr bool passed(Outcome o) noexcept { return o == Outcome::Pass || o == Outcome::Skip; }

template <class Result>
void fill(CheckVerdict& v, const config::Config& config, const Result& r, Placeholders& values, bool details) {
    v.evaluated = true;
    v.outcome = std::string(checks::to_string(r.outcome));
    v.failed = !passed(r.outcome);
    if (details || v.failed) v.detail = log::sanitize(r.detail);
    if (const auto rule = rule_for(config, r)) {
        values.check = std::string(checks::to_string(v.kind));
        values.outcome = v.outcome;
        values.detail = v.detail;
        v.rule = rule->name;
        v.action = log::sanitize(expand(rule->action.text, values), max_action_length);
        v.severity = rule->action.severity;
    }
}

}  // namespace

bool at_or_after_mail(policy::ProtocolState state) noexcept {
    switch (state) {
    case policy::ProtocolState::Mail: case policy::ProtocolState::Rcpt: case policy::ProtocolState::Data:
    case policy::ProtocolState::EndOfMessage:
        return true;
    case policy::ProtocolState::Unknown: case policy::ProtocolState::Connect: case policy::ProtocolState::Ehlo:
    case policy::ProtocolState::Helo: case policy::ProtocolState::Vrfy: case policy::ProtocolState::Etrn:
        return false;
    }
    return false;
}

std::array<bool, checks::check_count> checks_in_context(std::string_view policy_context) {
    std::array<bool, checks::check_count> named{};
    bool any = false;
    std::size_t start = 0;
    while (start <= policy_context.size()) {
        auto end = policy_context.find(',', start);
        if (end == std::string_view::npos) end = policy_context.size();
        auto word = policy_context.substr(start, end - start);
        while (!word.empty() && (word.front() == ' ' || word.front() == '\t')) word.remove_prefix(1);
        while (!word.empty() && (word.back() == ' ' || word.back() == '\t')) word.remove_suffix(1);
        if (word.empty()) {
            start = end + 1;
            continue;
        }
        bool known = false;
        for (std::size_t k = 0; k < checks::check_count; ++k) {
            if (checks::equal_names(word, checks::to_string(static_cast<CheckKind>(k)))) {
                named[k] = known = any = true;
            }
        }
        if (!known) return {true, true, true};   // not (only) our words: a context for someone else
        start = end + 1;
    }
    return any ? named : std::array<bool, checks::check_count>{true, true, true};
}

std::string expand(std::string_view text, const Placeholders& values) {
    const std::pair<std::string_view, const std::string*> table[] = {
        {"client_address", &values.client_address}, {"client_name", &values.client_name},
        {"ptr_names", &values.ptr_names},           {"helo_name", &values.helo_name},
        {"sender", &values.sender},                 {"sender_domain", &values.sender_domain},
        {"recipient", &values.recipient},           {"queue_id", &values.queue_id},
        {"check", &values.check},                   {"outcome", &values.outcome},
        {"detail", &values.detail},
    };
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        const auto open = text.find('{', i);
        if (open == std::string_view::npos) break;
        const auto close = text.find('}', open + 1);
        if (close == std::string_view::npos) break;
        const auto name = text.substr(open + 1, close - open - 1);
        const auto known = std::find_if(std::begin(table), std::end(table), [name](const auto& e) { return e.first == name; });
        out.append(text.substr(i, open - i));
        if (known != std::end(table)) {
            out += *known->second;
            i = close + 1;
        } else {
            out += '{';   // not a placeholder: keep it, look again after the brace
            i = open + 1;
        }
    }
    out.append(text.substr(std::min(i, text.size())));
    return out;
}

bool name_matches(std::string_view pattern, std::string_view name) {
    const auto p = checks::to_lower(checks::strip_trailing_dot(pattern));
    const auto n = checks::to_lower(checks::strip_trailing_dot(name));
    if (p.empty() || n.empty()) return false;
    if (p.front() == '.') return n.size() > p.size() && n.compare(n.size() - p.size(), p.size(), p) == 0;
    return n == p;
}

bool sender_matches(std::string_view pattern, std::string_view sender) {
    if (pattern.empty() || sender.empty()) return false;
    const auto at = sender.rfind('@');
    const auto domain = at == std::string_view::npos ? std::string_view{} : sender.substr(at + 1);
    if (pattern.front() == '@') return !domain.empty() && name_matches(pattern.substr(1), domain);
    if (pattern.front() == '.') return !domain.empty() && name_matches(pattern, domain);
    return checks::equal_names(pattern, sender);
}

std::string allowlisted(const config::AllowlistConfig& allowlist, const policy::Request& request,
                        const std::vector<std::string>& confirmed_names) {
    if (allowlist.clients.empty() && allowlist.client_names.empty() && allowlist.helo_names.empty() &&
        allowlist.senders.empty()) {
        return {};
    }
    if (const auto ip = request.client_ip()) {
        for (const auto& cidr : allowlist.clients) {
            if (cidr.contains(*ip)) return "allowlisted client " + cidr.to_string();
        }
    }
    for (const auto& pattern : allowlist.client_names) {
        for (const auto& name : confirmed_names) {
            if (name_matches(pattern, name)) return "allowlisted client name " + log::sanitize(name);
        }
    }
    if (!request.helo_name.empty()) {
        for (const auto& pattern : allowlist.helo_names) {
            if (name_matches(pattern, request.helo_name)) return "allowlisted HELO name " + log::sanitize(request.helo_name);
        }
    }
    for (const auto& pattern : allowlist.senders) {
        if (sender_matches(pattern, request.sender)) return "allowlisted sender " + log::sanitize(request.sender);
    }
    return {};
}

Verdict decide(const config::Config& config, const policy::Request& request, const CheckResults& results,
               bool header_already_sent) {
    const CheckResultRefs refs{results.client ? &*results.client : nullptr, results.helo ? &*results.helo : nullptr,
                               results.sender ? &*results.sender : nullptr};
    return decide(config, request, refs, header_already_sent);
}

Verdict decide(const config::Config& config, const policy::Request& request, const CheckResultRefs& results,
               bool header_already_sent) {
    Verdict verdict;
    for (std::size_t i = 0; i < checks::check_count; ++i) verdict.checks[i].kind = static_cast<CheckKind>(i);

    const std::vector<std::string> no_names;
    const auto& confirmed = results.client ? results.client->confirmed_names : no_names;
    // Only an action's placeholders use these: nothing to prepare when every check passed
    // or skipped (a rule fires only for another outcome), as most requests do.
    const bool some_rule = (results.client && !passed(results.client->outcome)) ||
                           (results.helo && !passed(results.helo->outcome)) ||
                           (results.sender && !passed(results.sender->outcome));
    Placeholders values;
    if (some_rule) {
        values.client_address = log::sanitize(request.client_address);
        values.client_name = confirmed.empty() ? "unknown" : log::sanitize(confirmed.front());
        if (results.client) {
            std::string names;
            for (std::size_t i = 0; i < results.client->ptr_names.size(); ++i) {
                if (i != 0) names += ',';
                names += results.client->ptr_names[i];
            }
            values.ptr_names = log::sanitize(names);
        }
        values.helo_name = log::sanitize(request.helo_name);
        values.sender = log::sanitize(request.sender);
        values.sender_domain = log::sanitize(request.sender_domain());
        values.recipient = log::sanitize(request.recipient);
        values.queue_id = shown_or(request.queue_id, "NOQUEUE");
    }

    auto& client_v = verdict.checks[static_cast<std::size_t>(CheckKind::Client)];
    auto& helo_v = verdict.checks[static_cast<std::size_t>(CheckKind::Helo)];
    auto& sender_v = verdict.checks[static_cast<std::size_t>(CheckKind::Sender)];
    if (results.client) fill(client_v, config, *results.client, values, results.details);
    if (results.helo) fill(helo_v, config, *results.helo, values, results.details);
    if (results.sender) fill(sender_v, config, *results.sender, values, results.details);

    const auto ip = request.client_ip();
    const bool loopback = ip && ip->is_loopback();
    const auto allow_reason = allowlisted(config.allowlist, request, confirmed);
    for (auto& v : verdict.checks) {
        if (v.evaluated) v.exempt = exempt_reason(section_of(config, v.kind), request, loopback, allow_reason);
    }

    const auto in_context = checks_in_context(request.policy_context);
    for (std::size_t k = 0; k < checks::check_count; ++k) verdict.checks[k].in_context = in_context[k];

    const CheckVerdict* winner = nullptr;
    for (const auto& v : verdict.checks) {
        if (!v.evaluated || !v.exempt.empty() || !v.in_context || v.severity == Severity::Dunno) continue;
        if (winner == nullptr || v.severity > winner->severity) winner = &v;
    }
    const auto counts_as_failed = [](const CheckVerdict& v) { return v.evaluated && v.failed && v.exempt.empty(); };
    const auto state = request.state();
    const bool header_state = state == policy::ProtocolState::Mail || state == policy::ProtocolState::Rcpt ||
                              state == policy::ProtocolState::Data;

    if (winner != nullptr) {
        verdict.action = winner->action;
        verdict.rule = winner->rule;
        verdict.logged_check = winner->kind;
    } else if (config.headers.warning && header_state && !header_already_sent &&
               std::any_of(verdict.checks.begin(), verdict.checks.end(), counts_as_failed)) {
        std::string value;
        for (const auto& v : verdict.checks) {
            if (!v.evaluated) continue;
            if (!value.empty()) value += ' ';
            value += std::string(checks::to_string(v.kind)) + "=" + v.outcome;
            if (!v.exempt.empty()) value += "(exempt)";
        }
        verdict.action = log::sanitize("PREPEND " + config.headers.name + ": " + value, max_action_length);
        verdict.rule = "headers.warning";
        verdict.header = true;
    }
    if (!verdict.logged_check) {
        for (const auto& v : verdict.checks) {
            if (v.evaluated && v.outcome == "tempfail") {
                verdict.logged_check = v.kind;
                break;
            }
        }
    }
    if (!verdict.logged_check) {
        for (const auto& v : verdict.checks) {
            if (v.evaluated && v.failed) {
                verdict.logged_check = v.kind;
                break;
            }
        }
    }

    std::string_view check = "-", outcome = "-";
    if (verdict.logged_check) {
        const auto& v = verdict.checks[static_cast<std::size_t>(*verdict.logged_check)];
        check = checks::to_string(v.kind);
        outcome = v.outcome;
    }
    // Built in place from the request, each value sanitised on the way in: one
    // allocation, no temporaries.
    auto& line = verdict.log_line;
    line.reserve(128 + request.queue_id.size() + verdict.action.size() +
                 (confirmed.empty() ? 0 : confirmed.front().size()) + request.client_address.size() +
                 request.helo_name.size() + request.sender.size() + request.recipient.size() +
                 request.protocol_state.size());
    append_shown_or(line, request.queue_id, "NOQUEUE");
    line += ": action=";
    line += verdict.action;
    line += " check=";
    line += check;
    line += " outcome=";
    line += outcome;
    line += " client=";
    if (confirmed.empty()) line += "unknown";
    else log::append_sanitized(line, confirmed.front());
    line += '[';
    append_shown_or(line, request.client_address, "unknown");
    line += "] helo=<";
    log::append_sanitized(line, request.helo_name);
    line += "> sender=<";
    log::append_sanitized(line, request.sender);
    line += "> recipient=<";
    log::append_sanitized(line, request.recipient);
    line += "> state=";
    append_shown_or(line, request.protocol_state, "UNKNOWN");
    return verdict;
}

}  // namespace rpd::rules
