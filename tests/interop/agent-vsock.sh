#!/bin/bash
# vmfence - tests/interop/agent-vsock.sh: OUR fence_virt -S<cid> against the
# REFERENCE fence_virtd vsock listener (vsock.so).
#
# This kernel has AF_VSOCK but no loopback transport, so both processes run
# under tests/shim/vsock-shim.so, an LD_PRELOAD FAKE that maps AF_VSOCK
# stream sockets onto AF_UNIX sockets in $VFT_VSOCK_DIR and reports the
# requester CID from $VFT_VSOCK_PEER_CID.  A second part uses real vsock
# sockets and runs only where a local vsock connection works (vsock_loopback
# loaded); elsewhere it is reported as skipped inside this script.
. "$(dirname "$0")/../lib/common.sh"

vft_need_ref vsock "$VF_AGENT" stdbuf
SHIM=$VFT_BUILD/tests/shim/.libs/vsock-shim.so
[ -f "$SHIM" ] || vft_skip "vsock shim not built ($SHIM)"

vft_key_pair 64
NODE=$VFT_TMP/node.xml
export VFT_VSOCK_DIR=$VFT_TMP/vsock
mkdir -p "$VFT_VSOCK_DIR"
# our agent may be an ASan build: the shim is preloaded ahead of the ASan runtime
AGENT_ASAN="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
DPID=
PORT=1229
UA=$(vft_uuid_of 1)

# start_daemon HASH [SHIM] [GROUPS-BLOCK]
start_daemon() {
    local h=$1 shim=${2-$SHIM} groups=${3-}
    [ -n "$DPID" ] && vft_kill_pid "$DPID"
    DPID=
    PORT=$((PORT + 1))
    vft_testdriver_xml "$NODE" vm-a vm-b:off vm-c
    rm -f "$VFT_VSOCK_DIR"/port-*
    # D1: vsock's auth overwrites hash; the challenge stays sha256
    vft_fvd_conf "$VFT_TMP/fvd.conf" vsock "$REF_MODULES" "test://$NODE" key_file="$KEY" \
        port="$PORT" hash="$h" auth="$h"
    echo "$groups" >>"$VFT_TMP/fvd.conf"
    LD_PRELOAD=$shim stdbuf -oL -eL "$REF_DAEMON" -F -d 2 -f "$VFT_TMP/fvd.conf" \
        -p "$VFT_TMP/refd.$PORT.pid" >>"$VFT_TMP/refd.log" 2>&1 &
    DPID=$!
    vft_on_exit "vft_kill_pid $DPID"
    local i
    for i in $(seq 1 50); do
        if [ -z "$shim" ]; then
            grep -q "$PORT" /proc/net/vsock 2>/dev/null && return 0
            ss -Hl --vsock 2>/dev/null | grep -q ":$PORT" && return 0
            [ "$i" -ge 10 ] && return 0
        else
            [ -S "$VFT_VSOCK_DIR/port-$PORT" ] && return 0
        fi
        sleep 0.1
    done
    return 1
}

agent() { LD_PRELOAD=$SHIM ASAN_OPTIONS=$AGENT_ASAN "$VF_AGENT" -S2 -p "$PORT" -k "$KEY" -t 10 "$@"; }
ref_agent() { LD_PRELOAD=$SHIM "$REF_AGENT" -S2 -p "$PORT" -k "$KEY" -t 10 "$@"; }

expect() { vft_expect_out "$@"; }
expect_err() { vft_expect_err "$@"; }
state() {
    local rc=0
    agent -c "$3" -C sha256 -o status -n "$1" >/dev/null 2>&1 || rc=$?
    case $2 in on) [ "$rc" = 0 ] ;; off) [ "$rc" = 2 ] ;; esac
}
# round_state NAME WANT: state with the hash of this round ($h)
round_state() { state "$1" "$2" "$h"; }

for h in sha1 sha256 sha512; do
    if ! start_daemon "$h"; then
        vft_fail "[$h] reference fence_virtd (vsock) did not start"; tail "$VFT_TMP/refd.log"
        continue
    fi
    A=(-c "$h" -C sha256)
    expect "[$h] status vm-a" 0 '^Status: ON$' agent "${A[@]}" -o status -n vm-a
    expect "[$h] status vm-b (off)" 2 '^Status: OFF$' agent "${A[@]}" -o status -n vm-b
    expect "[$h] list" 0 "^vm-a +$UA on$" agent "${A[@]}" -o list
    expect "[$h] monitor" 0 '' agent "${A[@]}" -o monitor
    expect_err "[$h] null" 1 'Operation failed' agent "${A[@]}" -o null -n vm-a
    vft_agent_cycle "[$h]" vm-a round_state agent "${A[@]}"
    expect "[$h] reboot vm-c" 0 '' agent "${A[@]}" -o reboot -n vm-c
    vft_check "[$h] vm-c on after reboot" state vm-c on "$h"
    expect_err "[$h] wrong key" 1 'authentication failed' \
        env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$AGENT_ASAN" "$VF_AGENT" -S2 -p "$PORT" -k "$KEY2" -t 5 \
        "${A[@]}" -o status -n vm-a
    for req in "-o status -n vm-a" "-o status -n vm-b" "-o list" "-o null -n vm-a"; do
        # shellcheck disable=SC2086
        vft_same_as_ref "[$h] fence_virt $req" agent ref_agent "${A[@]}" $req
    done
done

# groups: the requester is identified by its CID (shim: VFT_VSOCK_PEER_CID)
start_daemon sha256 "$SHIM" 'groups { group { name = "g3"; ip = "3"; uuid = "vm-a"; } }' &&
{
    expect "groups: CID 3 may query vm-a" 0 '^Status: ON$' agent -o status -n vm-a
    expect_err "groups: CID 3 may not touch vm-b: exit 3" 3 'Permission denied.*groups' \
        agent -o off -n vm-b
    expect_err "groups: CID 3 may not query vm-b either" 3 'Permission denied' \
        agent -o status -n vm-b
    expect "groups: CID 3 lists only vm-a" 0 "^vm-a +$UA on$" agent -o list
    [ "$(wc -l <"$VFT_OUT")" = 1 ] && vft_ok "groups: list has one entry" \
        || vft_fail "groups: list has $(wc -l <"$VFT_OUT") entries"
}
# the daemon's shim reports the requester CID: pretend the request comes from CID 7
VFT_VSOCK_PEER_CID=7 start_daemon sha256 "$SHIM" 'groups { group { name = "g3"; ip = "3"; uuid = "vm-a"; } }' &&
{
    expect_err "groups: CID 7 is in no group: exit 3" 3 'Permission denied' agent -o status -n vm-a
}

# nobody listening on that port (shim: refused)
vft_kill_pid "$DPID"; DPID=
expect_err "no daemon (shim): connection refused" 1 "no fence_virtd listening at vsock CID 2 port 4999" \
    env LD_PRELOAD="$SHIM" ASAN_OPTIONS="$AGENT_ASAN" "$VF_AGENT" -S2 -p 4999 -k "$KEY" -o status -n vm-a

# real AF_VSOCK, no daemon: whatever the kernel says, the connect is bounded (D30)
t0=$(date +%s)
vft_expect_rc "real vsock, no daemon: exit 1" 1 "$VF_AGENT" -S2 -p 4999 -k "$KEY" -t 30 -o status -n vm-a
t1=$(date +%s)
[ $((t1 - t0)) -le 5 ] && vft_ok "real vsock connect is bounded ($((t1 - t0)) s: $(head -1 "$VFT_ERR"))" \
    || vft_fail "real vsock connect took $((t1 - t0)) s"

# real AF_VSOCK with the reference daemon, where a local connection works
LOCAL_CID=$(python3 - <<'EOF' 2>/dev/null
import fcntl, socket, struct
IOCTL_VM_SOCKETS_GET_LOCAL_CID = 0x7b9
try:
    with open("/dev/vsock", "rb") as f:
        cid = struct.unpack("I", fcntl.ioctl(f, IOCTL_VM_SOCKETS_GET_LOCAL_CID, b"\0" * 4))[0]
except OSError:
    cid = 2
if cid in (0xffffffff, 0, 1):
    cid = 2
l = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
l.bind((socket.VMADDR_CID_ANY, 47321))
l.listen(1)
s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
s.settimeout(2)
s.connect((cid, 47321))
print(cid)
EOF
)
if [ -z "$LOCAL_CID" ]; then
    vft_skip_part "real-vsock part: no local vsock transport (vsock_loopback) on this kernel"
elif start_daemon sha256 ""; then
    expect "real vsock: status vm-a via CID $LOCAL_CID" 0 '^Status: ON$' \
        "$VF_AGENT" -S"$LOCAL_CID" -p "$PORT" -k "$KEY" -o status -n vm-a
    expect "real vsock: list" 0 "^vm-a +$UA on$" "$VF_AGENT" -S"$LOCAL_CID" -p "$PORT" -k "$KEY" -o list
else
    vft_fail "real vsock: the reference daemon did not start (local CID $LOCAL_CID works)"
fi

vft_finish
