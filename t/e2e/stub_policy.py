# stub_policy.py -- a stand-in policy server for checking the harness itself.
#
# It speaks the Postfix policy protocol (SMTPD_POLICY_README) on a unix socket and
# answers from the case tables: the request's client_address, helo_name and sender
# name a case, policy_context names the check, and configs.py gives the action. It
# does no DNS. A run against it shows that the harness and its model of Postfix
# (configs.expected_reply) agree with what Postfix really does; it says nothing about
# reverse-policyd, which replaces it in the real suites.
#
# Runs as a thread of the inner driver; stop() closes the socket and joins.

import os
import socketserver
import threading

import configs


class _Handler(socketserver.StreamRequestHandler):
    def handle(self):
        stub = self.server.stub
        while True:
            attrs = {}
            while True:
                line = self.rfile.readline(4096)
                if not line:
                    return
                line = line.rstrip(b"\n").decode("utf-8", "replace")
                if line == "":
                    break
                k, _, v = line.partition("=")
                attrs[k] = v
            action = stub.answer(attrs)
            self.wfile.write(f"action={action}\n\n".encode())
            self.wfile.flush()


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class StubPolicy:
    def __init__(self, path, config, case_list, log_path):
        self.path = path
        self.config = config
        self.by_key = {(c.client, c.helo, c.sender): c for c in case_list}
        self.log_path = log_path
        self.lock = threading.Lock()
        self.instances_with_header = set()
        self.requests = []
        self.server = None
        self.thread = None

    def start(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.server = _Server(self.path, _Handler)
        self.server.stub = self
        os.chmod(self.path, 0o666)
        self.thread = threading.Thread(target=self.server.serve_forever, name="stub-policy",
                                       daemon=True)
        self.thread.start()

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=5)
            self.server = None

    def answer(self, attrs):
        sender = attrs.get("sender", "") or "<>"
        case = self.by_key.get((attrs.get("client_address", ""), attrs.get("helo_name", ""),
                                sender))
        check = attrs.get("policy_context", "")
        authenticated = attrs.get("sasl_username", "") != ""
        action = "DUNNO"
        if case is not None and check in configs.CHECKS:
            actions = {c: configs.stub_action(self.config, case, c, authenticated)
                       for c in configs.CHECKS}
            action = actions[check]
            instance = attrs.get("instance", "")
            punitive = any(configs.rejects_or_defers(a) for a in actions.values())
            with self.lock:
                if (self.config.warning and not punitive and configs.any_check_failed(case)
                        and instance not in self.instances_with_header):
                    self.instances_with_header.add(instance)
                    outcomes = " ".join(f"{c}={configs.outcome_of(case, c)[0]}"
                                        for c in configs.CHECKS)
                    action = f"PREPEND X-Reverse-Lookup: {outcomes}"
        with self.lock:
            self.requests.append(attrs)
            with open(self.log_path, "a") as f:
                f.write(" ".join(f"{k}={attrs.get(k, '')}" for k in (
                    "queue_id", "protocol_state", "policy_context", "client_address",
                    "helo_name", "sender", "recipient", "sasl_username", "instance"))
                        + f" -> action={action}\n")
        return action
