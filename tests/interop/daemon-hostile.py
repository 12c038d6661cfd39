#!/usr/bin/env python3
# vmfence - tests/interop/daemon-hostile.py: hostile and replaying TCP peers
# for tests/interop/daemon-hostile.sh.  Written from protocol.md 2.2-2.4
# (fence_req_t layout, prefix-key SHA signing, challenge/response); talks to
# 127.0.0.1 only.  Every socket operation has a timeout.
#
#   daemon-hostile.py PORT KEYFILE noise SECONDS   idle/garbage/truncated/slow/wrong-key peers
#   daemon-hostile.py PORT KEYFILE replay DOMAIN    one signed request sent twice
#   daemon-hostile.py PORT KEYFILE hold N SECONDS   N idle connections held open
#   daemon-hostile.py PORT KEYFILE slowloris N SECONDS  N idle connections kept
#                     open, each reopened as soon as the daemon closes it
#   daemon-hostile.py PORT KEYFILE slowauth DOMAIN [PAUSE]  a legitimate request
#                     whose client pauses PAUSE s (2) before answering the challenge
import hashlib
import os
import socket
import struct
import sys
import threading
import time

HOST = "127.0.0.1"
STATUS = 4
SHA256 = 2


def build(key, domain, cmd=STATUS, seqno=None):
    """A signed 176-byte fence_req_t (TCP form: address/port/family zero)."""
    if seqno is None:
        seqno = int(time.time() * 1e6) % 1000000
    rnd = os.urandom(6)
    head = struct.pack("<BBBB64s28sH6sII", cmd, SHA256, 0, 0,
                       domain.encode(), b"", 0, rnd, seqno, 0)
    digest = hashlib.sha256(key + head + b"\0" * 64).digest()
    return head + digest + b"\0" * (64 - len(digest))


def connect(timeout=3.0):
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    s.settimeout(timeout)
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def transact(key, raw, pause=0.0):
    """Client side of one exchange; returns the response byte or a reason."""
    s = connect(12.0)
    try:
        s.sendall(raw)
        chal = os.urandom(64)
        s.sendall(chal)
        ans = recv_exact(s, 64)
        if ans is None:
            return "dropped"
        want = hashlib.sha256(key + chal).digest()
        if ans[:32] != want or ans[32:] != b"\0" * 32:
            return "bad-daemon-answer"
        c2 = recv_exact(s, 64)
        if c2 is None:
            return "dropped"
        d = hashlib.sha256(key + c2).digest()
        time.sleep(pause)
        s.sendall(d + b"\0" * 32)
        resp = recv_exact(s, 1)
        return "dropped" if resp is None else resp[0]
    except (ConnectionError, socket.timeout) as e:
        return "dropped (%s)" % type(e).__name__
    finally:
        s.close()


def idle_peers(n, secs):
    socks = []
    for _ in range(n):
        try:
            socks.append(connect())
        except OSError:
            pass
    time.sleep(secs)
    for s in socks:
        s.close()


def slow_peer(key, secs):
    end = time.time() + secs
    while time.time() < end:
        raw = build(key, "vm1")
        try:
            s = connect()
            for b in raw[:20]:
                s.sendall(bytes([b]))
                time.sleep(1.0)
        except OSError:
            pass   # the daemon closed us after 1 s: expected
        finally:
            s.close()


def slowloris(n, secs):
    """Keep n idle connections open for secs, reopening every one the
    daemon closes (bounded: at most 64 reconnects per 10 ms round)."""
    socks = []
    end = time.time() + secs
    opened = 0
    while time.time() < end:
        alive = []
        for s in socks:
            try:
                if s.recv(1, socket.MSG_DONTWAIT) == b"":
                    s.close()
                    continue
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                continue
            alive.append(s)
        socks = alive
        for _ in range(min(64, n - len(socks))):
            try:
                socks.append(connect())
                opened += 1
            except OSError:
                break
        time.sleep(0.01)
    for s in socks:
        s.close()
    return opened


def noise(key, secs):
    end = time.time() + secs
    wrong = b"not-the-key" * 8
    while time.time() < end:
        for payload in (os.urandom(500), build(key, "vm1")[:100],
                        build(wrong, "vm1"), b""):
            try:
                s = connect()
                if payload:
                    s.sendall(payload)
                time.sleep(0.05)
                s.close()
            except OSError:
                pass
        time.sleep(0.1)


def main():
    global PORT
    PORT = int(sys.argv[1])
    with open(sys.argv[2], "rb") as f:
        key = f.read(4096)
    mode = sys.argv[3]
    if mode == "noise":
        secs = float(sys.argv[4])
        ts = [threading.Thread(target=idle_peers, args=(5, secs)),
              threading.Thread(target=slow_peer, args=(key, secs)),
              threading.Thread(target=noise, args=(key, secs))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        print("noise done")
        return 0
    if mode == "replay":
        raw = build(key, sys.argv[4])
        first = transact(key, raw)
        second = transact(key, raw)
        print("first=%s second=%s" % (first, second))
        return 0
    if mode == "hold":
        idle_peers(int(sys.argv[4]), float(sys.argv[5]))
        print("hold done")
        return 0
    if mode == "slowloris":
        print("slowloris done, %d connections" % slowloris(int(sys.argv[4]),
                                                          float(sys.argv[5])))
        return 0
    if mode == "slowauth":
        pause = float(sys.argv[5]) if len(sys.argv) > 5 else 2.0
        print("in-flight=%s" % transact(key, build(key, sys.argv[4]), pause))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
