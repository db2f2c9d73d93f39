# smtp.py -- drive one SMTP session with swaks and read its transcript.
#
# In: where to connect (the smtpd port, from which local address), HELO, MAIL FROM,
# RCPT TOs, optional XCLIENT attributes, how far to go (RCPT or a whole message).
# Out: a Session: each command with its reply (code, enhanced code, text), whether
# the server closed the connection, and the queue id if a message was queued.
# Not here: what a reply should be (cases.py).

import re
import subprocess
import time
from dataclasses import dataclass, field

SWAKS_TIMEOUT_S = 30          # swaks' own SMTP timeout per command
RUN_TIMEOUT_S = 60            # hard cap on one swaks run


@dataclass
class Reply:
    code: str                 # "250", "450", ...
    dsn: str                  # "4.7.1" or "" when the reply has no enhanced code
    text: str                 # the rest of the last line
    lines: list = field(default_factory=list)

    def __str__(self):
        return " ".join(x for x in (self.code, self.dsn, self.text) if x)

    @property
    def ok(self):
        return self.code.startswith("2") or self.code.startswith("3")


@dataclass
class Exchange:
    command: str              # "CONNECT", "EHLO", "XCLIENT", "MAIL", "RCPT", "DATA", "DOT", "QUIT"
    sent: str                 # the line the client sent ("" for CONNECT and the message dot)
    reply: Reply = None


@dataclass
class Session:
    argv: list
    exchanges: list
    closed_by_server: bool    # the server dropped the connection before our QUIT
    timed_out: bool           # swaks gave up waiting for a reply
    exit_code: int
    transcript: str
    seconds: float

    def first_failure(self):
        """The first exchange whose reply is not 2xx/3xx (QUIT excluded), or None."""
        for x in self.exchanges:
            if x.command != "QUIT" and x.reply is not None and not x.reply.ok:
                return x
        return None

    def outcome(self):
        """One line: the stage and the reply that decided this session."""
        f = self.first_failure()
        if f is not None:
            return f"{f.command} {f.reply}"
        last = [x for x in self.exchanges if x.command not in ("QUIT",) and x.reply]
        if self.timed_out:
            return "TIMED OUT" + (f" after {last[-1].command} {last[-1].reply}" if last else "")
        if not last:
            return "NO REPLY"
        return f"{last[-1].command} {last[-1].reply}"

    def replies(self, command):
        return [x.reply for x in self.exchanges if x.command == command and x.reply]

    def queue_id(self):
        for x in self.exchanges:
            if x.command == "DOT" and x.reply and x.reply.ok:
                m = re.search(r"queued as ([0-9A-Za-z]+)", x.reply.text)
                if m:
                    return m.group(1)
        return None


_REPLY = re.compile(r"^(\d{3})([ -])(?:(\d\.\d{1,3}\.\d{1,3}) )?(.*)$")


def _command_name(sent):
    word = sent.split(" ", 1)[0].split(":", 1)[0].upper()
    return {"HELO": "EHLO", "EHLO": "EHLO"}.get(word, word)


def parse_transcript(text):
    """swaks prints "<-  " for a reply line, "<** " for an error reply, " -> " for ours."""
    exchanges = [Exchange("CONNECT", "")]
    closed = timed_out = False
    in_data = False
    for raw in text.splitlines():
        if raw.startswith(" -> ") or raw.startswith(" ~> "):
            sent = raw[4:]
            if in_data:
                if sent == ".":
                    exchanges.append(Exchange("DOT", ""))
                    in_data = False
                continue
            exchanges.append(Exchange(_command_name(sent), sent))
        elif raw.startswith("<-  ") or raw.startswith("<** ") or raw.startswith("<~  "):
            line = raw[4:]
            m = _REPLY.match(line)
            if not m:
                continue
            x = exchanges[-1]
            if x.reply is None:
                x.reply = Reply(m.group(1), "", "", [])
            x.reply.lines.append(line)
            if m.group(2) == " ":          # last line of a (multi-line) reply
                x.reply.code = m.group(1)
                x.reply.dsn = m.group(3) or ""
                x.reply.text = m.group(4)
                if x.command == "DATA" and x.reply.code == "354":
                    in_data = True
        elif raw.startswith("*** ") and "timed out" in raw.lower():
            timed_out = True
        elif raw.startswith("*** ") and "closed connection" in raw:
            closed = True
    # A reply followed by no reply to our QUIT also means the server hung up.
    quit = [x for x in exchanges if x.command == "QUIT"]
    if quit and quit[-1].reply is None and not timed_out:
        closed = True
    return exchanges, closed, timed_out


def swaks(port, local_addr=None, helo="", mail_from="", rcpts=("user@sink.test",),
          xclient=None, quit_after="RCPT", body=None, headers=None, ipv6=None):
    """Run one session. local_addr binds the client side (its own source address in the
    namespace); the server address follows its family: 127.0.0.1 or ::1."""
    if ipv6 is None:
        ipv6 = bool(local_addr and ":" in local_addr)
    server = "::1" if ipv6 else "127.0.0.1"
    argv = ["swaks", "--server", server, "--port", str(port), "--timeout", f"{SWAKS_TIMEOUT_S}s",
            "--helo", helo, "--from", mail_from, "--to", ",".join(rcpts)]
    if ipv6:
        argv.append("-6")
    if local_addr:
        argv += ["--local-interface", local_addr]
    if xclient:
        argv += ["--xclient", xclient]
    if quit_after:
        argv += ["--quit-after", quit_after]
    if headers:
        for h in headers:
            argv += ["--add-header", h]
    if body is not None:
        argv += ["--body", body]
    t0 = time.monotonic()
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL)
    dt = time.monotonic() - t0
    exchanges, closed, timed_out = parse_transcript(r.stdout)
    return Session(argv, exchanges, closed, timed_out, r.returncode, r.stdout, dt)
