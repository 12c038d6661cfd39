#!/usr/bin/env python3
"""vmfence - tests/interop/agent-callback-impostor.py: a hostile peer on the
guests' network for tests/interop/agent-callback.sh.

It plays something that is NOT fence_virtd and connects to fence_xvm's TCP
call-back port as soon as that port listens, before the real daemon calls
back:

  stall  HOST PORT       connect, then send nothing and hold the connection
  wrong  HOST PORT       connect, read the 64-byte challenge, answer 64 wrong
                         bytes, then send response byte 0 (SUCCESS); again
                         after each close, --repeat times in all
  many   HOST PORT       open --count connections and hold them, opening new
                         ones as the agent closes old ones (--count * 4 in all)
  delay  GROUP PORT IFADDR TO_ADDR TO_PORT
                         not an impostor: a relay that receives the agent's
                         multicast datagrams on GROUP:PORT (joined on the
                         interface with IFADDR) and passes each one on, by
                         unicast, to the daemon at TO_ADDR:TO_PORT only after
                         --delay seconds, so that the impostors reliably
                         connect first

Everything is bounded: the connect loop (--wait seconds), every read, the
number of connections and datagrams, and the whole run (--life seconds).
Progress goes to stdout, one line per event, for the test's log.
"""
import argparse
import selectors
import socket
import struct
import sys
import time

CHALLENGE = 64


def log(msg):
    print("impostor: " + msg, flush=True)


def connect_when_listening(host, port, until):
    """Connect as soon as something listens on HOST:PORT; None after UNTIL."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    while time.monotonic() < until:
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            s.connect((host, port))
            return s
        except OSError:
            s.close()
            time.sleep(0.002)
    return None


def read_exact(s, n, until):
    """Up to N bytes before UNTIL; fewer when the peer closes or time is up."""
    buf = b""
    while len(buf) < n:
        left = until - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            chunk = s.recv(n - len(buf))
        except (socket.timeout, OSError):
            break
        if not chunk:
            break
        buf += chunk
    return buf


def hold(s, until):
    """Keep S open, sending nothing, until the peer closes it or UNTIL."""
    while time.monotonic() < until:
        s.settimeout(max(0.01, until - time.monotonic()))
        try:
            if not s.recv(4096):
                return "closed by the agent"
        except socket.timeout:
            break
        except OSError as e:
            return "error %s" % e
    return "held until the end"


def mode_stall(a, end):
    s = connect_when_listening(a.host, a.port, min(end, time.monotonic() + a.wait))
    if s is None:
        log("stall: port %d never listened" % a.port)
        return 1
    log("stall: connected to %s:%d" % (a.host, a.port))
    log("stall: " + hold(s, end))
    s.close()
    return 0


def mode_wrong(a, end):
    done = 0
    for i in range(a.repeat):
        wait_until = time.monotonic() + (a.wait if i == 0 else 1.0)
        s = connect_when_listening(a.host, a.port, min(end, wait_until))
        if s is None:
            break
        log("wrong: connection %d to %s:%d" % (i + 1, a.host, a.port))
        chal = read_exact(s, CHALLENGE, min(end, time.monotonic() + 5))
        log("wrong: got %d challenge bytes" % len(chal))
        # any 64 bytes except the right answer (which needs the key)
        fake = bytes(b ^ 0x5A for b in chal[:CHALLENGE]).ljust(CHALLENGE, b"\x5a")
        try:
            s.sendall(fake)
            s.sendall(b"\x00")
            log("wrong: sent 64 wrong answer bytes and response byte 0 (SUCCESS)")
            done += 1
        except OSError as e:
            log("wrong: send failed: %s" % e)
        log("wrong: " + hold(s, min(end, time.monotonic() + 5)))
        s.close()
    log("wrong: %d fake answer(s) sent" % done)
    return 0 if done > 0 else 1


def mode_many(a, end):
    sel = selectors.DefaultSelector()
    opened = 0
    limit = a.count * 4
    first = connect_when_listening(a.host, a.port, min(end, time.monotonic() + a.wait))
    if first is None:
        log("many: port %d never listened" % a.port)
        return 1
    log("many: first connection to %s:%d" % (a.host, a.port))
    socks = [first]
    opened = 1
    fam = first.family
    tries = 0
    while opened < a.count and tries < limit and time.monotonic() < end:
        tries += 1
        s = socket.socket(fam, socket.SOCK_STREAM)
        # a full accept queue drops the SYN: try again rather than wait
        # for its retransmission
        s.settimeout(0.2)
        try:
            s.connect((a.host, a.port))
        except ConnectionRefusedError:
            s.close()
            break
        except OSError:
            s.close()
            continue
        socks.append(s)
        opened += 1
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    log("many: opened %d connections" % opened)
    closed = 0
    while time.monotonic() < end and sel.get_map():
        for key, _ in sel.select(timeout=max(0.01, end - time.monotonic())):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if data:
                continue  # the challenge: never answered
            sel.unregister(s)
            s.close()
            closed += 1
            if opened < limit:
                n = socket.socket(fam, socket.SOCK_STREAM)
                n.settimeout(0.5)
                try:
                    n.connect((a.host, a.port))
                    n.setblocking(False)
                    sel.register(n, selectors.EVENT_READ)
                    opened += 1
                except OSError:
                    n.close()
    log("many: %d opened, %d closed by the agent" % (opened, closed))
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    return 0


def mode_delay(a, end):
    group, port, ifaddr, to_addr, to_port = a.delay_args
    port, to_port = int(port), int(to_port)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    mreq = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton(ifaddr))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    queue = []
    passed = 0
    log("delay: relaying %s:%d to %s:%d after %.1f s" % (group, port, to_addr, to_port,
                                                        a.delay))
    while time.monotonic() < end and passed < 1000:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            out.sendto(queue.pop(0)[1], (to_addr, to_port))
            passed += 1
        wait = (queue[0][0] - now) if queue else 0.2
        s.settimeout(max(0.001, min(wait, end - now)))
        try:
            data = s.recv(4096)
        except socket.timeout:
            continue
        if len(queue) < 1000:
            queue.append((time.monotonic() + a.delay, data))
    log("delay: passed %d datagram(s)" % passed)
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["stall", "wrong", "many", "delay"])
    p.add_argument("args", nargs="+")
    p.add_argument("--wait", type=float, default=10.0, help="connect loop bound (s)")
    p.add_argument("--life", type=float, default=30.0, help="whole run bound (s)")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--count", type=int, default=40)
    p.add_argument("--delay", type=float, default=0.5)
    a = p.parse_args()
    end = time.monotonic() + a.life
    if a.mode == "delay":
        if len(a.args) != 5:
            p.error("delay needs GROUP PORT IFADDR TO_ADDR TO_PORT")
        a.delay_args = a.args
        return mode_delay(a, end)
    if len(a.args) != 2:
        p.error("%s needs HOST PORT" % a.mode)
    a.host, a.port = a.args[0], int(a.args[1])
    a.repeat = max(1, min(a.repeat, 100))
    a.count = max(1, min(a.count, 200))
    return {"stall": mode_stall, "wrong": mode_wrong, "many": mode_many}[a.mode](a, end)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(1)
