#!/bin/bash
# vmfence - tests/interop/daemon-serial.sh: fence_virtd's serial listener,
# end to end (protocol.md 2.9).
#
# Part 1 (no root): fence_virtd with listener "serial" and backend "libvirt",
# both on a test:///file.xml whose running domains carry
# <serial type='unix'><source mode='bind' path='$D/sock/NAME.sock'/>.  A
# Python helper plays QEMU: it creates and listens on those sockets, accepts
# the daemon's connection, sends reference-format 74-byte frames and reads
# the 5-byte responses scanning for the magic, as the reference client does.
# Checked: status/off/list answers, unknown domain -> FAIL (never OFF), the
# requester identity is the domain UUID (groups ACL), bad magic + resync,
# duplicate seqno dropped, and the reference fence_virt agent (and ours, if
# built) in vmchannel mode through a guestfwd-like TCP relay to a socket.
# Part 2 (root): the same daemon against a real libvirtd serving the test
# driver (libvirt-lab.md): a domain created later with virsh is picked up
# through lifecycle events; libvirtd is killed and restarted; the listener
# reconnects, rescans (dropping the vanished domain's socket) and a domain
# created after the restart is served (reference defect D11: its event
# thread dies for good).
# Privilege separation (design.md 3.1) is on by default: as root, part 1
# and part 2 run the two processes (the privileged one opens the guest
# sockets and passes them to the network process); the main case of part 1
# runs again with privsep = "no" (one process).  A SIGHUP that changes
# the serial block restarts both halves: the guest sockets are handed over
# again.
# Faked: hypervisor (test driver) and QEMU (the Python helper).
. "$(dirname "$0")/../lib/common.sh"

vft_need_cmd python3
[ -x "$VF_DAEMON" ] || vft_skip "daemon/fence_virtd not built"

D="$VFT_TMP"
mkdir -p "$D/sock"
U1=5e71a100-0000-4000-8000-000000000001
U2=5e71a100-0000-4000-8000-000000000002
U3=5e71a100-0000-4000-8000-000000000003

# ---- the fake QEMU ----------------------------------------------------------
cat >"$D/guest.py" <<'PYEOF'
import os, select, socket, struct, sys, threading, time
MAGIC = struct.pack('<I', 0x61626261)
sockdir = sys.argv[1]
lst, conns = {}, {}

def listen(name):
    p = os.path.join(sockdir, name + '.sock')
    if os.path.exists(p):
        os.unlink(p)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(p); s.listen(4)
    lst[name] = s

def conn(name, tmo=10.0):
    c = conns.get(name)
    if c is not None:
        return c
    r, _, _ = select.select([lst[name]], [], [], tmo)
    if not r:
        return None
    c, _ = lst[name].accept()
    conns[name] = c
    return c

def read_exact(c, n, deadline):
    b = b''
    while len(b) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        r, _, _ = select.select([c], [], [], left)
        if not r:
            return None
        d = c.recv(n - len(b))
        if not d:
            return None
        b += d
    return b

def read_resp(c, deadline):
    win = b''
    while win != MAGIC:          # tolerate leading garbage, like the client
        d = read_exact(c, 1, deadline)
        if d is None:
            return None
        win = (win + d)[-4:]
    d = read_exact(c, 1, deadline)
    return None if d is None else d[0]

for line in sys.stdin:
    a = line.split()
    if not a:
        continue
    out = 'error'
    try:
        if a[0] == 'listen':
            listen(a[1]); out = 'ok'
        elif a[0] == 'accept':
            out = 'accepted' if conn(a[1], float(a[2])) else 'noconn'
        elif a[0] == 'drop':      # forget (close) our side of a connection
            c = conns.pop(a[1], None)
            if c is not None:
                c.close()
            out = 'ok'
        elif a[0] == 'eof':       # wait until the daemon closes our socket
            c = conn(a[1], 0.1)
            out = 'noconn'
            if c is not None:
                r, _, _ = select.select([c], [], [], float(a[2]))
                out = 'open'
                if r and not c.recv(4096):
                    out = 'eof'; c.close(); del conns[a[1]]
        elif a[0] == 'bridge':    # bridge GUEST PORT: TCP 127.0.0.1:PORT <-> guest socket
            c = conn(a[1])
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            t.bind(('127.0.0.1', int(a[2]))); t.listen(4)
            def relay(t=t, c=c):
                while True:
                    cl, _ = t.accept()
                    try:
                        while True:
                            r, _, _ = select.select([cl, c], [], [], 60)
                            if not r:
                                break
                            if c in r:
                                d = c.recv(4096)
                                if not d:
                                    cl.close(); return
                                cl.sendall(d)
                            if cl in r:
                                d = cl.recv(4096)
                                if not d:
                                    break
                                c.sendall(d)
                    except OSError:
                        pass
                    cl.close()
                    # The reference client does not read the final frame of a
                    # host list; drop what is left so that it cannot be taken
                    # for the next client's answer.
                    while select.select([c], [], [], 0.3)[0]:
                        if not c.recv(4096):
                            return
            threading.Thread(target=relay, daemon=True).start()
            out = 'ok' if c is not None else 'noconn'
        elif a[0] == 'raw':
            conn(a[1]).sendall(bytes.fromhex(a[2])); out = 'sent'
        elif a[0] == 'req':       # req GUEST CMD DOMAIN SEQNO [TIMEOUT]
            g, cmd, dom, seq = a[1], int(a[2]), a[3], int(a[4])
            tmo = float(a[5]) if len(a) > 5 else 5.0
            if dom == '-':
                dom = ''
            c = conn(g)
            frame = MAGIC + bytes([cmd, 0]) + dom.encode().ljust(64, b'\0') + struct.pack('<I', seq)
            assert len(frame) == 74
            c.sendall(frame)
            dl = time.monotonic() + tmo
            r = read_resp(c, dl)
            if r is None:
                out = 'resp=none'
            elif r == 253:
                names = []
                while True:
                    rec = read_exact(c, 130, dl)
                    if rec is None:
                        break
                    name = rec[:64].split(b'\0')[0].decode()
                    uuid = rec[64:128].split(b'\0')[0].decode()
                    if not name and not uuid:
                        break
                    names.append('%s:%d' % (name, rec[128]))
                final = read_resp(c, dl)
                out = 'resp=253 names=%s final=%s' % (','.join(names), final)
            else:
                out = 'resp=%d' % r
    except Exception as e:
        out = 'error %s' % e
    print(out, flush=True)
PYEOF

coproc GUEST { exec python3 "$D/guest.py" "$D/sock" 2>"$D/guest.err"; }
GPID=$GUEST_PID
vft_on_exit "vft_kill_pid $GPID"
GIN=${GUEST[1]}
GOUT=${GUEST[0]}
g() { vft_ask "$GIN" "$GOUT" 40 "$*"; }
expect() {  # DESC WANT GOT
    if [ "$2" = "$3" ]; then vft_ok "$1 ($3)"; else vft_fail "$1: got '$3', expected '$2'"; fi
}

domain_xml() {  # NAME UUID [off]   (socket $D/sock/NAME.sock)
    printf "  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    printf "    <name>%s</name><uuid>%s</uuid>\n" "$1" "$2"
    printf "    <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n"
    printf "    <devices><serial type='unix'><source mode='bind' path='%s/sock/%s.sock'/>" "$D" "$1"
    printf "<target port='1'/></serial></devices>\n"
    [ "${3:-}" = off ] && printf "    <test:runstate>5</test:runstate>\n"
    printf "  </domain>\n"
}

DPID=
daemon_start() {  # CONF LOG
    # (no stdbuf: our daemon logs unbuffered, and stdbuf's LD_PRELOAD upsets ASan)
    "$VF_DAEMON" -F -d 2 -f "$1" -p "$D/fvd.$RANDOM.pid" >>"$2" 2>&1 &
    DPID=$!
    vft_on_exit "vft_kill_pid $DPID"
}
daemon_stop() {
    vft_kill_pid "$DPID"
    wait "$DPID" 2>/dev/null
}

# ============================== part 1 =======================================
{
    echo "<node>"
    domain_xml vm1 "$U1"
    domain_xml vm2 "$U2"
    domain_xml vm3 "$U3"
    printf "  <domain type='test'><name>target</name><uuid>5e71a100-0000-4000-8000-000000000010</uuid>"
    printf "<memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>\n"
    printf "  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><name>vm-off</name>"
    printf "<uuid>5e71a100-0000-4000-8000-000000000011</uuid><memory>65536</memory><vcpu>1</vcpu>"
    printf "<os><type>hvm</type></os><test:runstate>5</test:runstate></domain>\n"
    echo "</node>"
} >"$D/node.xml"

mkdir -p "$D/empty"
chmod 755 "$D/empty"
cat >"$D/part1.conf" <<EOF
fence_virtd {
    listener = "serial";
    backend = "libvirt";
    module_path = "$D/no-modules";
    privsep_chroot = "$D/empty";
}
listeners {
    serial {
        uri = "test://$D/node.xml";
        path = "$D/sock";
        mode = "serial";
    }
}
backends {
    libvirt {
        uri = "test://$D/node.xml";
    }
}
groups {
    group {
        name = "vm1-may-fence";
        uuid = "$U1";
        uuid = "$U3";
        uuid = "vm1";
        uuid = "target";
        uuid = "vm-off";
        uuid = "nosuch";
    }
}
EOF

# log_has FILE REGEX: it appears within 20 s (bounded)
log_has() {
    local i
    for i in $(seq 1 200); do grep -q -- "$2" "$1" && return 0; sleep 0.1; done
    return 1
}

# the network process: the child of the daemon run with --privsep-net
net_pid() { pgrep -P "$1" -f -- '--privsep-net' | head -1; }

main_case() {  # TAG SEQBASE: the request path, through whatever the daemon runs as
    local t=$1 s=$2
    expect "$t: status of a running domain" "resp=0" "$(g req vm1 4 target $((s + 1)))"
    expect "$t: status of a shut-off domain" "resp=2" "$(g req vm1 4 vm-off $((s + 2)))"
    expect "$t: status of an unknown domain is FAIL, not OFF" "resp=1" "$(g req vm1 4 nosuch $((s + 3)))"
    expect "$t: off" "resp=0" "$(g req vm1 1 target $((s + 4)))"
    expect "$t: status after off" "resp=2" "$(g req vm1 4 target $((s + 5)))"
    expect "$t: on" "resp=0" "$(g req vm1 3 target $((s + 6)))"
    L=$(g req vm1 6 - $((s + 7)))
    expect "$t: list (filtered by the group of vm1's UUID)" \
        "resp=253 names=target:1,vm-off:5,vm1:1,vm3:1 final=0" "$L"
    # identity = domain UUID: vm2 is in no group
    expect "$t: vm2 (not in the group) is denied" "resp=3" "$(g req vm2 4 target $((s + 8)))"
}

for n in vm1 vm2 vm3; do g listen "$n" >/dev/null; done
daemon_start "$D/part1.conf" "$D/part1.log"
expect "daemon connects to vm1's socket" accepted "$(g accept vm1 10)"
expect "daemon connects to vm2's socket" accepted "$(g accept vm2 10)"
# privilege separation is on by default, the serial listener included: the
# privileged process opens the guest sockets, the network process serves them
if [ "$(id -u)" = 0 ]; then
    vft_check "privsep on with the serial listener" log_has "$D/part1.log" "privilege separation on"
    grep -q "needs the privileged process" "$D/part1.log" &&
        vft_fail "the serial listener still turns privsep off" ||
        vft_ok "the serial listener does not turn privsep off"
    NPID=$(net_pid "$DPID")
    if [ -n "$NPID" ]; then
        vft_ok "network process exists (pid $NPID)"
        [ "$(awk '/^Uid:/ {print $2}' "/proc/$NPID/status")" != 0 ] &&
            vft_ok "network process is not root" || vft_fail "network process runs as root"
        [ "$(readlink "/proc/$NPID/root")" = "$D/empty" ] && vft_ok "network process chrooted" ||
            vft_fail "network process root: $(readlink "/proc/$NPID/root")"
        if grep -q "seccomp on" "$D/part1.log"; then
            [ "$(awk '/^Seccomp:/ {print $2}' "/proc/$NPID/status")" = 2 ] &&
                vft_ok "network process: seccomp filter (enforcing) on the serial path" ||
                vft_fail "network process: no seccomp filter"
        fi
        vft_check "network process holds the guest sockets" \
            grep -q "serial: listening to domain 'vm1'" "$D/part1.log"
        vft_check "the privileged process opened them" \
            grep -q "serial: connected to domain 'vm1'" "$D/part1.log"
    else
        vft_fail "no network process"
    fi
fi

main_case privsep 100
# bad magic: a frame with a wrong magic followed by a good one
# (the bad frame asks for vm-off, answer 2; had it been processed, its
# answer would arrive first and the check below would read 2)
BAD=$(python3 -c "import struct,sys; sys.stdout.write((b'\xde\xad\xbe\xef' + bytes([4, 0]) + b'vm-off'.ljust(64, b'\0') + struct.pack('<I', 9)).hex())")
g raw vm1 "$BAD" >/dev/null
expect "a bad-magic frame is not processed; the next good frame is answered" "resp=0" "$(g req vm1 4 target 109)"
g raw vm1 "6162627878616262" >/dev/null
expect "after garbage containing a partial magic" "resp=0" "$(g req vm1 4 target 110)"
# duplicate seqno within 10 s: dropped silently (reference behaviour)
expect "first request with seqno 555" "resp=0" "$(g req vm1 4 target 555)"
expect "same request again (duplicate) gets no answer" "resp=none" "$(g req vm1 4 target 555 1.5)"
expect "a new seqno is answered again" "resp=0" "$(g req vm1 4 target 556)"

# agents in vmchannel mode (TCP to the guestfwd address, here a relay on
# 127.0.0.1 that the fake QEMU bridges to vm3's socket, as QEMU's guestfwd does)
PORT=$(vft_free_port)
expect "daemon connects to vm3's socket" accepted "$(g accept vm3 10)"
expect "guestfwd relay for vm3 on port $PORT" ok "$(g bridge vm3 "$PORT")"
vft_gen_key "$D/key" 16
for AG in "$REF_AGENT" "$VF_AGENT"; do
    if [ ! -x "$AG" ]; then
        vft_skip_part "$AG not available: vmchannel checks with it not run"
        continue
    fi
    case $AG in "$REF_AGENT") who=reference ;; *) who=vmfence ;; esac
    vft_expect_rc "$who fence_virt (vmchannel) -o status of a running domain" 0 \
        timeout 20 "$AG" -A 127.0.0.1 -p "$PORT" -k "$D/key" -o status -n target -t 10
    vft_expect_rc "$who fence_virt (vmchannel) -o status of a shut-off domain" 2 \
        timeout 20 "$AG" -A 127.0.0.1 -p "$PORT" -k "$D/key" -o status -n vm-off -t 10
    vft_expect_rc "$who fence_virt (vmchannel) -o status of an unknown domain" 1 \
        timeout 20 "$AG" -A 127.0.0.1 -p "$PORT" -k "$D/key" -o status -n nosuch -t 10
    if timeout 20 "$AG" -A 127.0.0.1 -p "$PORT" -k "$D/key" -o list -t 10 >"$D/list.out" 2>&1 &&
        grep -q '^target .* on$' "$D/list.out" && grep -q '^vm-off .* off$' "$D/list.out"; then
        vft_ok "$who fence_virt (vmchannel) -o list"
    else
        vft_fail "$who fence_virt (vmchannel) -o list: $(tr '\n' '|' <"$D/list.out")"
    fi
done

# SIGHUP with a changed serial block (mode "0" is serial too): both halves
# restart, the guest sockets are opened and handed over again
sed -i 's|mode = "serial";|mode = "0";|' "$D/part1.conf"
kill -HUP "$DPID"
expect "reload: the old socket of vm1 is closed" eof "$(g eof vm1 20)"
expect "reload: the daemon connects to vm1's socket again" accepted "$(g accept vm1 10)"
expect "reload: status after the restart of the serial listener" "resp=0" "$(g req vm1 4 target 301)"
vft_check "reload complete" log_has "$D/part1.log" "reload complete"
sed -i 's|mode = "0";|mode = "serial";|' "$D/part1.conf"
daemon_stop
grep -q 'Segmentation\|Sanitizer\|runtime error' "$D/part1.log" &&
    vft_fail "daemon log shows a crash or sanitizer report"
[ "$VFT_FAIL" = 0 ] || sed 's/^/    daemon: /' "$D/part1.log" | tail -40

# ---- the main case again with privsep = "no": one process -------------------
sed 's|^    privsep_chroot = .*|    privsep = "no";|' "$D/part1.conf" >"$D/part1-np.conf"
# fresh sockets: nothing left in a backlog from the daemon before
for n in vm1 vm2 vm3; do g drop "$n" >/dev/null; g listen "$n" >/dev/null; done
daemon_start "$D/part1-np.conf" "$D/part1-np.log"
expect "privsep=no: daemon connects to vm1's socket" accepted "$(g accept vm1 10)"
expect "privsep=no: daemon connects to vm2's socket" accepted "$(g accept vm2 10)"
[ -z "$(net_pid "$DPID")" ] && vft_ok "privsep=no: one process" || vft_fail "privsep=no: a network process"
main_case privsep=no 400
daemon_stop
grep -q 'Segmentation\|Sanitizer\|runtime error' "$D/part1-np.log" &&
    vft_fail "daemon log (privsep=no) shows a crash or sanitizer report"
for n in vm1 vm2 vm3; do g drop "$n" >/dev/null; done

# ============================== part 2 =======================================
if [ "$(id -u)" != 0 ] || [ ! -x /usr/sbin/libvirtd ] || ! command -v setpriv >/dev/null ||
   ! command -v virsh >/dev/null; then
    vft_skip_part "part 2 (libvirtd restart) needs root, libvirtd, setpriv and virsh: not run"
    vft_finish
fi
vft_libvirtd_prepare "$D"
URI=$VFT_LVD_URI
vcreate() {  # NAME UUID: transient domain with a serial socket
    { echo; domain_xml "$1" "$2"; } >"$D/$1.xml"
    timeout 10 virsh -q -c "$URI" create "$D/$1.xml" >/dev/null 2>>"$D/virsh.err"
}

if ! vft_libvirtd_start; then
    vft_skip_part "libvirtd does not start here: part 2 (libvirtd restart) not run"
    vft_finish
fi
cat >"$D/part2.conf" <<EOF
fence_virtd { listener = "serial"; backend = "libvirt"; module_path = "$D/no-modules";
              privsep_chroot = "$D/empty"; }
listeners { serial { uri = "$URI"; path = "$D/sock"; } }
backends { libvirt { uri = "$URI"; } }
EOF
g listen sg1 >/dev/null
g listen sg2 >/dev/null
daemon_start "$D/part2.conf" "$D/part2.log"
sleep 1
vft_check "virsh create sg1 (after the daemon started)" vcreate sg1 5e71a100-0000-4000-8000-000000000021
expect "lifecycle event: daemon connects to sg1's socket" accepted "$(g accept sg1 8)"
expect "status via libvirtd" "resp=0" "$(g req sg1 4 test 201)"

kill -KILL "$VFT_LVD_PID"; wait "$VFT_LVD_PID" 2>/dev/null
expect "libvirtd down: the guest socket still answers (backend FAIL)" "resp=1" "$(g req sg1 4 test 202 8)"
vft_check "libvirtd restarted" vft_libvirtd_start
# the fresh libvirtd has no sg1: the rescan after reconnect drops its socket
expect "after reconnect + rescan the vanished domain's socket is closed" eof "$(g eof sg1 15)"
vft_check "virsh create sg2 (after the restart)" vcreate sg2 5e71a100-0000-4000-8000-000000000022
expect "events re-registered: daemon connects to sg2's socket" accepted "$(g accept sg2 10)"
expect "status via the restarted libvirtd" "resp=0" "$(g req sg2 4 sg2 203)"

# libvirtd HUNG (SIGSTOP): the listener makes no libvirt call in its socket
# loop, so guests are still served (a null request needs no backend), and
# the daemon still shuts down in bounded time.
kill -STOP "$VFT_LVD_PID"
vft_on_exit "kill -CONT $VFT_LVD_PID"
sleep 6                                 # let a periodic rescan get stuck
t0=$(date +%s%N)
expect "libvirtd hung: the guest socket is still served" "resp=1" "$(g req sg2 0 - 204 3)"
t1=$(date +%s%N)
[ $(( (t1 - t0) / 1000000 )) -lt 2000 ] && vft_ok "... within 2 s" ||
    vft_fail "libvirtd hung: answer took $(( (t1 - t0) / 1000000 )) ms"
t0=$(date +%s)
kill -TERM "$DPID"
for i in $(seq 1 80); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$DPID" 2>/dev/null; then
    vft_fail "libvirtd hung: fence_virtd did not stop within 8 s of SIGTERM"
else
    vft_ok "libvirtd hung: fence_virtd stopped after $(( $(date +%s) - t0 )) s"
fi
kill -CONT "$VFT_LVD_PID"
daemon_stop
grep -q 'Segmentation\|Sanitizer\|runtime error' "$D/part2.log" &&
    vft_fail "daemon log shows a crash or sanitizer report"
[ "$VFT_FAIL" = 0 ] || sed 's/^/    daemon2: /' "$D/part2.log" | tail -40
vft_finish
