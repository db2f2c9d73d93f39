#!/usr/bin/python3
# e2e.py -- reverse-policyd end to end: real Postfix, a real DNS server, swaks, and
# Postfix's own reject_unknown_* restrictions as the oracle (issue 5).
#
#   e2e.py [--binary PATH] [--policy daemon|stub] [--out DIR] [--keep] [--jobs N] SUITE...
#
# SUITE (several may be given; "all" = every one):
#   oracle   Postfix's built-in restrictions over the case matrix; asserts the recorded
#            replies (a broken test world fails here) and writes the oracle table.
#   preset   the same cases through reverse-policyd with preset = "postfix", called from
#            the matching restriction list; must equal the oracle except where SPEC.md
#            says they differ on purpose (printed as a table).
#   configs  the case matrix under the default config and the strict example.
#   actions  521 and 421 close the session; DEFER_IF_PERMIT defers only when nothing
#            else rejects; the warning header once per message with two recipients;
#            XCLIENT LOGIN= exempt; the log lines found by queue id / NOQUEUE.
#
# --policy stub runs preset, configs and actions against a stand-in policy server that
# answers from the test's own tables (stub_policy.py): a self-test of the harness and of
# its model of Postfix, which passes before the daemon can decide anything.
#
# Exit: 0 passed, 1 failed (a missing prerequisite fails too), 77 disabled by RPD_E2E=0.
# Needs root (network namespace) and: postfix swaks libio-socket-inet6-perl iproute2
# unbound python3 (Debian 12). The system Postfix is never started or used.

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

import world  # noqa: E402
from world import log  # noqa: E402

EXIT_PASS, EXIT_FAIL, EXIT_DISABLED = 0, 1, 77
SUITES = ("oracle", "preset", "configs", "actions")
OUTER_TIMEOUT_S = 280


def parse_args(argv):
    ap = argparse.ArgumentParser(description="reverse-policyd end-to-end suite")
    ap.add_argument("suites", nargs="+", choices=SUITES + ("all",), metavar="SUITE")
    ap.add_argument("--policy", choices=("daemon", "stub"), default="daemon",
                    help="policy server behind the daemon-side smtpd services")
    ap.add_argument("--binary", default=os.environ.get("RPD_BINARY", ""),
                    help="reverse-policyd binary from the build tree")
    ap.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "rpd-e2e-out"),
                    help="directory for the tables and, on failure, the logs "
                         "(default: %(default)s)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--jobs", type=int, default=8, help="SMTP sessions at once")
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", default="", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def outer(args):
    """Root namespace: build the namespace, run ourselves inside it, tear everything down."""
    missing = world.missing_prerequisites()
    if missing:
        for m in missing:
            log(f"FAIL: prerequisite missing: {m}")
        log(f"install with: apt-get install {world.APT_PACKAGES}  "
            "(or set RPD_E2E=0 to disable this suite explicitly)")
        return EXIT_FAIL
    import cases
    workdir = tempfile.mkdtemp(prefix="rpd-e2e.")
    os.chmod(workdir, 0o755)    # Postfix (user postfix) and virtual (user nobody) walk it
    rc = EXIT_FAIL
    t0 = time.monotonic()

    def on_signal(signum, _frame):
        raise SystemExit(f"e2e: stopped by signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    proc = None
    ns = world.Netns(cases.client_addresses())
    try:
        ns.create()
        cmd = ["ip", "netns", "exec", ns.name, sys.executable, os.path.abspath(__file__),
               "--inside", "--workdir", workdir, "--jobs", str(args.jobs),
               "--policy", args.policy, *args.suites]
        if args.binary:
            cmd += ["--binary", os.path.abspath(args.binary)]
        cmd += ["--out", os.path.abspath(args.out)]
        proc = subprocess.Popen(cmd)
        try:
            rc = proc.wait(timeout=OUTER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log(f"FAIL: still running after {OUTER_TIMEOUT_S}s, stopping it")
            rc = EXIT_FAIL
    finally:
        # The inner driver stops what it started; give it the time to, then remove the
        # namespace. Whatever is still inside then is killed by pid and is a failure.
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        leftovers = ns.teardown()
        if leftovers:
            log(f"FAIL: processes outlived the suite: {leftovers}")
            rc = EXIT_FAIL
        if args.keep:
            log(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    what = " ".join(args.suites) + ("" if args.suites == ["oracle"] else f" ({args.policy})")
    log(f"{what}: {'passed' if rc == EXIT_PASS else 'FAILED'} in {time.monotonic() - t0:.1f}s")
    return rc


def inner(args):
    import suites
    return suites.run(args)


def main(argv):
    # ip, unbound, postfix and postconf live in /usr/sbin, which a CTest environment
    # may not have on its PATH.
    os.environ["PATH"] = os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin"
    if os.environ.get("RPD_E2E", "") == "0":
        log("disabled by RPD_E2E=0: end-to-end suite NOT run")
        return EXIT_DISABLED
    args = parse_args(argv)
    return inner(args) if args.inside else outer(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
