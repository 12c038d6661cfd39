#!/usr/bin/env python3
# vmfence - tests/xenapi/fake-xapi.py: a FAKE XenServer/XCP-ng pool master
# (or pool member) speaking XAPI's XML-RPC, for testing fence_xenapi.
#
# WHY A FAKE: no XenServer or XCP-ng host can run on a test machine (it needs
# the Xen hypervisor, dom0 and xapi), so this program stands in for the one
# thing a fence agent talks to: the XAPI XML-RPC endpoint.  It is written
# from XAPI's documented wire format and error codes (see
# /work/shared/docs/xenapi.md, section 2) and is itself validated against
# Debian's reference agent by tests/xenapi/ref-vs-fake.sh, so a change that
# makes it less realistic is caught there.
#
# What it fakes, like XAPI does:
#   * XML-RPC at POST / and POST /RPC2 (HTTP/1.1, keep-alive, Content-Length);
#     a request that is not XML-RPC gets HTTP 500 with an HTML page.
#   * Every reply is one struct: {Status: "Success", Value: v} or
#     {Status: "Failure", ErrorDescription: [CODE, param...]}.
#   * Strings are sent as UNTYPED <value>text</value> (xapi's rpclib does so),
#     booleans as <boolean>, integers (int64) as decimal strings, datetimes
#     as <dateTime.iso8601>, maps as <struct>, sets as <array>.
#   * session.login_with_password(user, pw[, version[, originator]]),
#     session.logout; the session ref is the first argument of every other
#     call (SESSION_INVALID [ref] otherwise, also for an expired session);
#     SESSION_AUTHENTICATION_FAILED [user, msg]; in slave mode every login
#     (and every call) answers HOST_IS_SLAVE [master_address].
#   * VM.get_by_uuid (UUID_INVALID [VM, uuid]), VM.get_by_name_label (every
#     match, templates, snapshots and the control domain included),
#     VM.get_record (HANDLE_INVALID [VM, ref]), VM.get_all,
#     VM.get_all_records, VM.get_power_state and the other VM.get_<field>,
#     VM.hard_shutdown, VM.start(vm, start_paused, force), VM.hard_reboot,
#     VM.clean_shutdown, VM.power_state_reset (recorded so tests can assert
#     it is never called), host.* and pool.* getters for the pool members.
#     Power preconditions follow xapi_vm_lifecycle.ml: hard_shutdown from
#     Running/Paused/Suspended, hard_reboot from Running/Paused, start from
#     Halted only; otherwise VM_BAD_POWER_STATE [vm, expected, actual] with
#     lowercase states.  Templates (snapshots are templates) give
#     VM_IS_TEMPLATE, the control domain OPERATION_NOT_ALLOWED.
#   * Wrong parameter counts: MESSAGE_PARAMETER_COUNT_MISMATCH [method,
#     expected, received] (counting the session like xapi); unknown methods:
#     MESSAGE_METHOD_UNKNOWN [method].
#
# What it does NOT fake: JSON-RPC (/jsonrpc answers 404), events, tasks and
# Async.*, RBAC, the certificate thumbprint headers, real VM behaviour.
#
# Failure modes (command line flags; most can be changed at run time
# through the control file, see "ctl" below):
#   --mode hang       accept, read the request and never answer (the
#                     connection is closed after --hang-max seconds)
#   --mode html500    answer every POST with HTTP 500 and an HTML page
#   --hang-method M   hang only on calls of method M (repeatable)
#   --power-fail CODE power calls fail with [CODE, host_ref] (HOST_OFFLINE)
#   --power-delay N   power calls succeed at once, the state changes N s later
#   --power-call-delay N  power calls block N s, then change the state
#   --password PW     the password that works (anything else is wrong)
#   --slave-of ADDR   be a pool member whose master is ADDR (HOST_IS_SLAVE)
#   --session-max-calls N  a session expires after N calls (SESSION_INVALID)
#
# Observability: after every request the fake rewrites --state FILE (JSON,
# atomically): VM power states, logins, logouts, failed logins, HOST_IS_SLAVE
# answers, open sessions, originators, HTTP paths and every call made (the
# password is never stored).  Subcommands for the shell tests:
#   fake-xapi.py query STATE WHAT [ARG]   power VM | reboots VM | logins |
#       logouts | login_failures | slave_refusals | sessions_open | requests
#       | originators | calls [METHOD] | paths | versions
#   fake-xapi.py ctl CONTROL STATE key=value... [power:VM=State...] [reset]
#       merges keys into the control file (values are JSON when they parse,
#       strings otherwise), sets VM power states, "reset" zeroes the
#       counters; waits (at most 5 s) until the server has applied it.
#
# Python standard library only.  Traffic: it binds the address it is given
# (tests use loopback addresses only).

import argparse
import html
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
import uuid as uuidlib
import xmlrpc.client
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# ---------------------------------------------------------------------------
# The pool.  UUIDs are fixed so that tests can name VMs by UUID; refs differ
# from UUIDs (as in XAPI, where a ref is an opaque handle).

UUID_FMT = "a1b2c3d4-0000-4000-8000-0000000000%02d"


def vm_uuid(n):
    return UUID_FMT % n


# (number, name_label, power_state, kind) with kind one of vm, template,
# snapshot (a snapshot is also a template, xapi_vm_clone.ml), dom0
DEFAULT_POOL = [
    (1, "vm1", "Running", "vm"),
    (2, "vm2", "Running", "vm"),
    (3, "vm-off", "Halted", "vm"),
    (4, "vm-paused", "Paused", "vm"),
    (5, "vm-suspended", "Suspended", "vm"),
    (6, "dup", "Running", "vm"),
    (7, "dup", "Halted", "vm"),
    (8, "web", "Running", "vm"),
    (9, "web", "Halted", "snapshot"),      # a snapshot of VM 8
    (10, "db", "Running", "vm"),
    (11, "db", "Halted", "template"),     # a template sharing a VM's name
    (12, "tmpl-debian", "Halted", "template"),
    (13, "Control domain on host: xcp-fake1", "Running", "dom0"),
    (14, "vm3", "Halted", "vm"),
]

NULL_REF = "OpaqueRef:NULL"
POWER_STATES = ("Halted", "Paused", "Running", "Suspended")


class XapiFailure(Exception):
    """An XAPI error: becomes {Status: Failure, ErrorDescription: [...]}."""

    def __init__(self, *desc):
        super().__init__(desc[0])
        self.desc = [str(d) for d in desc]


class Hang(Exception):
    """Raised to make the handler hold the connection without answering."""


# ---------------------------------------------------------------------------
# XML-RPC encoding the way xapi's rpclib does it (strings untyped).

def _esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class DateTime(str):
    """A value to be sent as <dateTime.iso8601> (e.g. start_time)."""


def encode_value(v):
    if isinstance(v, bool):
        return "<value><boolean>%d</boolean></value>" % (1 if v else 0)
    if isinstance(v, DateTime):
        return "<value><dateTime.iso8601>%s</dateTime.iso8601></value>" % v
    if isinstance(v, int):
        # xapi sends int64 as a decimal string
        return "<value>%d</value>" % v
    if isinstance(v, float):
        return "<value><double>%r</double></value>" % v
    if isinstance(v, str):
        return "<value>%s</value>" % _esc(v)
    if isinstance(v, (list, tuple)):
        return ("<value><array><data>" + "".join(encode_value(x) for x in v)
                + "</data></array></value>")
    if isinstance(v, dict):
        return ("<value><struct>" + "".join(
            "<member><name>%s</name>%s</member>" % (_esc(str(k)), encode_value(x))
            for k, x in v.items()) + "</struct></value>")
    if v is None:
        return "<value></value>"   # void is an empty string in XAPI
    raise TypeError("cannot encode %r" % (v,))


def encode_response(struct):
    # xapi sends no XML declaration; the whole reply is one struct
    return ("<methodResponse><params><param>" + encode_value(struct)
            + "</param></params></methodResponse>").encode("utf-8")


HTML_500 = ("<html><body><h1>HTTP 500 internal server error</h1>"
            "The server could not process the request (fake XAPI: %s)."
            "</body></html>")


# ---------------------------------------------------------------------------
# The pool's state, shared by the handler threads.

class Pool:
    def __init__(self, args):
        self.lock = threading.RLock()
        self.args = args
        self.user = args.username
        self.password = args.password
        self.mode = args.mode
        self.hang_methods = list(args.hang_method or [])
        self.power_fail = args.power_fail
        self.power_delay = args.power_delay
        self.power_call_delay = args.power_call_delay
        self.slave_of = args.slave_of
        self.session_max_calls = args.session_max_calls
        self.control_seq = 0
        self.stop = threading.Event()
        self.host_ref = "OpaqueRef:0b057000-fa4e-4000-8000-000000000001"
        self.pool_ref = "OpaqueRef:0900100f-fa4e-4000-8000-000000000001"
        self.hosts = [a for a in (args.hosts or args.bind).split(",") if a]
        self.vms = {}          # ref -> record
        for n, name, state, kind in DEFAULT_POOL:
            ref = "OpaqueRef:%08x-5eed-4bad-9e11-%012x" % (n * 7919, n * 104729)
            self.vms[ref] = self._record(n, name, state, kind)
        for ref, r in self.vms.items():
            if r["is_a_snapshot"]:
                r["snapshot_of"] = self.ref_of_uuid(vm_uuid(8))
        self.pending = {}      # ref -> threading.Timer of a delayed change
        self.sessions = {}     # ref -> {"calls": n, "originator": s}
        self.reset_stats()

    def reset_stats(self):
        self.logins = 0
        self.logouts = 0
        self.login_failures = 0
        self.slave_refusals = 0
        self.requests = 0
        self.originators = []
        self.versions = []
        self.paths = []
        self.calls = []
        for r in self.vms.values():
            r["_reboots"] = 0

    def _record(self, n, name, state, kind):
        running = state != "Halted"
        return {
            "uuid": vm_uuid(n),
            "name_label": name,
            "name_description": "fake %s %d" % (kind, n),
            "power_state": state,
            "is_a_template": kind in ("template", "snapshot"),
            "is_a_snapshot": kind == "snapshot",
            "is_control_domain": kind == "dom0",
            "snapshot_of": NULL_REF,
            "resident_on": self.host_ref if running else NULL_REF,
            "domid": (0 if kind == "dom0" else n) if running else -1,
            "memory_static_max": 1073741824,
            "VCPUs_max": 2,
            "allowed_operations": [],
            "other_config": {},
            "tags": [],
            "snapshot_time": DateTime("19700101T00:00:00Z"),
            "_kind": kind,
            "_reboots": 0,
        }

    def ref_of_uuid(self, u):
        for ref, r in self.vms.items():
            if r["uuid"] == u:
                return ref
        return None

    def find_vm(self, key):
        """A VM by UUID or unique non-template name (test helper only)."""
        for ref, r in self.vms.items():
            if r["uuid"] == key:
                return ref
        refs = [ref for ref, r in self.vms.items()
                if r["name_label"] == key and r["_kind"] == "vm"]
        return refs[0] if len(refs) == 1 else None

    # -- control file -------------------------------------------------------
    def apply_control(self, ctl):
        """Apply a control-file dict (see "ctl" in the header)."""
        with self.lock:
            for k in ("mode", "power_fail", "power_delay", "power_call_delay",
                      "slave_of", "session_max_calls", "password"):
                if k in ctl:
                    setattr(self, k, ctl[k])
            if "hang_methods" in ctl:
                self.hang_methods = list(ctl["hang_methods"] or [])
            seq = int(ctl.get("seq", 0))
            if seq != self.control_seq:
                # one-shot parts: only when the sequence number moved
                for key, state in (ctl.get("power") or {}).items():
                    ref = self.find_vm(key)
                    if ref and state in POWER_STATES:
                        self._set_power(ref, state)
                if ctl.get("reset_seq") == seq:
                    self.reset_stats()
                if ctl.get("expire_seq") == seq:
                    self.sessions.clear()   # every open session expires
                self.control_seq = seq

    # -- state file ---------------------------------------------------------
    def snapshot(self):
        with self.lock:
            return {
                "pid": os.getpid(),
                "bind": self.args.bind,
                "port": self.args.port,
                "control_seq": self.control_seq,
                "mode": self.mode,
                "slave_of": self.slave_of,
                "logins": self.logins,
                "logouts": self.logouts,
                "login_failures": self.login_failures,
                "slave_refusals": self.slave_refusals,
                "sessions_open": len(self.sessions),
                "requests": self.requests,
                "originators": self.originators,
                "versions": self.versions,
                "paths": self.paths,
                "calls": self.calls[-5000:],
                "vms": {r["uuid"]: {"name": r["name_label"],
                                    "power_state": r["power_state"],
                                    "kind": r["_kind"],
                                    "reboots": r["_reboots"]}
                        for r in self.vms.values()},
            }

    def write_state(self):
        # under the pool lock, so the file is replaced in the order the
        # snapshots were taken (a reader never sees an older state after a
        # newer one); written before the reply is sent, so a test reading
        # the file after the agent has exited sees every call
        if not self.args.state:
            return
        with self.lock:
            data = json.dumps(self.snapshot(), indent=1, sort_keys=True)
            tmp = self.args.state + ".tmp"
            with open(tmp, "w") as f:
                f.write(data)
            os.replace(tmp, self.args.state)

    # -- power --------------------------------------------------------------
    def _set_power(self, ref, state):
        r = self.vms[ref]
        r["power_state"] = state
        running = state != "Halted"
        r["resident_on"] = self.host_ref if running else NULL_REF
        r["domid"] = (0 if r["_kind"] == "dom0" else 100) if running else -1

    def _power_change(self, ref, state, reboot=False):
        """Apply a successful power call, now or after the configured delay."""
        def done():
            with self.lock:
                self.pending.pop(ref, None)
                self._set_power(ref, state)
                if reboot:
                    self.vms[ref]["_reboots"] += 1
            self.write_state()

        block = float(self.power_call_delay or 0)
        delay = float(self.power_delay or 0)
        if block > 0:
            # synchronous like the real call, only slower; other requests
            # are served meanwhile (the lock is dropped while waiting)
            self.pending[ref] = None
            self.write_state()
            self.lock.release()
            try:
                self.stop.wait(block)
            finally:
                self.lock.acquire()
            done()
        elif delay > 0:
            t = threading.Timer(delay, done)
            t.daemon = True
            self.pending[ref] = t
            t.start()
        else:
            done()

    def _vm_for_power(self, ref, op):
        r = self._vm(ref)
        if ref in self.pending:
            raise XapiFailure("OTHER_OPERATION_IN_PROGRESS", "VM", ref)
        if r["is_a_template"]:
            raise XapiFailure("VM_IS_TEMPLATE", ref, op)
        if r["is_control_domain"]:
            raise XapiFailure("OPERATION_NOT_ALLOWED",
                              "This operation is not allowed on the control domain")
        if self.power_fail:
            # e.g. HOST_OFFLINE [host]: the resident host is not live
            raise XapiFailure(self.power_fail, self.host_ref)
        return r

    def _vm(self, ref):
        if not isinstance(ref, str) or ref not in self.vms:
            raise XapiFailure("HANDLE_INVALID", "VM", ref)
        return self.vms[ref]

    @staticmethod
    def _public(r):
        return {k: v for k, v in r.items() if not k.startswith("_")}

    # -- dispatch -------------------------------------------------------------
    # expected parameter count per method, the session included
    ARITY = {
        "session.logout": 1,
        "VM.get_by_uuid": 2, "VM.get_by_name_label": 2, "VM.get_record": 2,
        "VM.get_all": 1, "VM.get_all_records": 1,
        "VM.hard_shutdown": 2, "VM.clean_shutdown": 2, "VM.hard_reboot": 2,
        "VM.start": 4, "VM.power_state_reset": 2,
        "host.get_all": 1, "host.get_all_records": 1, "host.get_record": 2,
        "host.get_address": 2, "pool.get_all": 1, "pool.get_master": 2,
        "pool.get_all_records": 1, "pool.get_record": 2,
        "session.get_this_host": 2,
    }

    def call(self, method, params):
        """Run one XML-RPC call; returns the Value or raises XapiFailure."""
        if method in self.hang_methods:
            raise Hang()
        if method == "session.login_with_password":
            return self.login(params)
        arity = self.ARITY.get(method)
        if arity is None and method.startswith("VM.get_"):
            arity = 2
        if arity is None:
            raise XapiFailure("MESSAGE_METHOD_UNKNOWN", method)
        if len(params) != arity:
            raise XapiFailure("MESSAGE_PARAMETER_COUNT_MISMATCH", method,
                              arity, len(params))
        if self.slave_of:
            # a pool member refuses everything but tells where the master is
            self.slave_refusals += 1
            raise XapiFailure("HOST_IS_SLAVE", self.slave_of)
        s = params[0]
        sess = self.sessions.get(s) if isinstance(s, str) else None
        if sess is None:
            raise XapiFailure("SESSION_INVALID", s)
        sess["calls"] += 1
        limit = int(self.session_max_calls or 0)
        if limit and sess["calls"] > limit:
            del self.sessions[s]
            raise XapiFailure("SESSION_INVALID", s)
        a = params[1:]
        if method == "session.logout":
            del self.sessions[s]
            self.logouts += 1
            return ""
        if method == "session.get_this_host":
            return self.host_ref
        if method == "VM.get_by_uuid":
            ref = self.ref_of_uuid(a[0])
            if ref is None:
                raise XapiFailure("UUID_INVALID", "VM", a[0])
            return ref
        if method == "VM.get_by_name_label":
            return [ref for ref, r in self.vms.items() if r["name_label"] == a[0]]
        if method == "VM.get_record":
            return self._public(self._vm(a[0]))
        if method == "VM.get_all":
            return list(self.vms)
        if method == "VM.get_all_records":
            return {ref: self._public(r) for ref, r in self.vms.items()}
        if method == "VM.hard_shutdown" or method == "VM.clean_shutdown":
            r = self._vm_for_power(a[0], method.split(".")[1])
            if r["power_state"] == "Halted":
                raise XapiFailure("VM_BAD_POWER_STATE", a[0], "running", "halted")
            if method == "VM.clean_shutdown" and r["power_state"] != "Running":
                raise XapiFailure("VM_BAD_POWER_STATE", a[0], "running",
                                  r["power_state"].lower())
            self._power_change(a[0], "Halted")
            return ""
        if method == "VM.hard_reboot":
            r = self._vm_for_power(a[0], "hard_reboot")
            if r["power_state"] not in ("Running", "Paused"):
                raise XapiFailure("VM_BAD_POWER_STATE", a[0], "running",
                                  r["power_state"].lower())
            self._power_change(a[0], "Running", reboot=True)
            return ""
        if method == "VM.start":
            if not isinstance(a[1], bool) or not isinstance(a[2], bool):
                # xapi's unmarshaller rejects a non-boolean here
                raise XapiFailure("FIELD_TYPE_ERROR",
                                  "start_paused" if not isinstance(a[1], bool) else "force")
            r = self._vm_for_power(a[0], "start")
            if r["power_state"] != "Halted":
                raise XapiFailure("VM_BAD_POWER_STATE", a[0], "halted",
                                  r["power_state"].lower())
            self._power_change(a[0], "Paused" if a[1] else "Running")
            return ""
        if method == "VM.power_state_reset":
            self._vm(a[0])
            self._set_power(a[0], "Halted")
            return ""
        if method.startswith("VM.get_"):
            r = self._vm(a[0])
            field = method[len("VM.get_"):]
            if field not in r or field.startswith("_"):
                raise XapiFailure("MESSAGE_METHOD_UNKNOWN", method)
            return r[field]
        if method in ("host.get_all", "host.get_all_records", "host.get_record",
                      "host.get_address"):
            recs = {}
            for i, addr in enumerate(self.hosts):
                ref = self.host_ref if i == 0 else "OpaqueRef:0b057000-fa4e-4000-8000-%012d" % (i + 1)
                recs[ref] = {"uuid": "b0570000-0000-4000-8000-%012d" % (i + 1),
                             "name_label": "xcp-fake%d" % (i + 1),
                             "address": addr, "enabled": True}
            if method == "host.get_all":
                return list(recs)
            if method == "host.get_all_records":
                return recs
            if a[0] not in recs:
                raise XapiFailure("HANDLE_INVALID", "host", a[0])
            return recs[a[0]] if method == "host.get_record" else recs[a[0]]["address"]
        if method in ("pool.get_all", "pool.get_all_records", "pool.get_record",
                      "pool.get_master"):
            rec = {"uuid": "90010000-0000-4000-8000-000000000001",
                   "name_label": "fake-pool", "master": self.host_ref}
            if method == "pool.get_all":
                return [self.pool_ref]
            if method == "pool.get_all_records":
                return {self.pool_ref: rec}
            if a[0] != self.pool_ref:
                raise XapiFailure("HANDLE_INVALID", "pool", a[0])
            return rec if method == "pool.get_record" else rec["master"]
        raise XapiFailure("MESSAGE_METHOD_UNKNOWN", method)

    def login(self, params):
        if not 2 <= len(params) <= 4:
            raise XapiFailure("MESSAGE_PARAMETER_COUNT_MISMATCH",
                              "session.login_with_password", 2, len(params))
        if self.slave_of:
            # xapi_session.ml: a supporter refuses logins and names its master
            self.slave_refusals += 1
            raise XapiFailure("HOST_IS_SLAVE", self.slave_of)
        user, pw = params[0], params[1]
        if user != self.user or pw != self.password:
            self.login_failures += 1
            raise XapiFailure("SESSION_AUTHENTICATION_FAILED", user,
                              "Authentication failure")
        ref = "OpaqueRef:" + str(uuidlib.uuid4())
        orig = params[3] if len(params) >= 4 else ""
        self.sessions[ref] = {"calls": 0, "originator": orig}
        self.logins += 1
        self.originators.append(orig)
        self.versions.append(params[2] if len(params) >= 3 else "")
        return ref


def redact(method, params):
    """Call arguments for the record, without the password."""
    out = []
    for i, p in enumerate(params):
        if method == "session.login_with_password" and i == 1:
            out.append("<password>")
        elif isinstance(p, (str, bool, int, float)) or p is None:
            out.append(p)
        else:
            out.append(repr(p))
    return out


# ---------------------------------------------------------------------------
# HTTP

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"    # keep-alive, like xapi
    server_version = "xapi"           # xapi sends no Server header; harmless
    timeout = 30                       # idle keep-alive connections
    # buffered writes: the status line, headers and body leave in one
    # segment (written apart, the body waits for the client's delayed ACK,
    # +40 ms per call for every client alike); handle_one_request flushes
    wbufsize = -1

    def log_message(self, fmt, *a):
        if self.server.logf:
            self.server.logf.write("%.3f %s\n" % (time.time(), fmt % a))
            self.server.logf.flush()

    def _send(self, code, body, ctype):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _hang(self):
        # hold the connection open without answering, bounded
        pool = self.server.pool
        pool.stop.wait(self.server.hang_max)
        self.close_connection = True

    def do_GET(self):
        body = b"<html><body>fake XAPI: use XML-RPC (POST /)</body></html>"
        self._send(200, body, "text/html")

    def do_POST(self):
        pool = self.server.pool
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > 1 << 20:
            self._send(413, b"too large", "text/plain")
            return
        body = self.rfile.read(n)
        with pool.lock:
            pool.requests += 1
            pool.paths.append(self.path)
            mode = pool.mode
        if mode == "hang":
            pool.write_state()
            self.log_message("hang on %s", self.path)
            self._hang()
            return
        if mode == "html500":
            pool.write_state()
            self._send(500, (HTML_500 % "html500 mode").encode(), "text/html")
            return
        if self.path not in ("/", "/RPC2"):
            # JSON-RPC (/jsonrpc) and the other handlers are not faked
            self._send(404, b"<html><body>404 not found</body></html>", "text/html")
            return
        try:
            params, method = xmlrpc.client.loads(body)
        except Exception as exn:      # not XML-RPC: xapi answers 500 + HTML
            self._send(500, (HTML_500 % html.escape(type(exn).__name__)).encode(),
                       "text/html")
            return
        entry = {"t": round(time.time(), 3), "method": method,
                 "args": redact(method or "", params), "path": self.path}
        try:
            with pool.lock:
                pool.calls.append(entry)
                value = pool.call(method, list(params))
            reply = {"Status": "Success", "Value": value}
            entry["result"] = "Success"
        except XapiFailure as f:
            reply = {"Status": "Failure", "ErrorDescription": f.desc}
            entry["result"] = f.desc[0]
        except Hang:
            entry["result"] = "(hang)"
            pool.write_state()
            self.log_message("hang in %s", method)
            self._hang()
            return
        pool.write_state()
        self.log_message("%s -> %s", method, entry["result"])
        self._send(200, encode_response(reply), "text/xml")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, pool, tls_ctx, hang_max, logf):
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        self.pool = pool
        self.tls_ctx = tls_ctx
        self.hang_max = hang_max
        self.logf = logf
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        # TLS handshake here, in the connection's thread, so that a client
        # that never completes it cannot block the accept loop
        if self.tls_ctx is not None:
            request.settimeout(10)
            try:
                request = self.tls_ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as exn:
                if self.logf:
                    self.logf.write("%.3f TLS handshake failed: %s\n" % (time.time(), exn))
                    self.logf.flush()
                return
            request.settimeout(None)
        super().finish_request(request, client_address)


def control_watcher(pool, path):
    """Poll the control file (10 times a second) and apply its changes."""
    last = None
    while not pool.stop.is_set():
        try:
            st = os.stat(path)
            key = (st.st_mtime_ns, st.st_size, st.st_ino)
            if key != last:
                with open(path) as f:
                    ctl = json.load(f)
                last = key
                pool.apply_control(ctl)
                pool.write_state()
        except (OSError, ValueError):
            pass
        pool.stop.wait(0.1)


def serve(argv):
    ap = argparse.ArgumentParser(prog="fake-xapi.py serve")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--state")
    ap.add_argument("--control")
    ap.add_argument("--log")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--username", default="root")
    ap.add_argument("--password", default="secret")
    ap.add_argument("--mode", choices=("normal", "hang", "html500"), default="normal")
    ap.add_argument("--hang-method", action="append")
    ap.add_argument("--hang-max", type=float, default=120)
    ap.add_argument("--power-fail")
    ap.add_argument("--power-delay", type=float, default=0)
    ap.add_argument("--power-call-delay", type=float, default=0)
    ap.add_argument("--slave-of")
    ap.add_argument("--session-max-calls", type=int, default=0)
    ap.add_argument("--hosts", help="comma-separated pool member addresses")
    ap.add_argument("--lifetime", type=float, default=600,
                    help="exit after this many seconds (a safety net)")
    args = ap.parse_args(argv)

    tls = None
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    logf = open(args.log, "a") if args.log else None
    pool = Pool(args)
    srv = Server((args.bind, args.port), pool, tls, args.hang_max, logf)
    args.port = srv.server_address[1]
    if args.control and os.path.exists(args.control):
        with open(args.control) as f:
            pool.apply_control(json.load(f))
    pool.write_state()
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % args.port)
        os.replace(tmp, args.port_file)

    def stop(*_):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGALRM, stop)
    signal.alarm(max(1, int(args.lifetime)))
    if args.control:
        threading.Thread(target=control_watcher, args=(pool, args.control),
                         daemon=True).start()
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        pool.stop.set()
        pool.write_state()


# ---------------------------------------------------------------------------
# helpers for the shell tests

def load_state(path):
    with open(path) as f:
        return json.load(f)


def query(argv):
    st = load_state(argv[0])
    what = argv[1]
    arg = argv[2] if len(argv) > 2 else None
    if what in ("power", "reboots"):
        hits = [v for u, v in st["vms"].items()
                if u == arg or (v["name"] == arg and v["kind"] == "vm")]
        if len(hits) != 1:
            print("no-such-vm")
            return 1
        print(hits[0]["power_state"] if what == "power" else hits[0]["reboots"])
    elif what in ("logins", "logouts", "login_failures", "slave_refusals",
                  "sessions_open", "requests", "control_seq"):
        print(st[what])
    elif what in ("originators", "paths", "versions"):
        for o in st[what]:
            print(o)
    elif what == "calls":
        calls = st["calls"]
        if arg:
            print(sum(1 for c in calls if c["method"] == arg))
        else:
            for c in calls:
                print("%s %s -> %s" % (c["method"], json.dumps(c["args"][1:]),
                                       c.get("result")))
    else:
        print("unknown query %s" % what, file=sys.stderr)
        return 2
    return 0


def ctl(argv):
    cpath, spath = argv[0], argv[1]
    try:
        with open(cpath) as f:
            c = json.load(f)
    except (OSError, ValueError):
        c = {}
    seq = int(c.get("seq", 0)) + 1
    c["seq"] = seq
    c["power"] = {}
    for a in argv[2:]:
        if a == "reset":
            c["reset_seq"] = seq
        elif a == "expire":
            c["expire_seq"] = seq
        elif a.startswith("power:"):
            k, v = a[len("power:"):].split("=", 1)
            c["power"][k] = v
        else:
            k, v = a.split("=", 1)
            try:
                c[k] = json.loads(v)
            except ValueError:
                c[k] = v
    tmp = cpath + ".tmp"
    with open(tmp, "w") as f:
        json.dump(c, f)
    os.replace(tmp, cpath)
    for _ in range(100):             # at most 5 s
        try:
            if int(load_state(spath).get("control_seq", -1)) >= seq:
                return 0
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    print("fake-xapi ctl: server did not apply seq %d" % seq, file=sys.stderr)
    return 1


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "query":
        try:
            return query(sys.argv[2:])
        except BrokenPipeError:          # e.g. piped into "grep -q"
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
    if len(sys.argv) > 1 and sys.argv[1] == "ctl":
        return ctl(sys.argv[2:])
    argv = sys.argv[1:]
    if argv and argv[0] == "serve":
        argv = argv[1:]
    serve(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
