# actions.py -- what Postfix does with particular answers (issue 5, "checks that ..."):
#
#   521 and 421 close the SMTP session; another 4NN does not;
#   DEFER_IF_PERMIT defers only when nothing else rejects;
#   the warning header appears exactly once in each delivered copy of a message
#   with two recipients, and not at all when every check passes;
#   an authenticated session (XCLIENT LOGIN=) is exempt where configured;
#   for a rejected and a deferred message (NOQUEUE) and a queued one (queue id),
#   grep finds Postfix's line and reverse-policyd's decision line.
#
# The same scenarios run against the daemon or the stand-in (stub_policy.py); the
# daemon's own log lines are checked only against the daemon.

import re
import time
from dataclasses import dataclass

import cases
import configs
import smtp
import world
from cases import Case

ACTIONS_SECTIONS = {
    "client": {"no_ptr": "521 5.7.1 no reverse DNS for {client_address}",
               "mismatch": "DEFER_IF_PERMIT 4.7.25 reverse DNS of {client_address} "
                           "does not confirm",
               "exempt_authenticated": True},
    "helo": {"not_found": "421 4.7.1 HELO name {helo_name} not found"},
    "sender": {"not_found": "550 5.1.8 sender domain {sender_domain} not found"},
    "headers": {"warning": True},
}
ACTIONS = configs.Config(
    "actions", configs.toml_text({}, ACTIONS_SECTIONS),
    {"client": {"no_ptr": ACTIONS_SECTIONS["client"]["no_ptr"],
                "mismatch": ACTIONS_SECTIONS["client"]["mismatch"], "tempfail": "auto"},
     "helo": {"not_found": ACTIONS_SECTIONS["helo"]["not_found"], "tempfail": "auto"},
     "sender": {"not_found": ACTIONS_SECTIONS["sender"]["not_found"], "null_mx": "DUNNO",
                "forged": "DUNNO", "tempfail": "auto"}},
    exempt_authenticated=frozenset({"client", "sender"}), warning=True)


@dataclass(frozen=True)
class Scenario:
    case: Case
    rcpts: tuple = (cases.RCPT,)
    xclient: str = ""          # sent from 127.0.0.1 (smtpd_authorized_xclient_hosts)
    authenticated: bool = False
    deliver: bool = False      # send a message (DATA), not only up to RCPT


def scenario_case(id, what, client, helo, sender, c, h, s):
    return Case(id, what, client, helo, sender, c, h, s, oracle="")


SCENARIOS = {
    "close-521": Scenario(scenario_case("close-521", "521 from the client list closes",
                                        "192.0.2.20", "[192.0.2.20]", "<>",
                                        "no_ptr", "pass", "skip")),
    "close-421": Scenario(scenario_case("close-421", "421 from the HELO list closes",
                                        "192.0.2.10", "nonexistent.example.test", "<>",
                                        "pass", "not_found", "skip")),
    "dip-alone": Scenario(scenario_case("dip-alone", "DEFER_IF_PERMIT and nothing rejects",
                                        "192.0.2.22", "[192.0.2.22]", "<>",
                                        "mismatch", "pass", "skip")),
    "dip-then-reject": Scenario(scenario_case(
        "dip-then-reject", "DEFER_IF_PERMIT, then the sender list rejects", "192.0.2.22",
        "[192.0.2.22]", "a@nonexistent.example.test", "mismatch", "pass", "not_found")),
    "header-two-rcpts": Scenario(scenario_case(
        "header-two-rcpts", "forged HELO (DUNNO): warning header, two recipients", "192.0.2.10",
        "elsewhere.example.test", "a@host.example.test", "pass", "forged", "pass"),
        rcpts=("one@sink.test", "two@sink.test"), deliver=True),
    "header-clean": Scenario(scenario_case(
        "header-clean", "every check passes: no warning header", "192.0.2.10",
        "host.example.test", "a@host.example.test", "pass", "pass", "pass"), deliver=True),
    "auth-exempt": Scenario(scenario_case(
        "auth-exempt", "XCLIENT LOGIN=: no-PTR client and unknown sender domain exempt",
        "192.0.2.20", "[192.0.2.20]", "a@nonexistent.example.test", "no_ptr", "pass", "not_found"),
        xclient="ADDR=192.0.2.20 NAME=[UNAVAILABLE] LOGIN=alice", authenticated=True),
    "auth-control": Scenario(scenario_case(
        "auth-control", "same XCLIENT without LOGIN=: not exempt", "192.0.2.20", "[192.0.2.20]",
        "a@nonexistent.example.test", "no_ptr", "pass", "not_found"),
        xclient="ADDR=192.0.2.20 NAME=[UNAVAILABLE]"),
}


def scenario_cases():
    return [s.case for s in SCENARIOS.values()]


def run_scenario(port, sc):
    c = sc.case
    body_marker = f"X-E2E-Id: {c.id}"
    if sc.xclient:
        return smtp.swaks(port, local_addr="127.0.0.1", helo=c.helo, mail_from=c.sender,
                          rcpts=sc.rcpts, xclient=sc.xclient,
                          quit_after=None if sc.deliver else "RCPT",
                          headers=[body_marker] if sc.deliver else None)
    return smtp.swaks(port, local_addr=c.client, helo=c.helo, mail_from=c.sender, rcpts=sc.rcpts,
                      quit_after=None if sc.deliver else "RCPT",
                      headers=[body_marker] if sc.deliver else None)


def delivered_copies(postfix, marker, want, timeout=15.0):
    """Contents of the delivered copies carrying marker, once `want` of them arrived."""
    def copies():
        out = []
        for p in postfix.delivered():
            try:
                with open(p, errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            if re.search(rf"^{re.escape(marker)}$", text, re.M):
                out.append(text)
        return out
    world.wait_until(lambda: len(copies()) >= want, timeout, interval=0.1)
    time.sleep(0.3)       # a third copy would be a defect too: give it a moment to show
    return copies()


def header_lines(message, name):
    head = message.split("\n\n", 1)[0]
    return re.findall(rf"^{re.escape(name)}:.*$", head, re.M | re.I)


def header_count(message, name):
    return len(header_lines(message, name))


def run(ctx, policy, port):
    """ctx: suites.Context; policy: the backend (daemon or stand-in) on `port`."""
    res = ctx.results
    check = res.check
    got = {}
    for name, sc in SCENARIOS.items():
        got[name] = run_scenario(port, sc)

    def rcpt_reply(name):
        s = got[name]
        f = s.first_failure()
        return s.outcome() if f is None else f"{f.command} {f.reply}"

    def want(name):
        sc = SCENARIOS[name]
        return configs.expected_reply(ACTIONS, sc.case, sc.authenticated)

    # --- 521 / 421 close the session; a 450 does not ------------------------------------
    for name in ("close-521", "close-421"):
        w = want(name)
        check(f"actions {name}: reply", w.matches(rcpt_reply(name)), rcpt_reply(name), w.shown)
        check(f"actions {name}: server closed the session", got[name].closed_by_server,
              f"closed_by_server={got[name].closed_by_server}\n{got[name].transcript}",
              "the connection closed after the reply")
    for name in ("dip-alone", "dip-then-reject"):
        w = want(name)
        check(f"actions {name}: reply", w.matches(rcpt_reply(name)), rcpt_reply(name), w.shown)
        check(f"actions {name}: session stays open", not got[name].closed_by_server and
              any(r.code == "221" for r in got[name].replies("QUIT")),
              got[name].transcript, "221 to QUIT")

    # --- the warning header --------------------------------------------------------------
    s = got["header-two-rcpts"]
    qid = s.queue_id()
    check("actions header-two-rcpts: both recipients accepted, message queued",
          [r.code for r in s.replies("RCPT")] == ["250", "250"] and qid is not None,
          s.outcome() + "\n" + s.transcript, "250, 250, queued as ...")
    # Wait for deliveries only when a message was queued at all.
    copies = delivered_copies(ctx.postfix, "X-E2E-Id: header-two-rcpts", 2) if qid else []
    counts = [header_count(m, "X-Reverse-Lookup") for m in copies]
    check("actions header-two-rcpts: two copies, X-Reverse-Lookup exactly once in each",
          counts == [1, 1], f"copies={len(copies)} header counts={counts}", "[1, 1]")
    # SPEC section 4: the header lists each check's outcome.
    want_header = "X-Reverse-Lookup: client=pass helo=forged sender=pass"
    lines = [l for m in copies for l in header_lines(m, "X-Reverse-Lookup")]
    check("actions header-two-rcpts: the header names each check's outcome",
          bool(lines) and all(l == want_header for l in lines), lines, want_header)
    s2 = got["header-clean"]
    copies = (delivered_copies(ctx.postfix, "X-E2E-Id: header-clean", 1)
              if s2.queue_id() else [])
    counts = [header_count(m, "X-Reverse-Lookup") for m in copies]
    check("actions header-clean: one copy, no X-Reverse-Lookup", counts == [0],
          f"copies={len(copies)} header counts={counts} ({s2.outcome()})", "[0]")

    # --- authenticated sessions ----------------------------------------------------------
    for name in ("auth-exempt", "auth-control"):
        w = want(name)
        check(f"actions {name}: reply", w.matches(rcpt_reply(name)), rcpt_reply(name) + "\n"
              + got[name].transcript, w.shown)

    # --- the log -------------------------------------------------------------------------
    time.sleep(0.5)   # postlogd writes asynchronously
    maillog = ctx.postfix.log_lines()
    plog = policy.log_lines()
    for name, addr in (("close-521", "192.0.2.20"), ("dip-alone", "192.0.2.22")):
        code = rcpt_reply(name).split(" ")[1]
        pf = [l for l in maillog if "NOQUEUE: reject: RCPT from" in l and f"[{addr}]" in l
              and f": {code} " in l]
        check(f"actions log {name}: Postfix's NOQUEUE line", len(pf) >= 1,
              "".join(maillog[-20:]), f"NOQUEUE: reject: RCPT from ...[{addr}]: {code} ...")
        if policy.kind == "daemon":
            ours = [l for l in plog if "NOQUEUE: action=" in l and addr in l]
            check(f"actions log {name}: reverse-policyd's NOQUEUE decision line", len(ours) >= 1,
                  "".join(plog[-20:]), f"NOQUEUE: action=... client=...[{addr}] ...")
    if qid:
        pf = [l for l in maillog if f" {qid}: " in l]
        check("actions log header-two-rcpts: Postfix's lines by queue id", len(pf) >= 2,
              "".join(maillog[-20:]), f"{qid}: client=..., {qid}: from=...")
        if policy.kind == "daemon":
            ours = [l for l in plog if re.search(rf"\b{qid}: action=", l)]
            check("actions log header-two-rcpts: reverse-policyd's line by queue id",
                  len(ours) >= 1, "".join(plog[-20:]), f"{qid}: action=...")
    return got
