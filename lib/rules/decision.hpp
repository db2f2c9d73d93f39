// lib/rules/decision.hpp -- outcomes -> one action, as SPEC §4 says. Pure: no I/O, no DNS.
//
// In: the Config, the Request and the results of the checks evaluated for it (a check
// not evaluated at this protocol_state is nullopt). Out: a Verdict -- the reply (one
// line, sanitised), the rule that fired, the decision log line of SPEC §5 without
// " delay=...", and per check what it asked for and why it was or was not heeded.
//
// The rules:
// - Each outcome maps to its check's action ([client] no_ptr, ...); pass and skip map to
//   nothing. tempfail: the configured action; a permanent one (5NN/REJECT, refused by the
//   config check) is never used: it becomes the "auto" defer. "auto" (unset): when any
//   other outcome of that check has an action that rejects or defers,
//   "DEFER_IF_PERMIT 4.4.3 temporary DNS failure looking up <what>, try again later"
//   with <what> = "reverse name of ADDR" / "HELO name NAME" / "sender domain DOMAIN";
//   otherwise nothing (the tempfail is logged and noted in the header). With
//   preset = "postfix" and the client's tempfail unset: DEFER_IF_PERMIT with the
//   no_ptr text when the PTR lookup failed, else the mismatch text (code dropped,
//   enhanced code kept); and helo.invalid's "501 5.5.2 Invalid name" reads
//   "501 5.5.2 invalid ip address" for a malformed address literal (as Postfix).
// - Exempt checks contribute nothing: their action counts as DUNNO (whatever it is),
//   and their failure does not trigger the warning header. Exempt are: every check for
//   a loopback client (127/8, ::1); a check with exempt_authenticated before MAIL state
//   (its punitive actions wait until sasl_username is known) and, from MAIL on, when
//   sasl_username is not empty; a check with exempt_allowlisted when the transaction
//   is allowlisted: [allowlist] clients (CIDR), client_names (against forward-confirmed
//   names), helo_names, senders -- any one list matching allowlists the transaction.
//   Names: "host.example" exact or ".example" for names below it (not itself), case-
//   insensitive, trailing dot ignored. Senders: "user@example.org", "@example.org" (that
//   domain), ".example.org" (its subdomains).
// - policy_context (Postfix >= 3.1, `check_policy_service { ..., policy_context=helo }`):
//   with smtpd_delay_reject=yes every restriction list that names the daemon asks at
//   RCPT with the same attributes; policy_context says which list asks. When it is
//   "client", "helo" or "sender", or a comma-separated list of them, only those checks'
//   actions count for that request (the others are still evaluated, shown and logged);
//   any other value, or none, and every check counts.
// - The answer is the most severe remaining action (rules::Severity; a tie goes to the
//   first of client, helo, sender). Placeholders are expanded with sanitised values.
// - Warning header: when the answer would be DUNNO, some non-exempt check failed (any
//   outcome but pass/skip), headers.warning is on, the state is MAIL, RCPT or DATA and
//   no header was sent for this instance yet, the answer is
//   "PREPEND <headers.name>: client=no_ptr helo=pass sender=tempfail" -- each evaluated
//   check as check=outcome, an exempt one as check=outcome(exempt). A configured
//   non-DUNNO action (WARN, HOLD, PREPEND, ...) is never replaced by the header.
// - The log line names the check whose action won; when none won, the first
//   evaluated check that ended in tempfail, else the first that failed, else "-".
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "checks/outcome.hpp"
#include "config/config.hpp"
#include "policy/request.hpp"
#include "rules/action.hpp"

namespace rpd::rules {

struct CheckResults {
    std::optional<checks::ClientResult> client;
    std::optional<checks::HeloResult> helo;
    std::optional<checks::SenderResult> sender;
};

struct CheckVerdict {
    checks::CheckKind kind = checks::CheckKind::Client;
    bool evaluated = false;
    std::string outcome = "-";
    bool failed = false;          // evaluated and neither pass nor skip
    std::string detail;
    std::string rule;             // "client.no_ptr", "helo.tempfail (auto)"; "" for pass/skip
    std::string action = "DUNNO"; // what the rule asks for, expanded and sanitised
    Severity severity = Severity::Dunno;
    std::string exempt;           // why it contributes nothing; "" = it counts
    bool in_context = true;       // false: policy_context names other checks; its action is not used
};

struct Verdict {
    std::array<CheckVerdict, checks::check_count> checks;
    std::string action = "DUNNO";   // the reply: one line, sanitised
    std::string rule = "-";         // the rule that fired; "headers.warning"; "-" for none
    std::optional<checks::CheckKind> logged_check;
    bool header = false;            // the reply is the warning header
    std::string log_line;           // SPEC §5, without " delay=..."
};

// The same, pointing at results kept elsewhere (the engine's shared checks): nothing copied.
struct CheckResultRefs {
    const checks::ClientResult* client = nullptr;
    const checks::HeloResult* helo = nullptr;
    const checks::SenderResult* sender = nullptr;
    bool details = true;   // false: CheckVerdict::detail only for checks that failed (no explanation wanted)
};

Verdict decide(const config::Config& config, const policy::Request& request, const CheckResultRefs& results,
               bool header_already_sent);
Verdict decide(const config::Config& config, const policy::Request& request, const CheckResults& results,
               bool header_already_sent);

// The values placeholders expand to, already sanitised.
struct Placeholders {
    std::string client_address, client_name, ptr_names, helo_name, sender, sender_domain, recipient, queue_id;
    std::string check, outcome, detail;
};
// Replaces each known {name}; anything else stays as written.
std::string expand(std::string_view text, const Placeholders& values);

bool name_matches(std::string_view pattern, std::string_view name);
bool sender_matches(std::string_view pattern, std::string_view sender);
// Why the transaction is allowlisted ("allowlisted client 192.0.2.0/24"), or "".
std::string allowlisted(const config::AllowlistConfig& allowlist, const policy::Request& request,
                        const std::vector<std::string>& confirmed_names);

// The checks whose actions count for a request with this policy_context (SPEC: "when
// called from the matching restriction list"): all of them unless it names only checks.
std::array<bool, checks::check_count> checks_in_context(std::string_view policy_context);

// The states from which sasl_username is final (MAIL, RCPT, DATA, END-OF-MESSAGE).
bool at_or_after_mail(policy::ProtocolState state) noexcept;

}  // namespace rpd::rules
