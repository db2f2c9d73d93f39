# configs.py -- the reverse-policyd configs the suites run, and what Postfix must answer
# under each of them.
#
# A config is a TOML text for the daemon plus the same rule table in Python, taken from
# SPEC.md sections 2-4. From a case's check outcomes (cases.py) the Python side works
# out each check's action, and then the reply Postfix gives when the daemon is asked
# from smtpd_client_restrictions, smtpd_helo_restrictions and smtpd_sender_restrictions
# in that order (all at RCPT, smtpd_delay_reject = yes): the first reject or defer wins,
# a DEFER_IF_PERMIT waits until nothing else rejects. The stand-in policy server
# (stub_policy.py) answers from the same tables, so a run against it checks this model
# of Postfix; a run against the daemon checks the daemon.
#
# With policy_context=client|helo|sender (set per restriction list by
# world.daemon_smtpd) the daemon answers with that check's action only, so Postfix
# names the right list.

import os
import re
import tomllib
from dataclasses import dataclass

import cases

OK = cases.OK

# SPEC section 2: tempfail = "auto" answers this when another outcome of the check
# rejects or defers, <what> spelled as the daemon does (lib/rules/decision.cpp).
TEMPFAIL_AUTO = "DEFER_IF_PERMIT 4.4.3 temporary DNS failure looking up {what}, try again later"
WHAT = {"client": "reverse name of {client_address}", "helo": "HELO name {helo_name}",
        "sender": "sender domain {sender_domain}"}

CHECKS = ("client", "helo", "sender")


@dataclass(frozen=True)
class Config:
    name: str
    toml: str                  # the daemon's config, less [server] [dns] [log]
    rules: dict                # check -> outcome -> action template ("auto" for tempfail)
    exempt_authenticated: frozenset = frozenset({"sender"})   # SPEC defaults
    warning: bool = True       # [headers] warning

    def action(self, check, outcome, detail="", authenticated=False):
        """The action template for one outcome, tempfail "auto" resolved (SPEC section 2)."""
        r = self.rules[check]
        if outcome in ("pass", "skip"):
            return "DUNNO"
        if authenticated and check in self.exempt_authenticated:
            return "DUNNO"
        if outcome == "tempfail" and detail == "forged" and \
                not rejects_or_defers(r.get("forged", "DUNNO")):
            # Only the forged comparison is unknown (an MX host did not resolve for now);
            # the domain itself exists. Nothing hangs on it unless forged is punitive.
            return "DUNNO"
        if outcome == "tempfail" and detail and f"tempfail:{detail}" in r:
            return r[f"tempfail:{detail}"]
        if outcome == "invalid" and detail and f"invalid:{detail}" in r:
            return r[f"invalid:{detail}"]
        a = r.get(outcome, "DUNNO")
        if a == "auto":
            others = [v for k, v in r.items() if not k.startswith("tempfail")]
            return TEMPFAIL_AUTO if any(rejects_or_defers(v) for v in others) else "DUNNO"
        return a


def rejects_or_defers(action):
    word = action.split(" ", 1)[0].upper()
    return bool(re.fullmatch(r"[45]\d\d", word)) or word in (
        "REJECT", "DEFER", "DEFER_IF_PERMIT", "DEFER_IF_REJECT")


def toml_text(top, sections):
    out = [f"{k} = \"{v}\"" for k, v in top.items()]
    for name, keys in sections.items():
        out.append(f"\n[{name}]")
        for k, v in keys.items():
            out.append(f"{k} = {toml_value(v)}")
    return "\n".join(out) + "\n"


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- preset = "postfix" (SPEC section 2 table) -----------------------------------------
PRESET_RULES = {
    "client": {
        "no_ptr": "450 4.7.1 cannot find your reverse hostname, [{client_address}]",
        "mismatch": "450 4.7.25 cannot find your hostname, [{client_address}]",
        "tempfail:ptr":
            "DEFER_IF_PERMIT 4.7.1 cannot find your reverse hostname, [{client_address}]",
        "tempfail:forward": "DEFER_IF_PERMIT 4.7.25 cannot find your hostname, [{client_address}]",
    },
    "helo": {
        "invalid": "501 5.5.2 Invalid name",
        "invalid:literal": "501 5.5.2 invalid ip address",
        "non_fqdn": "504 5.5.2 need fully-qualified hostname",
        "not_found": "450 4.7.1 Host not found",
        "tempfail": "DEFER_IF_PERMIT 4.7.1 Host not found",
        "forged": "DUNNO",
    },
    "sender": {
        "not_found": "450 4.1.8 Domain not found",
        "null_mx": "550 5.7.27 Domain {sender_domain} does not accept mail (nullMX)",
        "tempfail": "DEFER_IF_PERMIT 4.1.8 Domain not found",
        "forged": "DUNNO",
    },
}
# The preset: "headers.warning = false and no exemptions".
PRESET = Config("preset", toml_text({"preset": "postfix"}, {}), PRESET_RULES,
                exempt_authenticated=frozenset(), warning=False)

# --- the defaults (SPEC section 2) ------------------------------------------------------
DEFAULT_RULES = {
    "client": {"no_ptr": "DUNNO", "mismatch": "DUNNO", "tempfail": "auto"},
    "helo": {"invalid": "DUNNO", "non_fqdn": "DUNNO", "not_found": "DUNNO", "forged": "DUNNO",
             "tempfail": "auto"},
    "sender": {"not_found": "451 4.1.8 Sender domain {sender_domain} not found",
               "null_mx": "DUNNO", "forged": "DUNNO", "tempfail": "auto"},
}
DEFAULT = Config("default", "", DEFAULT_RULES)

# --- strict: etc/examples/strict.toml as shipped; the driver adds [server] [dns] [log].
# Its rule table is the file's actions over the defaults (tempfail "auto" everywhere).
STRICT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "etc",
                           "examples", "strict.toml")


def config_from_file(name, path):
    with open(path) as f:
        text = f.read()
    parsed = tomllib.loads(text)
    rules = {check: {**DEFAULT_RULES[check],
                     **{k: v for k, v in parsed.get(check, {}).items() if isinstance(v, str)}}
             for check in CHECKS}
    exempt = frozenset(c for c in CHECKS if parsed.get(c, {}).get(
        "exempt_authenticated", c in DEFAULT.exempt_authenticated))
    warning = parsed.get("headers", {}).get("warning", True)
    return Config(name, text, rules, exempt_authenticated=exempt, warning=warning)


STRICT = config_from_file("strict", STRICT_PATH)

CONFIGS = {c.name: c for c in (PRESET, DEFAULT, STRICT)}


# --------------------------------------------------------------------------------------
# What Postfix makes of an action (smtpd_check.c check_table_result, for a policy answer)
# --------------------------------------------------------------------------------------

def fill(template, case):
    """The placeholders a case determines, filled in."""
    sender_domain = case.sender.split("@", 1)[1] if "@" in case.sender else ""
    values = {"client_address": case.client, "helo_name": case.helo, "sender": case.sender,
              "sender_domain": sender_domain}
    if "{ptr_names}" in template:
        values["ptr_names"] = cases.PTR_NAMES[case.client]
    out = template
    for k, v in values.items():
        out = out.replace("{" + k + "}", v)
    return out


def list_prefix(check, case):
    """Postfix's "<name>: Class rejected: " for the restriction list of check."""
    if check == "client":
        # A client that failed the check has no verified name: Postfix says "unknown".
        return f"<unknown[{case.client}]>: Client host rejected: "
    if check == "helo":
        return f"<{case.helo}>: Helo command rejected: "
    return f"<{case.sender}>: Sender address rejected: "


@dataclass(frozen=True)
class Expect:
    shown: str                 # for tables and messages
    pattern: str               # full-match regex

    def matches(self, got):
        return re.fullmatch(self.pattern, got) is not None


def exact(text):
    return Expect(text, re.escape(text))


def postfix_reply(action, prefix):
    """(kind, code, dsn, text) Postfix answers for a policy action, or None to go on.

    kind: "reject" (answer now) or "defer_if_permit" (answer if nothing else rejects).
    """
    word, _, rest = action.partition(" ")
    w = word.upper()
    m = re.match(r"(\d\.\d{1,3}\.\d{1,3}) (.*)$", rest)
    dsn, text = (m.group(1), m.group(2)) if m else ("", rest)
    if re.fullmatch(r"[45]\d\d", w):
        return ("reject", w, dsn or f"{w[0]}.7.1", prefix + text)
    if w == "REJECT":
        return ("reject", "554", dsn or "5.7.1", prefix + (text or "Access denied"))
    if w == "DEFER":
        return ("reject", "450", dsn or "4.7.1", prefix + (text or "Service unavailable"))
    if w == "DEFER_IF_PERMIT":
        return ("defer_if_permit", "450", dsn or "4.7.1", prefix + (text or "Service unavailable"))
    return None


def expected_reply(config, case, authenticated=False):
    """The RCPT reply Postfix gives for case when the daemon runs config."""
    deferred = None
    for check in CHECKS:
        outcome, detail = outcome_of(case, check)
        action = config.action(check, outcome, detail, authenticated)
        r = postfix_reply(action, list_prefix(check, case))
        if r is None:
            continue
        kind, code, dsn, text = r
        e = exact(f"RCPT {code} {dsn} {fill(text.replace('{what}', WHAT[check]), case)}")
        if kind == "reject":
            return e
        if deferred is None:
            deferred = e
    return deferred or exact(OK)


def outcome_of(case, check):
    """(outcome, detail) of check for case; detail picks a preset text variant."""
    raw = {"client": case.want_client, "helo": case.want_helo, "sender": case.want_sender}[check]
    outcome, _, detail = raw.partition(":")
    return outcome, detail


def stub_action(config, case, check, authenticated=False):
    """The action the stand-in policy server answers for check (placeholders filled)."""
    outcome, detail = outcome_of(case, check)
    action = config.action(check, outcome, detail, authenticated)
    return fill(action.replace("{what}", WHAT[check]), case)


def any_check_failed(case):
    return any(outcome_of(case, c)[0] not in ("pass", "skip") for c in CHECKS)


# --------------------------------------------------------------------------------------
# preset against the oracle
# --------------------------------------------------------------------------------------

_CLIENT_PREFIX = re.compile(
    r"^(RCPT \d{3} \d\.\d{1,3}\.\d{1,3} )<[^<>]*\[([^\]]+)\]>: (Client host rejected: .*)$")


def compare_with_oracle(case, oracle_got, ours):
    """(same, note): whether our reply is the oracle's, up to SPEC's deliberate differences."""
    if case.differs is not None:
        return ours == case.differs.ours, case.differs.why
    if ours == oracle_got:
        return True, ""
    m = _CLIENT_PREFIX.match(ours)
    if m and m.group(2) == case.client and m.group(1) + m.group(3) == oracle_got:
        return True, "client prefix <name[addr]>: (SPEC section 2)"
    return False, ""
