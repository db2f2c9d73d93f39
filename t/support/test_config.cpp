#include "support/test_config.hpp"

#include <stdexcept>
#include <string>

namespace rpd::test {

using rules::ActionKind;
using rules::Severity;

rules::Action act(std::string_view text) {
    rules::Action a;
    a.text = std::string(text);
    const auto word = text.substr(0, text.find(' '));
    struct Word { std::string_view word; ActionKind kind; Severity severity; };
    static constexpr Word words[] = {
        {"OK", ActionKind::Ok, Severity::Ok},
        {"DUNNO", ActionKind::Dunno, Severity::Dunno},
        {"REJECT", ActionKind::Reject, Severity::Reject},
        {"DEFER", ActionKind::Defer, Severity::Defer},
        {"DEFER_IF_PERMIT", ActionKind::DeferIfPermit, Severity::DeferIfPermit},
        {"DEFER_IF_REJECT", ActionKind::DeferIfReject, Severity::DeferIfReject},
        {"WARN", ActionKind::Warn, Severity::Warn},
        {"PREPEND", ActionKind::Prepend, Severity::Prepend},
        {"HOLD", ActionKind::Hold, Severity::Divert},
        {"DISCARD", ActionKind::Discard, Severity::Divert},
        {"FILTER", ActionKind::Filter, Severity::Divert},
        {"REDIRECT", ActionKind::Redirect, Severity::Divert},
        {"INFO", ActionKind::Info, Severity::Info},
    };
    for (const auto& w : words) {
        if (w.word == word) {
            a.kind = w.kind;
            a.severity = w.severity;
            return a;
        }
    }
    if (word.size() == 3 && (word[0] == '4' || word[0] == '5')) {
        a.kind = ActionKind::Code;
        a.code = std::stoi(std::string(word));
        a.severity = word[0] == '5' ? Severity::Reject : Severity::Defer;
        return a;
    }
    throw std::invalid_argument("test act(): unknown action " + std::string(text));
}

config::Config default_config() {
    config::Config c{};
    c.path = "test.toml";
    c.dns.max_ptr_names = 10;
    c.dns.max_mx_hosts = 10;
    c.headers.warning = true;
    c.headers.name = "X-Reverse-Lookup";
    c.client.no_ptr = act("DUNNO");
    c.client.mismatch = act("DUNNO");
    c.helo.invalid = act("DUNNO");
    c.helo.non_fqdn = act("DUNNO");
    c.helo.not_found = act("DUNNO");
    c.helo.forged = act("DUNNO");
    c.sender.not_found = act("451 4.1.8 Sender domain {sender_domain} not found");
    c.sender.null_mx = act("DUNNO");
    c.sender.forged = act("DUNNO");
    c.sender.exempt_authenticated = true;
    c.sender.exempt_allowlisted = true;
    return c;
}

config::Config quiet_config() {
    auto c = default_config();
    c.headers.warning = false;
    c.sender.not_found = act("DUNNO");
    c.sender.exempt_authenticated = false;
    c.sender.exempt_allowlisted = false;
    return c;
}

config::Config postfix_config() {
    auto c = default_config();
    c.preset_postfix = true;
    c.headers.warning = false;
    c.client.no_ptr = act("450 4.7.1 cannot find your reverse hostname, [{client_address}]");
    c.client.mismatch = act("450 4.7.25 cannot find your hostname, [{client_address}]");
    c.helo.invalid = act("501 5.5.2 Invalid name");
    c.helo.non_fqdn = act("504 5.5.2 need fully-qualified hostname");
    c.helo.not_found = act("450 4.7.1 Host not found");
    c.helo.tempfail = act("DEFER_IF_PERMIT 4.7.1 Host not found");
    c.sender.not_found = act("450 4.1.8 Domain not found");
    c.sender.null_mx = act("550 5.7.27 Domain {sender_domain} does not accept mail (nullMX)");
    c.sender.tempfail = act("DEFER_IF_PERMIT 4.1.8 Domain not found");
    c.sender.exempt_authenticated = false;
    c.sender.exempt_allowlisted = false;
    return c;
}

}  // namespace rpd::test
