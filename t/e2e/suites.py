# suites.py -- the e2e suites, run inside the test namespace (see e2e.py).
#
# Each suite builds the world it needs (test DNS, Postfix smtpd services, policy
# servers), runs SMTP sessions with swaks, and records one result per assertion.
# The policy server is reverse-policyd from the build tree, or with --policy stub the
# stand-in of stub_policy.py (a self-test of the harness and of its model of Postfix).
# Everything started here is stopped in `finally`, by pid, also on SIGTERM.

import concurrent.futures
import os
import shutil
import signal
import time

import actions
import cases
import configs
import smtp
import stub_policy
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


def run_sessions(jobs, fn, items):
    """fn(item) for each item, `jobs` at once; results in item order. On SIGTERM the
    sessions not yet started are dropped, so the world can be stopped at once."""
    ex = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
    try:
        results = list(ex.map(fn, items))
    except BaseException:
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    ex.shutdown()
    return results


def case_session(port, case):
    return smtp.swaks(port, local_addr=case.client, helo=case.helo, mail_from=case.sender,
                      rcpts=(cases.RCPT,), quit_after="RCPT")


def md(s):
    return (s or "").replace("|", "\\|")


class StubBackend:
    """The stand-in policy server on a unix socket, as a thread of this process."""
    kind = "stub"

    def __init__(self, workdir, name, config, case_list):
        self.name = name
        self.socket = os.path.join(workdir, f"stub-{name}.sock")
        self.log_path = os.path.join(workdir, f"stub-{name}.log")
        self.stub = stub_policy.StubPolicy(self.socket, config, case_list, self.log_path)
        self.error = None

    def start(self):
        self.stub.start()
        return True

    def stop(self):
        self.stub.stop()

    def log_lines(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.readlines()
        except OSError:
            return []


class Context:
    def __init__(self, args, suite):
        self.args = args
        self.suite = suite
        self.workdir = os.path.join(args.workdir, suite)
        os.makedirs(self.workdir)
        os.chmod(self.workdir, 0o755)
        self.out = os.path.join(args.out, f"{suite}-{args.policy}" if suite != "oracle" else suite)
        os.makedirs(self.out, exist_ok=True)
        self.procs = world.Procs()
        self.results = Results()
        self.postfix = None
        self.backends = []

    def backend(self, name, config, case_list):
        if self.args.policy == "stub":
            b = StubBackend(self.workdir, name, config, case_list)
        else:
            b = world.Daemon(self.procs, self.workdir, self.args.binary, name, config.toml)
        self.backends.append(b)
        return b

    def stop(self):
        for b in self.backends:
            if isinstance(b, StubBackend):
                b.stop()
        self.procs.stop_all()

    def write(self, name, text):
        path = os.path.join(self.out, name)
        with open(path, "w") as f:
            f.write(text)
        log(f"wrote {path}")

    def save_logs(self):
        """On failure: the logs next to the tables, for the CI output to point at."""
        names = ["maillog", "master.stderr", "dns/unbound.log"] + \
                [os.path.relpath(b.log_path, self.workdir) for b in self.backends]
        for name in names:
            p = os.path.join(self.workdir, name)
            if os.path.exists(p):
                shutil.copy(p, os.path.join(self.out, name.replace("/", "-")))
        log(f"logs copied to {self.out}")


def start_world(ctx, services, backends=()):
    """DNS, the policy servers (one that cannot start is a failure; the suite goes on to
    show what Postfix answers then), then Postfix with the given smtpd services."""
    world.TestDns(ctx.procs, ctx.workdir).start()
    for b in backends:
        ok = b.start()
        ctx.results.check(f"policy server {b.name} ({b.kind}) starts", ok, got=b.error,
                          want="listening on its socket")
    ctx.postfix = world.Postfix(ctx.procs, ctx.workdir, services)
    ctx.postfix.start()


def timed(label, fn):
    t0 = time.monotonic()
    r = fn()
    log(f"{label} in {time.monotonic() - t0:.1f}s")
    return r


# --------------------------------------------------------------------------------------
# oracle
# --------------------------------------------------------------------------------------

def slowest(sessions, case_list, n=3):
    top = sorted(zip(sessions, case_list), key=lambda p: -p[0].seconds)[:n]
    return ", ".join(f"{c.id} {s.seconds:.1f}s" for s, c in top)


def run_oracle(ctx):
    sessions = timed(f"oracle: {len(cases.CASES)} sessions", lambda: run_sessions(
        ctx.args.jobs, lambda c: case_session(world.PORT_ORACLE, c), cases.CASES))
    log(f"oracle: slowest {slowest(sessions, cases.CASES)}")
    return [s.outcome() for s in sessions]


def suite_oracle(ctx):
    start_world(ctx, [world.oracle_smtpd()])
    got = run_oracle(ctx)
    table = ["| case | what | client | HELO | sender | Postfix 3.7 built-in reply |",
             "|---|---|---|---|---|---|"]
    for c, g in zip(cases.CASES, got):
        ctx.results.check(f"oracle {c.id}: {c.what}", g == c.oracle, got=g, want=c.oracle)
        table.append(f"| {c.id} | {md(c.what)} | {c.client} | {md(c.helo)} | {md(c.sender)} "
                     f"| {md(g)} |")
    ctx.write("oracle.md", "\n".join(table) + "\n")
    ctx.write("oracle.tsv", "".join(f"{c.id}\t{g}\n" for c, g in zip(cases.CASES, got)))


# --------------------------------------------------------------------------------------
# preset = "postfix" against the oracle, in the same run
# --------------------------------------------------------------------------------------

def suite_preset(ctx):
    b = ctx.backend("preset", configs.PRESET, cases.CASES)
    port = world.PORT_FIRST_DAEMON
    start_world(ctx, [world.oracle_smtpd(), world.daemon_smtpd("preset", port, b.socket)], [b])
    oracle = run_oracle(ctx)
    ours = timed(f"preset ({ctx.args.policy}): {len(cases.CASES)} sessions", lambda: [
        s.outcome() for s in run_sessions(ctx.args.jobs, lambda c: case_session(port, c),
                                          cases.CASES)])
    table = ["| case | what | Postfix built-in | reverse-policyd preset = \"postfix\" | |",
             "|---|---|---|---|---|"]
    short = ["| case | what | Postfix 3.7 built-in (at RCPT) | reverse-policyd, preset = \"postfix\" |",
             "|---|---|---|---|"]
    deliberate = []
    for c, theirs, got in zip(cases.CASES, oracle, ours):
        ctx.results.check(f"oracle {c.id}: {c.what}", theirs == c.oracle, theirs, c.oracle)
        same, note = configs.compare_with_oracle(c, theirs, got)
        mark = ("DIFFERENT" if not same else "same" if not note
                else f"same but {note}" if c.differs is None else f"deliberate: {note}")
        want = c.differs.ours if c.differs else theirs
        ctx.results.check(f"preset {c.id}: {c.what}", same, got=got,
                          want=want + (f"  [{note}]" if note else ""))
        table.append(f"| {c.id} | {md(c.what)} | {md(theirs)} | {md(got)} | {md(mark)} |")
        ours_code = f"`{md(got.removeprefix('RCPT '))}`"
        shown = ("**DIFFERENT**: " + ours_code if not same else "same" if not note
                 else "**deliberate**: " + ours_code if c.differs is not None
                 else "same, with the client prefix `<unknown[addr]>:`")
        short.append(f"| {c.id} | {md(c.what)} | `{md(theirs.removeprefix('RCPT '))}` "
                     f"| {shown} |")
        if c.differs is not None:
            deliberate.append(f"  {c.id}: Postfix: {theirs}\n  {' ' * len(c.id)}  ours:    {got}"
                              f"\n  {' ' * len(c.id)}  why:     {c.differs.why}")
    ctx.write("preset-vs-oracle.md", "\n".join(table) + "\n")
    ctx.write("preset-vs-oracle-short.md", "\n".join(short) + "\n")
    print("\ncases x (Postfix built-in reply, reverse-policyd preset = \"postfix\"):\n"
          + "\n".join(short) + "\n", flush=True)
    log("deliberate differences from the oracle (SPEC.md), besides the client prefix:\n"
        + "\n".join(deliberate))


# --------------------------------------------------------------------------------------
# the default config and the strict example
# --------------------------------------------------------------------------------------

def suite_configs(ctx):
    cfgs = [configs.DEFAULT, configs.STRICT]
    backends = [ctx.backend(c.name, c, cases.CASES) for c in cfgs]
    services = [world.daemon_smtpd(b.name, world.PORT_FIRST_DAEMON + i, b.socket)
                for i, b in enumerate(backends)]
    start_world(ctx, services, backends)
    for cfg, svc in zip(cfgs, services):
        got = timed(f"{cfg.name} ({ctx.args.policy}): {len(cases.CASES)} sessions", lambda: [
            s.outcome() for s in run_sessions(ctx.args.jobs, lambda c: case_session(svc.port, c),
                                              cases.CASES)])
        table = [f"| case | what | expected ({cfg.name}) | got |", "|---|---|---|---|"]
        for c, g in zip(cases.CASES, got):
            want = configs.expected_reply(cfg, c)
            table.append(f"| {c.id} | {md(c.what)} | {md(want.shown)} | {md(g)} |")
            ctx.results.check(f"{cfg.name} {c.id}: {c.what}", want.matches(g), got=g,
                              want=want.shown)
        ctx.write(f"{cfg.name}.md", "\n".join(table) + "\n")


# --------------------------------------------------------------------------------------
# actions
# --------------------------------------------------------------------------------------

def suite_actions(ctx):
    b = ctx.backend("actions", actions.ACTIONS, actions.scenario_cases())
    port = world.PORT_FIRST_DAEMON
    svc = world.daemon_smtpd("actions", port, b.socket)
    start_world(ctx, [svc], [b])
    timed("actions: scenarios", lambda: actions.run(ctx, b, port))


SUITE_FUNCS = {"oracle": suite_oracle, "preset": suite_preset, "configs": suite_configs,
               "actions": suite_actions}


def run(args):
    def on_signal(signum, _frame):
        raise SystemExit(f"e2e: stopped by signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    names = list(SUITE_FUNCS) if "all" in args.suites else args.suites
    passed, failed = 0, 0
    for name in names:
        ctx = Context(args, name)
        try:
            SUITE_FUNCS[name](ctx)
        except world.WorldError as e:
            ctx.results.check(f"{name}: test world", False, got=str(e), want="a running world")
        finally:
            ctx.stop()
        for b in ctx.backends:
            if b.kind == "daemon" and b.proc is not None:
                problem = b.exit_problem()
                ctx.results.check(f"reverse-policyd[{b.name}] stops cleanly", not problem,
                                  got=problem, want="exit 0, no sanitizer report")
        r = ctx.results
        label = name if name == "oracle" else f"{name} ({args.policy})"
        log(f"suite {label}: {r.passed} passed, {len(r.failed)} failed")
        passed += r.passed
        failed += len(r.failed)
        if r.failed:
            ctx.save_logs()
    print(f"e2e: {passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1
