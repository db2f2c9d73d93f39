# suites.py -- the e2e suites, run inside the test namespace (see e2e.py).
#
# Each suite builds the world it needs (test DNS, Postfix smtpd services, reverse-policyd
# instances), runs SMTP sessions with swaks, and records one result per assertion.
# Everything started here is stopped by pid in `finally`, also on SIGTERM.

import concurrent.futures
import os
import shutil
import signal
import time

import cases
import configs
import smtp
import world
from world import log


class Results:
    """Named assertions; prints each failure with got/want and a closing count line."""

    def __init__(self):
        self.passed = 0
        self.failed = []

    def check(self, name, ok, got="", want=""):
        if ok:
            self.passed += 1
        else:
            self.failed.append(name)
            log(f"FAIL {name}\n      got:  {got}\n      want: {want}")
        return ok

    def summary(self, suite):
        log(f"{suite}: {self.passed} passed, {len(self.failed)} failed")
        return not self.failed


def run_sessions(jobs, fn, items):
    """fn(item) for each item, jobs at once; results in item order."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        return list(ex.map(fn, items))


def case_session(port, case):
    return smtp.swaks(port, local_addr=case.client, helo=case.helo, mail_from=case.sender,
                      rcpts=(cases.RCPT,), quit_after="RCPT")


def md_escape(s):
    return (s or "").replace("|", "\\|")


class Context:
    def __init__(self, args):
        self.args = args
        self.workdir = args.workdir
        self.out = args.out or os.path.join(self.workdir, "out")
        os.makedirs(self.out, exist_ok=True)
        self.procs = world.Procs()
        self.results = Results()
        self.postfix = None
        self.daemons = []

    def write(self, name, text):
        path = os.path.join(self.out, name)
        with open(path, "w") as f:
            f.write(text)
        log(f"wrote {path}")
        return path

    def save_logs(self):
        """On failure: the logs next to the tables, so CI output can point at them."""
        for src in ["maillog", "dns/unbound.log", "master.stderr"] + \
                   [os.path.relpath(d.log_path, self.workdir) for d in self.daemons]:
            p = os.path.join(self.workdir, src)
            if os.path.exists(p):
                shutil.copy(p, os.path.join(self.out, src.replace("/", "-")))
        log(f"logs copied to {self.out}")


def start_world(ctx, services, daemons=()):
    """DNS, the daemons (each may fail to start: recorded, the suite goes on to show
    what Postfix answers then), then Postfix with the given smtpd services."""
    world.TestDns(ctx.procs, ctx.workdir).start()
    started = {}
    for d in daemons:
        ctx.daemons.append(d)
        ok = d.start()
        started[d.name] = ok
        ctx.results.check(f"daemon {d.name} starts", ok, got=d.error, want="listening on its socket")
    ctx.postfix = world.Postfix(ctx.procs, ctx.workdir, services)
    ctx.postfix.start()
    return started


# --------------------------------------------------------------------------------------
# oracle
# --------------------------------------------------------------------------------------

def oracle_table(rows):
    out = ["| case | what | client | HELO | sender | Postfix reply (stage code dsn text) |",
           "|---|---|---|---|---|---|"]
    for c, got in rows:
        out.append(f"| {c.id} | {md_escape(c.what)} | {c.client} | {md_escape(c.helo)} | "
                   f"{md_escape(c.sender)} | {md_escape(got)} |")
    return "\n".join(out) + "\n"


def run_oracle(ctx):
    t0 = time.monotonic()
    sessions = run_sessions(ctx.args.jobs, lambda c: case_session(world.PORT_ORACLE, c), cases.CASES)
    log(f"oracle: {len(sessions)} sessions in {time.monotonic() - t0:.1f}s")
    return [(c, s.outcome()) for c, s in zip(cases.CASES, sessions)]


def suite_oracle(ctx):
    start_world(ctx, [world.oracle_smtpd()])
    rows = run_oracle(ctx)
    for c, got in rows:
        ctx.results.check(f"oracle {c.id}: {c.what}", got == c.oracle, got=got,
                          want=c.oracle if c.oracle is not None else "(not recorded yet)")
    ctx.write("oracle.md", oracle_table(rows))
    ctx.write("oracle.tsv", "".join(f"{c.id}\t{got}\n" for c, got in rows))


# --------------------------------------------------------------------------------------
# preset: reverse-policyd with preset = "postfix" against the oracle
# --------------------------------------------------------------------------------------

def suite_preset(ctx):
    d = world.Daemon(ctx.procs, ctx.workdir, ctx.args.binary, "preset", configs.PRESET_POSTFIX)
    port = world.PORT_FIRST_DAEMON
    start_world(ctx, [world.oracle_smtpd(), world.daemon_smtpd("preset", port, d.socket)], [d])
    oracle_rows = run_oracle(ctx)
    t0 = time.monotonic()
    ours = run_sessions(ctx.args.jobs, lambda c: case_session(port, c).outcome(), cases.CASES)
    log(f"preset: {len(ours)} sessions in {time.monotonic() - t0:.1f}s")
    table = ["| case | what | Postfix built-in | reverse-policyd preset=postfix | |",
             "|---|---|---|---|---|"]
    for (c, theirs), got in zip(oracle_rows, ours):
        same, note = configs.compare_with_oracle(c, theirs, got)
        mark = "same" if same and not note else ("deliberate: " + note if note else "DIFFERENT")
        table.append(f"| {c.id} | {md_escape(c.what)} | {md_escape(theirs)} | {md_escape(got)} | "
                     f"{md_escape(mark)} |")
        ctx.results.check(f"preset {c.id}: {c.what}", same, got=got,
                          want=theirs + (f"  [{note}]" if note else ""))
    ctx.write("preset-vs-oracle.md", "\n".join(table) + "\n")


# --------------------------------------------------------------------------------------
# configs: the default config and the strict example
# --------------------------------------------------------------------------------------

def suite_configs(ctx):
    daemons = [world.Daemon(ctx.procs, ctx.workdir, ctx.args.binary, name, body)
               for name, body in (("default", configs.DEFAULT), ("strict", configs.STRICT))]
    services = [world.daemon_smtpd(d.name, world.PORT_FIRST_DAEMON + i, d.socket)
                for i, d in enumerate(daemons)]
    start_world(ctx, services, daemons)
    for d, svc in zip(daemons, services):
        t0 = time.monotonic()
        got = run_sessions(ctx.args.jobs, lambda c: case_session(svc.port, c).outcome(), cases.CASES)
        log(f"{d.name}: {len(got)} sessions in {time.monotonic() - t0:.1f}s")
        table = [f"| case | what | expected ({d.name}) | got |", "|---|---|---|---|"]
        for c, g in zip(cases.CASES, got):
            want = configs.expected_reply(d.name, c)
            table.append(f"| {c.id} | {md_escape(c.what)} | {md_escape(want)} | {md_escape(g)} |")
            ctx.results.check(f"{d.name} {c.id}: {c.what}", g == want, got=g, want=want)
        ctx.write(f"{d.name}.md", "\n".join(table) + "\n")


# --------------------------------------------------------------------------------------
# actions: what Postfix does with particular answers
# --------------------------------------------------------------------------------------

def suite_actions(ctx):
    import actions
    actions.run(ctx, start_world)


SUITE_FUNCS = {"oracle": suite_oracle, "preset": suite_preset, "configs": suite_configs,
               "actions": suite_actions}


def run(args):
    def on_signal(signum, _frame):
        raise SystemExit(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    names = list(SUITE_FUNCS) if args.suite == "all" else [args.suite]
    ok = True
    for name in names:
        ctx = Context(args)
        try:
            SUITE_FUNCS[name](ctx)
        except world.WorldError as e:
            ctx.results.check(f"{name}: world", False, got=str(e), want="a running test world")
        finally:
            ctx.procs.stop_all()
        if not ctx.results.summary(name):
            ok = False
            ctx.save_logs()
    return 0 if ok else 1
