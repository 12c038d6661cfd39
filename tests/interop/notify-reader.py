#!/usr/bin/env python3
# vmfence - tests/interop/notify-reader.py: a stand-in for systemd's end of
# the sd_notify protocol.  Binds an AF_UNIX datagram socket at PATH and
# writes every message it receives to OUT, one line per assignment, each
# prefixed with the receive time in ms since the epoch:  "<ms> KEY=VALUE".
# Runs until killed (SIGTERM) or for at most SECONDS (default 120).
# With PROBE (HOST:PORT), every READY=1 is followed by a line
# "<ms> PROBE=bound" or "<ms> PROBE=refused": a TCP connect to PROBE made the
# moment READY=1 arrived (was the listener bound when the daemon said so?).
#   notify-reader.py PATH OUT [SECONDS] [PROBE]
import os, socket, sys, time

path, out = sys.argv[1], sys.argv[2]
limit = float(sys.argv[3]) if len(sys.argv) > 3 else 120.0
probe = sys.argv[4] if len(sys.argv) > 4 else None


def probe_tcp():
    host, port = probe.rsplit(":", 1)
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.settimeout(2)
    try:
        c.connect((host, int(port)))
        return "bound"
    except OSError:
        return "refused"
    finally:
        c.close()

try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o777)
end = time.time() + limit
with open(out, "a", buffering=1) as f:
    f.write("%d LISTENING=1\n" % int(time.time() * 1000))
    while time.time() < end:
        s.settimeout(max(0.1, end - time.time()))
        try:
            data = s.recv(4096)
        except socket.timeout:
            break
        now = int(time.time() * 1000)
        lines = [l for l in data.decode("utf-8", "replace").split("\n") if l]
        result = probe_tcp() if probe and "READY=1" in lines else None
        for line in lines:
            f.write("%d %s\n" % (now, line))
        if result:
            f.write("%d PROBE=%s\n" % (now, result))
