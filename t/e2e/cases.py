# cases.py -- the case matrix: client address x HELO x sender, over the test zones.
#
# Each case names what reverse-policyd's checks should conclude (SPEC.md section 3:
# client / helo / sender outcome) and what Postfix's built-in restrictions answer
# (the oracle reply, recorded from Postfix 3.7.11 on Debian 12 and asserted, so a
# broken test world shows up as a failing oracle run, not as a silently new table).
# Not here: running sessions (smtp.py), the world (world.py), configs (configs.py).

from dataclasses import dataclass

RCPT = "user@sink.test"


@dataclass(frozen=True)
class Differs:
    """reverse-policyd with preset = "postfix" answers differently here, on purpose."""
    why: str
    ours: str                 # the reply we must give instead of the oracle's


@dataclass(frozen=True)
class Case:
    id: str
    what: str                 # one line for the table
    client: str               # source address the test client connects from
    helo: str
    sender: str               # "<>" = null sender
    # SPEC section 3 outcome of each check, optionally ":detail" (which text the preset
    # uses, or that only the forged comparison is unknown):
    want_client: str          # pass no_ptr mismatch tempfail:ptr tempfail:forward
    want_helo: str            # pass invalid[:literal] non_fqdn not_found forged tempfail
    want_sender: str          # pass not_found null_mx forged tempfail[:forged] skip
    oracle: str               # Postfix's reply: "RCPT 450 4.7.1 ..." or "RCPT 250 2.1.5 Ok"
    differs: Differs = None


def lit(addr):
    """The HELO address literal of addr (RFC 5321 4.1.3)."""
    return f"[IPv6:{addr}]" if ":" in addr else f"[{addr}]"


def client_case(id, what, addr, want, oracle, differs=None):
    # HELO is the client's own address literal (helo pass) and the sender is <>
    # (sender skip), so only the client check can decide.
    return Case(id, what, addr, lit(addr), "<>", want, "pass", "skip", oracle, differs)


def helo_case(id, what, helo, want, oracle, client="192.0.2.10"):
    # From host.example.test[192.0.2.10] (FCrDNS pass) unless said, sender <>.
    return Case(id, what, client, helo, "<>", "pass", want, "skip", oracle)


def sender_case(id, what, sender, want, oracle, client="192.0.2.10", helo="host.example.test"):
    return Case(id, what, client, helo, sender, "pass", "pass", want, oracle)


# Postfix 3.7's replies (smtpd_check.c), as the oracle gave them. The client
# restrictions have no "<name[addr]>: " prefix; a policy server's answer from
# smtpd_client_restrictions has one (SPEC.md section 2: the deliberate difference).
OK = "RCPT 250 2.1.5 Ok"


def no_ptr(addr):
    return f"RCPT 450 4.7.1 Client host rejected: cannot find your reverse hostname, [{addr}]"


def mismatch(addr):
    return f"RCPT 450 4.7.25 Client host rejected: cannot find your hostname, [{addr}]"


def helo_rejected(helo, reply):
    """reply = "CODE DSN text" as the restriction words it."""
    code, dsn, text = reply.split(" ", 2)
    return f"RCPT {code} {dsn} <{helo}>: Helo command rejected: {text}"


def helo_not_found(helo):
    return helo_rejected(helo, "450 4.7.1 Host not found")


def sender_not_found(sender):
    return f"RCPT 450 4.1.8 <{sender}>: Sender address rejected: Domain not found"


def sender_null_mx(sender):
    domain = sender.split("@", 1)[1]
    return (f"RCPT 550 5.7.27 <{sender}>: Sender address rejected: "
            f"Domain {domain} does not accept mail (nullMX)")


TWO_PTR = Differs("Postfix forward-confirms only the first PTR name; SPEC section 3 "
                  "examines up to max_ptr_names, so the second one confirms", OK)

CASES = [
    # --- client: PTR and forward confirmation ------------------------------------------
    client_case("c-pass-v4", "FCrDNS pass, IPv4", "192.0.2.10", "pass", OK),
    client_case("c-pass-v4-aonly", "FCrDNS pass, name with A only", "192.0.2.11", "pass", OK),
    client_case("c-pass-v6", "FCrDNS pass, IPv6", "2001:db8::10", "pass", OK),
    client_case("c-pass-v6-aaaaonly", "FCrDNS pass, IPv6, name with AAAA only",
                "2001:db8::11", "pass", OK),
    client_case("c-noptr-v4", "no PTR (NXDOMAIN)", "192.0.2.20", "no_ptr", no_ptr("192.0.2.20")),
    client_case("c-noptr-v6", "no PTR (NXDOMAIN), IPv6", "2001:db8::20", "no_ptr",
                no_ptr("2001:db8::20")),
    client_case("c-ptr-nodata", "no PTR (NODATA: only TXT)", "192.0.2.29", "no_ptr",
                no_ptr("192.0.2.29")),
    client_case("c-ptr-nxname", "PTR name does not resolve", "192.0.2.21", "mismatch",
                mismatch("192.0.2.21")),
    client_case("c-ptr-nxname-v6", "PTR name does not resolve, IPv6", "2001:db8::21", "mismatch",
                mismatch("2001:db8::21")),
    client_case("c-ptr-elsewhere", "PTR name's A points elsewhere", "192.0.2.22", "mismatch",
                mismatch("192.0.2.22")),
    client_case("c-ptr-elsewhere-v6", "PTR name's AAAA points elsewhere", "2001:db8::22",
                "mismatch", mismatch("2001:db8::22")),
    client_case("c-ptr-second", "two PTR names, only the second confirms", "192.0.2.23", "pass",
                mismatch("192.0.2.23"), differs=TWO_PTR),
    client_case("c-ptr-second-v6", "two PTR names, only the second confirms, IPv6",
                "2001:db8::23", "pass", mismatch("2001:db8::23"), differs=TWO_PTR),
    client_case("c-ptr-servfail", "PTR lookup SERVFAIL", "192.0.2.30", "tempfail:ptr",
                no_ptr("192.0.2.30")),
    client_case("c-ptr-servfail-v6", "PTR lookup SERVFAIL, IPv6", "2001:db8::30", "tempfail:ptr",
                no_ptr("2001:db8::30")),
    client_case("c-ptr-timeout", "PTR lookup times out", "192.0.2.40", "tempfail:ptr",
                no_ptr("192.0.2.40")),
    client_case("c-ptr-timeout-v6", "PTR lookup times out, IPv6", "2001:db8::40", "tempfail:ptr",
                no_ptr("2001:db8::40")),
    client_case("c-ptr-refused", "PTR lookup REFUSED", "192.0.2.41", "tempfail:ptr",
                no_ptr("192.0.2.41")),
    client_case("c-fwd-servfail", "PTR found, its A lookup SERVFAIL", "192.0.2.42",
                "tempfail:forward",
                mismatch("192.0.2.42")),
    client_case("c-fwd-timeout", "PTR found, its A lookup times out", "192.0.2.43",
                "tempfail:forward",
                mismatch("192.0.2.43")),
    client_case("c-ptr-bang", "PTR name with an illegal character (bad!name)", "192.0.2.24",
                "no_ptr", no_ptr("192.0.2.24")),
    client_case("c-ptr-numeric", "PTR name all-numeric (192.0.2.26.)", "192.0.2.26", "no_ptr",
                no_ptr("192.0.2.26")),
    client_case("c-ptr-underscore", "PTR name with an underscore (tolerated)", "192.0.2.27",
                "pass", OK),
    client_case("c-ptr-ctrl", "PTR name with a control byte (bad\\010name)", "192.0.2.28",
                "no_ptr", no_ptr("192.0.2.28")),
    client_case("c-2317-pass", "RFC 2317 classless PTR via CNAME, confirms", "203.0.113.9",
                "pass", OK),
    client_case("c-2317-mismatch", "RFC 2317 classless PTR via CNAME, points elsewhere",
                "203.0.113.10", "mismatch", mismatch("203.0.113.10")),
    client_case("c-2317-noptr", "RFC 2317 CNAME to a missing PTR", "203.0.113.11", "no_ptr",
                no_ptr("203.0.113.11")),

    # --- HELO ---------------------------------------------------------------------------
    helo_case("h-match", "HELO resolves to the client", "host.example.test", "pass", OK),
    helo_case("h-forged", "HELO resolves elsewhere (forged)", "elsewhere.example.test",
              "forged", OK),
    helo_case("h-nxdomain", "HELO NXDOMAIN", "nonexistent.example.test", "not_found",
              helo_not_found("nonexistent.example.test")),
    helo_case("h-nodata", "HELO exists, no A/AAAA/MX", "nodata.example.test", "not_found",
              helo_not_found("nodata.example.test")),
    helo_case("h-mx-only", "HELO has only an MX (its host = the client)", "mx-only.example.test",
              "pass", OK, client="192.0.2.25"),
    helo_case("h-a-only", "HELO has only A", "v4only.example.test", "pass", OK,
              client="192.0.2.11"),
    helo_case("h-aaaa-only", "HELO has only AAAA, IPv6 client", "v6only.example.test", "pass",
              OK, client="2001:db8::11"),
    helo_case("h-nonfqdn", "HELO not an FQDN", "myhost", "non_fqdn",
              helo_rejected("myhost", "504 5.5.2 need fully-qualified hostname")),
    helo_case("h-literal-match", "HELO address literal = client", "[192.0.2.10]", "pass", OK),
    helo_case("h-literal-other", "HELO address literal != client", "[192.0.2.99]", "forged", OK),
    helo_case("h-literal6-match", "HELO IPv6 literal = client", "[IPv6:2001:db8::10]", "pass",
              OK, client="2001:db8::10"),
    helo_case("h-literal6-other", "HELO IPv6 literal != client", "[IPv6:2001:db8::99]", "forged",
              OK, client="2001:db8::10"),
    helo_case("h-invalid", "HELO with an invalid character", "bad!name.example.test", "invalid",
              helo_rejected("bad!name.example.test", "501 5.5.2 Invalid name")),
    helo_case("h-invalid-literal", "HELO invalid address literal", "[192.0.2.300]",
              "invalid:literal",
              helo_rejected("[192.0.2.300]", "501 5.5.2 invalid ip address")),
    # Postfix: a bare address is a valid HELO (valid_hostaddr) but not a fully-qualified
    # host name, so reject_non_fqdn_helo_hostname answers, not the invalid check.
    helo_case("h-bare-ip", "HELO bare IPv4 address, no brackets", "192.0.2.10", "non_fqdn",
              helo_rejected("192.0.2.10", "504 5.5.2 need fully-qualified hostname")),
    helo_case("h-underscore", "HELO with an underscore", "under_score.example.test", "pass", OK,
              client="192.0.2.27"),
    helo_case("h-servfail", "HELO lookup SERVFAIL", "x.servfail.example.test", "tempfail",
              helo_not_found("x.servfail.example.test")),
    helo_case("h-timeout", "HELO lookup times out", "timeout.example.test", "tempfail",
              helo_not_found("timeout.example.test")),
    helo_case("h-refused", "HELO lookup REFUSED", "refused.example.test", "tempfail",
              helo_not_found("refused.example.test")),

    # --- sender domain --------------------------------------------------------------------
    sender_case("s-mx", "sender domain with MX (and A = client)", "a@host.example.test", "pass",
                OK),
    sender_case("s-mx-forged", "sender domain with MX, client not among them",
                "a@multi-mx.example.test", "forged", OK),
    sender_case("s-a-only", "sender domain with only A", "a@v4only.example.test", "pass", OK,
                client="192.0.2.11", helo="v4only.example.test"),
    sender_case("s-aaaa-only", "sender domain with only AAAA", "a@v6only.example.test", "pass",
                OK, client="2001:db8::11", helo="v6only.example.test"),
    sender_case("s-mx-aaaa", "sender MX host with only AAAA", "a@aaaa-mx.example.test", "pass",
                OK, client="2001:db8::11", helo="v6only.example.test"),
    sender_case("s-nxdomain", "sender domain NXDOMAIN", "a@nonexistent.example.test",
                "not_found", sender_not_found("a@nonexistent.example.test")),
    sender_case("s-nullmx", "sender domain null MX (RFC 7505)", "a@nullmx.example.test",
                "null_mx", sender_null_mx("a@nullmx.example.test")),
    sender_case("s-mx-nxhost", "sender MX host does not resolve", "a@mx-nxhost.example.test",
                "forged", OK),
    sender_case("s-servfail", "sender domain SERVFAIL", "a@servfail.example.test", "tempfail",
                sender_not_found("a@servfail.example.test")),
    sender_case("s-timeout", "sender domain times out", "a@timeout.example.test", "tempfail",
                sender_not_found("a@timeout.example.test")),
    sender_case("s-refused", "sender domain REFUSED", "a@refused.example.test", "tempfail",
                sender_not_found("a@refused.example.test")),
    sender_case("s-nodata", "sender domain exists, no MX/A/AAAA", "a@nodata.example.test",
                "not_found", sender_not_found("a@nodata.example.test")),
    # The MX exists, so the domain is found; only the "forged" comparison cannot be made.
    # Postfix accepts; with forged = DUNNO (preset, default) so must we.
    sender_case("s-mx-servfail", "sender MX host lookup SERVFAIL", "a@mx-servfail.example.test",
                "tempfail:forged", OK),
    sender_case("s-mx-timeout", "sender MX host lookup times out", "a@mx-timeout.example.test",
                "tempfail:forged", OK),
    sender_case("s-null", "null sender <>", "<>", "skip", OK),

    # --- several checks fail: which one answers -------------------------------------------
    Case("x-all-bad", "no PTR, HELO NXDOMAIN, sender NXDOMAIN", "192.0.2.20",
         "nonexistent.example.test", "a@nonexistent.example.test",
         "no_ptr", "not_found", "not_found", no_ptr("192.0.2.20")),
    # Postfix answers a temporary PTR failure with a plain 450 from the client list;
    # SPEC makes it DEFER_IF_PERMIT, so the sender's rejection later wins.
    Case("x-ptr-tempfail-sender-nx", "PTR SERVFAIL, sender NXDOMAIN", "192.0.2.30",
         "[192.0.2.30]", "a@nonexistent.example.test", "tempfail:ptr", "pass", "not_found",
         no_ptr("192.0.2.30"),
         Differs("Postfix rejects a temporary PTR failure with 450 at once; SPEC answers "
                 "DEFER_IF_PERMIT, so a later rejection wins",
                 sender_not_found("a@nonexistent.example.test"))),
    Case("x-helo-tempfail-nullmx", "HELO SERVFAIL, sender null MX", "192.0.2.10",
         "x.servfail.example.test", "a@nullmx.example.test", "pass", "tempfail", "null_mx",
         sender_null_mx("a@nullmx.example.test")),
]


# {ptr_names} of the clients whose PTR names do not confirm, as the zones hold them
# (every valid PTR name, comma-separated; the strict example's mismatch text uses it).
PTR_NAMES = {
    "192.0.2.21": "nonexistent.example.test", "2001:db8::21": "nonexistent.example.test",
    "192.0.2.22": "elsewhere.example.test", "2001:db8::22": "elsewhere.example.test",
    "203.0.113.10": "classless-mismatch.example.test",
}


def client_addresses():
    return sorted({c.client for c in CASES})
