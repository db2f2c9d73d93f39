# world.py -- the end-to-end test world: a network namespace, its test DNS, a private
# Postfix instance and reverse-policyd, all inside the namespace, all stopped by pid.
#
# The outer driver (root network namespace) creates the namespace, its resolv.conf and
# hosts files and the client addresses, then runs itself again inside it ("--inside").
# The inner driver starts every process with Procs, which stops them by pid in reverse
# order, also when a test fails. The outer driver deletes the namespace afterwards and
# kills, by pid, any process still left inside it (and says so: that is a defect).
#
# Not here: the cases and what a reply should be (cases.py), the SMTP client (smtp.py).

import os
import pwd
import grp
import shutil
import signal
import socket
import struct
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# The test world of the integration tests: zones, zones.list and faults.list.
ZONES_DIR = os.path.normpath(os.path.join(HERE, "..", "data", "zones"))

NETNS_PREFIX = "rpd-e2e-"

# Ports inside the namespace: nothing else listens there, so fixed ports are free.
PORT_ORACLE = 2525      # Postfix's built-in reject_unknown_* restrictions
PORT_FIRST_DAEMON = 2530  # one smtpd per reverse-policyd config, 2530, 2531, ...

RECIPIENT_DOMAIN = "sink.test"


class WorldError(Exception):
    """The world could not be built: a prerequisite or a process failed."""


def log(msg):
    print(f"e2e: {msg}", flush=True)


def run(argv, check=True, timeout=30, **kw):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise WorldError(f"{' '.join(argv)}: exit {r.returncode}: {r.stdout.strip()}")
    return r


# --------------------------------------------------------------------------------------
# Prerequisites
# --------------------------------------------------------------------------------------

POSTFIX_DAEMON_DIR = "/usr/lib/postfix/sbin"

REQUIRED_TOOLS = {
    "ip": "iproute2",
    "unbound": "unbound",
    "postfix": "postfix",
    "postconf": "postfix",
    "swaks": "swaks",
}

APT_PACKAGES = "postfix swaks libio-socket-inet6-perl iproute2 unbound python3"


def missing_prerequisites():
    """Every reason this machine cannot run the suite, as human-readable lines."""
    missing = []
    if os.geteuid() != 0:
        missing.append("must run as root (ip netns, Postfix master)")
    for tool, package in REQUIRED_TOOLS.items():
        if shutil.which(tool) is None:
            missing.append(f"{tool} not found (Debian package {package})")
    if not os.path.exists(os.path.join(POSTFIX_DAEMON_DIR, "master")):
        missing.append(f"{POSTFIX_DAEMON_DIR}/master not found (Debian package postfix)")
    if shutil.which("swaks"):
        r = subprocess.run(["swaks", "--support"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if "IPv6 supported" not in r.stdout:
            missing.append("swaks has no IPv6 support (Debian package libio-socket-inet6-perl)")
    for user in ("postfix", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            missing.append(f"no user {user}")
    if not missing:
        r = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            missing.append(f"ip netns does not work here: {r.stdout.strip()}")
    return missing


# --------------------------------------------------------------------------------------
# Network namespace (outer driver)
# --------------------------------------------------------------------------------------

def netns_pids(name):
    r = run(["ip", "netns", "pids", name], check=False)
    if r.returncode != 0:
        return []
    return [int(p) for p in r.stdout.split() if p.isdigit()]


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def kill_pids(pids, grace=3.0):
    """SIGTERM each pid, wait up to grace seconds, SIGKILL what is left."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.05)
    for pid in pids:
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class Netns:
    """A network namespace rpd-e2e-<pid> with loopback up and the client addresses on lo.

    /etc/netns/NAME/{resolv.conf,hosts} replace /etc/resolv.conf and /etc/hosts for
    every process started with `ip netns exec NAME`: nameserver 127.0.0.1 (the test
    DNS), "search ." because with a search list glibc turns SERVFAIL into "not found",
    and short resolver timeouts so a dropped query costs one second, not ten.
    """

    def __init__(self, addresses):
        self.name = f"{NETNS_PREFIX}{os.getpid()}"
        self.etc_dir = f"/etc/netns/{self.name}"
        self.addresses = addresses
        self.created = False

    def create(self):
        sweep_stale_netns()
        run(["ip", "netns", "add", self.name])
        self.created = True
        os.makedirs(self.etc_dir, exist_ok=True)
        with open(os.path.join(self.etc_dir, "resolv.conf"), "w") as f:
            f.write("# reverse-policyd e2e: the test DNS inside this namespace\n"
                    "nameserver 127.0.0.1\n"
                    "search .\n"
                    "options timeout:1 attempts:1\n")
        with open(os.path.join(self.etc_dir, "hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n::1 localhost\n")
        run(["ip", "-n", self.name, "link", "set", "lo", "up"])
        for addr in self.addresses:
            if ":" in addr:
                run(["ip", "-n", self.name, "-6", "addr", "add", f"{addr}/128", "dev", "lo",
                     "nodad"])
            else:
                run(["ip", "-n", self.name, "addr", "add", f"{addr}/32", "dev", "lo"])
    def teardown(self):
        """Kill what is left inside by pid (a defect if anything is), delete everything."""
        leftovers = []
        if self.created:
            leftovers = netns_pids(self.name)
            if leftovers:
                log(f"processes left in {self.name} after the run, killing by pid: {leftovers}")
                kill_pids(leftovers)
            run(["ip", "netns", "delete", self.name], check=False)
            self.created = False
        shutil.rmtree(self.etc_dir, ignore_errors=True)
        return leftovers


def sweep_stale_netns():
    """Remove namespaces left by an earlier run that was killed (its pid is gone)."""
    r = run(["ip", "netns", "list"], check=False)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if not name.startswith(NETNS_PREFIX):
            continue
        owner = name[len(NETNS_PREFIX):]
        if owner.isdigit() and not pid_alive(int(owner)):
            log(f"removing stale namespace {name} of a dead run")
            kill_pids(netns_pids(name))
            run(["ip", "netns", "delete", name], check=False)
            shutil.rmtree(f"/etc/netns/{name}", ignore_errors=True)


# --------------------------------------------------------------------------------------
# Processes (inner driver)
# --------------------------------------------------------------------------------------

class Procs:
    """Every long-running process the inner driver starts; stopped by pid, newest first."""

    def __init__(self):
        self.procs = []   # (name, Popen, stop_signal)

    def start(self, name, argv, log_path, stop_signal=signal.SIGTERM, env=None):
        out = open(log_path, "ab")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             env=env)
        out.close()
        self.procs.append((name, p, stop_signal))
        return p

    def stop(self, p, grace=5.0):
        for i, (name, q, sig) in enumerate(self.procs):
            if q is p:
                self._stop_one(name, q, sig, grace)
                del self.procs[i]
                return

    @staticmethod
    def _stop_one(name, p, sig, grace):
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log(f"{name} (pid {p.pid}) ignored signal {sig}, killing")
                p.kill()
                p.wait(timeout=grace)

    def stop_all(self):
        while self.procs:
            name, p, sig = self.procs.pop()
            try:
                self._stop_one(name, p, sig, 5.0)
            except Exception as e:  # keep stopping the others
                log(f"stopping {name} (pid {p.pid}): {e}")


def wait_until(pred, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    return pred()


# --------------------------------------------------------------------------------------
# Test DNS: unbound as a recursive resolver over local authoritative zones
# --------------------------------------------------------------------------------------

def read_zones_list():
    """[(origin, zone file path)] from t/data/zones/zones.list."""
    zones = []
    with open(os.path.join(ZONES_DIR, "zones.list")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                origin, path = line.split()
                zones.append((origin, os.path.join(ZONES_DIR, path)))
    return zones


def read_faults_list():
    faults = []
    with open(os.path.join(ZONES_DIR, "faults.list")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                name, kind = line.split()
                if kind not in ("drop", "refuse"):
                    raise WorldError(f"faults.list: unknown kind {kind!r} for {name}")
                faults.append((name, kind))
    return faults


# Unbound's built-in local zones that would shadow the test zones (unbound.conf(5)).
UNBOUND_DEFAULT_ZONES = ["test.", "2.0.192.in-addr.arpa.", "100.51.198.in-addr.arpa.",
                         "113.0.203.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa."]


class TestDns:
    """unbound on 127.0.0.1:53 and [::1]:53 inside the namespace.

    It is a recursive resolver (as Postfix's resolver would be), whose only upstream is
    its own copy of the test zones (auth-zone for-upstream) plus an empty root zone, so
    no question leaves the machine and every unknown name is NXDOMAIN. CNAMEs across
    zones (RFC 2317) are followed as a real resolver does. Faults: faults.list names
    are dropped (timeout) or REFUSED; delegations to a dead address give SERVFAIL.
    """

    def __init__(self, procs, workdir):
        self.procs = procs
        self.dir = os.path.join(workdir, "dns")
        self.proc = None

    def config(self):
        root_zone = os.path.join(self.dir, "root.zone")
        with open(root_zone, "w") as f:
            f.write(". 300 IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60\n"
                    ". 300 IN NS ns.example.test.\n")
        lines = [
            "server:",
            "  interface: 127.0.0.1",
            "  interface: ::1",
            "  port: 53",
            "  do-ip4: yes",
            "  do-ip6: yes",
            "  do-udp: yes",
            "  do-tcp: yes",
            "  access-control: 127.0.0.0/8 allow",
            "  access-control: ::1/128 allow",
            "  username: \"\"",
            "  chroot: \"\"",
            f"  directory: \"{self.dir}\"",
            "  pidfile: \"\"",
            "  use-syslog: no",
            f"  logfile: \"{self.dir}/unbound.log\"",
            "  log-time-ascii: yes",
            "  verbosity: 1",
            "  num-threads: 1",
            "  so-reuseport: no",
            "  module-config: \"iterator\"",
            "  do-not-query-localhost: no",
            # Zone-file order, so "the second PTR name confirms" stays the second.
            "  rrset-roundrobin: no",
            "  minimal-responses: yes",
            "  harden-referral-path: no",
            "  qname-minimisation: no",
            "  cache-max-negative-ttl: 60",
            "  infra-host-ttl: 60",
            "  statistics-interval: 0",
        ]
        for zone in UNBOUND_DEFAULT_ZONES:
            lines.append(f"  local-zone: \"{zone}\" nodefault")
        for name, kind in read_faults_list():
            lines.append(f"  local-zone: \"{name}\" {'deny' if kind == 'drop' else 'refuse'}")
        lines += ["auth-zone:", "  name: \".\"", f"  zonefile: \"{root_zone}\"",
                  "  for-downstream: no", "  for-upstream: yes", "  fallback-enabled: no"]
        for origin, path in read_zones_list():
            lines += ["auth-zone:", f"  name: \"{origin}\"", f"  zonefile: \"{path}\"",
                      "  for-downstream: no", "  for-upstream: yes", "  fallback-enabled: no"]
        lines += ["remote-control:", "  control-enable: no"]
        return "\n".join(lines) + "\n"

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        conf = os.path.join(self.dir, "unbound.conf")
        with open(conf, "w") as f:
            f.write(self.config())
        r = run(["unbound-checkconf", conf], check=False)
        if r.returncode != 0:
            raise WorldError(f"unbound-checkconf: {r.stdout.strip()}")
        self.proc = self.procs.start("unbound", ["unbound", "-d", "-c", conf],
                                     os.path.join(self.dir, "unbound.stderr"))
        ok = wait_until(lambda: self.proc.poll() is not None or
                        dns_query("127.0.0.1", "host.example.test", 1) is not None, 10)
        if self.proc.poll() is not None or not ok:
            raise WorldError("unbound did not start: "
                             + tail(os.path.join(self.dir, "unbound.stderr"))
                             + tail(os.path.join(self.dir, "unbound.log")))
        log(f"test DNS up (unbound pid {self.proc.pid})")


def dns_query(server, name, qtype, timeout=0.5):
    """A minimal UDP query; returns the rcode, or None when nothing came back in time."""
    qid = os.getpid() & 0xFFFF
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack(">HH", qtype, 1)
    fam = socket.AF_INET6 if ":" in server else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(q, (server, 53))
            data, _ = s.recvfrom(4096)
        except (socket.timeout, OSError):
            return None
    if len(data) < 12 or struct.unpack(">H", data[:2])[0] != qid:
        return None
    return data[3] & 0x0F


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            lines = f.readlines()
        return "".join(lines[-n:])
    except OSError:
        return ""


# --------------------------------------------------------------------------------------
# Private Postfix instance
# --------------------------------------------------------------------------------------

class Smtpd:
    """One smtpd service of the private instance: a port, restriction lists, a name."""

    def __init__(self, name, port, client, helo, sender, recipient="", extra=None):
        self.name = name
        self.port = port
        self.client = client
        self.helo = helo
        self.sender = sender
        self.recipient = recipient
        self.extra = extra or {}


def policy_restriction(socket_path, context):
    # policy_context tells the daemon which restriction list is asking: with the default
    # smtpd_delay_reject=yes all three lists ask at protocol_state=RCPT with otherwise
    # identical attributes (Postfix 3.1+, postconf(5) smtpd_policy_service_policy_context).
    return f"check_policy_service {{ unix:{socket_path}, policy_context={context} }}"


def oracle_smtpd():
    return Smtpd("oracle", PORT_ORACLE,
                 client="reject_unknown_reverse_client_hostname, reject_unknown_client_hostname",
                 helo="reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname, "
                      "reject_unknown_helo_hostname",
                 sender="reject_unknown_sender_domain")


def daemon_smtpd(name, port, socket_path):
    return Smtpd(name, port,
                 client=policy_restriction(socket_path, "client"),
                 helo=policy_restriction(socket_path, "helo"),
                 sender=policy_restriction(socket_path, "sender"))


class Postfix:
    """A private instance: its own config, queue and data directories under workdir.

    Never the system instance: every command gets -c with our config directory, and the
    master runs inside the namespace, where only loopback exists. Mail for
    @sink.test is delivered by virtual(8) into the Maildir workdir/mail/box/ (one file
    per message copy), owned by nobody. Postfix logs through postlogd to workdir/maillog.
    """

    def __init__(self, procs, workdir, services):
        self.procs = procs
        self.workdir = workdir
        self.config_dir = os.path.join(workdir, "postfix", "etc")
        self.queue_dir = os.path.join(workdir, "postfix", "spool")
        self.data_dir = os.path.join(workdir, "postfix", "data")
        self.mail_dir = os.path.join(workdir, "mail")
        self.maillog = os.path.join(workdir, "maillog")
        self.services = services
        self.proc = None

    def main_cf(self):
        nobody = pwd.getpwnam("nobody")
        p = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.data_dir,
            "myhostname": "mx.e2e.test",
            "mydomain": "e2e.test",
            "myorigin": "$myhostname",
            "mydestination": "",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "all",
            "mynetworks": "127.0.0.0/8 [::1]/128",
            "smtpd_authorized_xclient_hosts": "127.0.0.0/8 [::1]/128",
            "smtpd_helo_required": "yes",
            "smtpd_banner": "$myhostname ESMTP e2e",
            "virtual_mailbox_domains": RECIPIENT_DOMAIN,
            "virtual_mailbox_base": self.mail_dir,
            "virtual_mailbox_maps": "static:box/",
            "virtual_uid_maps": f"static:{nobody.pw_uid}",
            "virtual_gid_maps": f"static:{nobody.pw_gid}",
            "virtual_minimum_uid": "1",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "relay_domains": "",
            "biff": "no",
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.workdir,
            "smtputf8_enable": "no",
            "smtpd_tls_security_level": "none",
            "smtp_tls_security_level": "none",
            "smtpd_sasl_auth_enable": "no",
            "queue_run_delay": "300s",
            "delay_warning_time": "0",
            # Fail fast if the daemon is missing: the test reads the reply, not a 100 s wait.
            "smtpd_policy_service_timeout": "20s",
            "smtpd_policy_service_try_limit": "1",
            "smtpd_policy_service_default_action": "451 4.3.5 Server configuration problem",
        }
        for s in self.services:
            p[f"{s.name}_client_restrictions"] = s.client
            p[f"{s.name}_helo_restrictions"] = s.helo
            p[f"{s.name}_sender_restrictions"] = s.sender
            p[f"{s.name}_recipient_restrictions"] = s.recipient
        return "".join(f"{k} = {v}\n" for k, v in p.items())

    def master_cf(self):
        lines = []
        for s in self.services:
            opts = [f"syslog_name=postfix/{s.name}",
                    f"smtpd_client_restrictions=${s.name}_client_restrictions",
                    f"smtpd_helo_restrictions=${s.name}_helo_restrictions",
                    f"smtpd_sender_restrictions=${s.name}_sender_restrictions",
                    f"smtpd_recipient_restrictions=${s.name}_recipient_restrictions"]
            opts += [f"{k}={v}" for k, v in s.extra.items()]
            o = " ".join(f"-o {x}" for x in opts)
            for host in ("127.0.0.1", "[::1]"):
                lines.append(f"{host}:{s.port} inet n - n - - smtpd {o}")
        # The usual internal services, unchrooted (the namespace's resolv.conf is the
        # one in /etc; a chroot would need its own copy).
        lines += [
            "pickup    unix n - n 60 1 pickup",
            "cleanup   unix n - n - 0 cleanup",
            "qmgr      unix n - n 300 1 qmgr",
            "rewrite   unix - - n - - trivial-rewrite",
            "bounce    unix - - n - 0 bounce",
            "defer     unix - - n - 0 bounce",
            "trace     unix - - n - 0 bounce",
            "verify    unix - - n - 1 verify",
            "flush     unix n - n 1000? 0 flush",
            "proxymap  unix - - n - - proxymap",
            "smtp      unix - - n - - smtp",
            "relay     unix - - n - - smtp",
            "showq     unix n - n - - showq",
            "error     unix - - n - - error",
            "retry     unix - - n - - error",
            "discard   unix - - n - - discard",
            "local     unix - n n - - local",
            "virtual   unix - n n - - virtual",
            "lmtp      unix - - n - - lmtp",
            "anvil     unix - - n - 1 anvil",
            "scache    unix - - n - 1 scache",
            "postlog   unix-dgram n - n - 1 postlogd",
        ]
        return "\n".join(lines) + "\n"

    def start(self):
        for d in (self.config_dir, self.queue_dir, self.data_dir):
            os.makedirs(d, exist_ok=True)
        nobody = pwd.getpwnam("nobody")
        os.makedirs(self.mail_dir, exist_ok=True)
        os.chown(self.mail_dir, nobody.pw_uid, nobody.pw_gid)
        pf = pwd.getpwnam("postfix")
        os.chown(self.data_dir, pf.pw_uid, grp.getgrnam("postfix").gr_gid)
        with open(os.path.join(self.config_dir, "main.cf"), "w") as f:
            f.write(self.main_cf())
        with open(os.path.join(self.config_dir, "master.cf"), "w") as f:
            f.write(self.master_cf())
        open(self.maillog, "a").close()
        # "postfix check" creates the queue directories with the right owners and modes.
        r = run(["postfix", "-c", self.config_dir, "check"], check=False, timeout=60)
        if r.returncode != 0:
            raise WorldError(f"postfix check: {r.stdout.strip()}")
        if r.stdout.strip():
            log("postfix check says: " + r.stdout.strip().replace("\n", " | "))
        # The master stays in the foreground as our child (no -w), in its own session,
        # so stopping it by pid stops its children too (master(8): SIGTERM).
        self.proc = self.procs.start(
            "postfix master", [os.path.join(POSTFIX_DAEMON_DIR, "master"), "-c", self.config_dir],
            os.path.join(self.workdir, "master.stderr"),
            env={**os.environ, "MAIL_CONFIG": self.config_dir})
        ok = wait_until(lambda: self.proc.poll() is not None or
                        all(port_open("127.0.0.1", s.port) for s in self.services), 15)
        if self.proc.poll() is not None or not ok:
            raise WorldError("postfix master did not start: "
                             + tail(os.path.join(self.workdir, "master.stderr"))
                             + tail(self.maillog))
        log(f"postfix up (master pid {self.proc.pid}), smtpd: "
            + ", ".join(f"{s.name}=127.0.0.1:{s.port}" for s in self.services))

    def log_lines(self):
        with open(self.maillog, errors="replace") as f:
            return f.readlines()

    def delivered(self):
        """Paths of the delivered message copies (Maildir new/)."""
        new = os.path.join(self.mail_dir, "box", "new")
        if not os.path.isdir(new):
            return []
        return sorted(os.path.join(new, n) for n in os.listdir(new))


def port_open(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------------------
# reverse-policyd
# --------------------------------------------------------------------------------------

class Daemon:
    """reverse-policyd -f -c CONF from the build tree, listening on a unix socket in workdir.

    stderr (its log with -f) goes to workdir/daemon-NAME.log so the test can grep it.
    """

    kind = "daemon"

    def __init__(self, procs, workdir, binary, name, toml_text):
        self.procs = procs
        self.binary = binary
        self.name = name
        self.dir = os.path.join(workdir, f"daemon-{name}")
        self.socket = os.path.join(self.dir, "policy.sock")
        self.log_path = os.path.join(workdir, f"daemon-{name}.log")
        self.conf = os.path.join(self.dir, "reverse-policyd.toml")
        self.toml_text = toml_text
        self.proc = None
        self.error = None

    def toml(self):
        """The suite's config with [server], [dns] and [log] for this world. Top-level keys
        (preset) must come before the first table, so the text is split there."""
        lines = self.toml_text.splitlines()
        first_table = next((i for i, l in enumerate(lines) if l.lstrip().startswith("[")),
                           len(lines))
        top, rest = lines[:first_table], lines[first_table:]
        world_part = [
            "[server]",
            f"listen = [\"unix:{self.socket}\"]",
            "socket_mode = \"0666\"",
            "request_deadline = \"8s\"",
            "",
            "[dns]",
            "nameservers = [\"127.0.0.1\"]",
            "timeout = \"1s\"",
            "attempts = 1",
            "",
            "[log]",
            "to = \"stderr\"",
            "level = \"info\"",
            "",
        ]
        return "\n".join(["# written by the e2e driver", *top, "", *world_part, *rest]) + "\n"

    def start(self, timeout=5.0):
        """Start and wait for the socket. Returns False (with self.error) if it cannot."""
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        with open(self.conf, "w") as f:
            f.write(self.toml())
        if not self.binary or not os.access(self.binary, os.X_OK):
            self.error = f"no reverse-policyd binary at {self.binary!r}"
            return False
        self.proc = self.procs.start(f"reverse-policyd[{self.name}]",
                                     [self.binary, "-f", "-c", self.conf], self.log_path)
        wait_until(lambda: self.proc.poll() is not None or os.path.exists(self.socket), timeout)
        if os.path.exists(self.socket) and self.proc.poll() is None:
            log(f"reverse-policyd[{self.name}] up (pid {self.proc.pid}) on {self.socket}")
            return True
        code = self.proc.poll()
        self.error = (f"reverse-policyd[{self.name}] "
                      + (f"exited with code {code}" if code is not None
                         else f"did not create {self.socket} within {timeout:.0f}s")
                      + ": " + tail(self.log_path, 5).strip())
        return False

    def log_lines(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.readlines()
        except OSError:
            return []

    def exit_problem(self):
        """After stop: why the daemon's end was wrong (SIGTERM must give exit 0, and an
        ASan/UBSan build must not have reported anything), or "" if it was right."""
        if self.proc is None or self.proc.poll() is None:
            return ""
        reports = [l.strip() for l in self.log_lines()
                   if "Sanitizer" in l or "runtime error:" in l]
        if reports:
            return f"sanitizer report: {reports[0]}"
        if self.proc.returncode != 0:
            return f"exit code {self.proc.returncode} after SIGTERM"
        return ""
