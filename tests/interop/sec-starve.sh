#!/bin/bash
# vmfence - tests/interop/sec-starve.sh: security issue 13, attack 3: one
# guest (a key holder) starves every other guest of the daemon's workers.
#
# The hog (tests/interop/sec-attacker.py hog), from source address
# 127.0.0.2, keeps about 300 TCP connections in flight for 12 s: each sends a
# validly signed status request with a new seqno and then never sends the
# client's challenge, so the daemon (which answers the client's challenge
# first) waits up to 10 s on every one; each connection the daemon closes is
# reopened at once (bounded: 400 a second, 5,000 connections in all).  Meanwhile two
# legitimate REFERENCE `fence_virt -T` requests from 127.0.0.1 (ours if the
# reference is missing) must get "Status: ON" within their timeout (-t 10);
# their latency is logged.  Before the fix the global limits (64 workers,
# 1,024 queued, 5 s queue timeout) let the hog take everything; after it a
# per-requester (source IP / CID / serial UUID / multicast call-back
# address) in-flight limit with a reserve refuses the hog's surplus.
#
# Network: loopback only; 127.0.0.1 and 127.0.0.2 stand for two guests.
# Faked: the hypervisor (libvirt test driver).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/daemon-lib.sh"
vfd_need python3

ATT="$VFT_SRC/tests/interop/sec-attacker.py"
AGENT=$REF_AGENT
[ -x "$AGENT" ] || AGENT=$VF_AGENT
[ -x "$AGENT" ] || vft_skip "no fence_virt agent"
python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.2", 0))' 2>/dev/null ||
    vft_skip "cannot bind 127.0.0.2"

vft_testdriver_xml "$VFT_TMP/node.xml" vm1:running vm2:running
VFD_URI="test://$VFT_TMP/node.xml"
KEY="$VFT_TMP/key"; vft_gen_key "$KEY" 256
PORT=$(vfd_free_port) || vft_skip "no free port"
vfd_write_conf "$VFT_TMP/s.conf" "$(vfd_tcp_block "$PORT" "$KEY")"
vfd_start DPID "$VFT_TMP/s.conf" "" || { vft_fail "daemon start"; vft_finish; }
vfd_expect_out "status before the attack ($(basename "$AGENT"))" 0 "Status: ON" \
    timeout 30 "$AGENT" -T 127.0.0.1 -p "$PORT" -k "$KEY" -t 10 -o status -n vm1

python3 "$ATT" hog --daemon "127.0.0.1:$PORT" --src 127.0.0.2 --key "$KEY" \
    --domain vm2 --conns 300 --secs 12 --max-total 5000 >"$VFT_TMP/hog.out" 2>&1 &
HPID=$!
vft_on_exit "vft_kill_pid $HPID"
# until the hog has its connections in flight (or 3 s), then legitimate load
for i in $(seq 1 30); do grep -q '^in-flight' "$VFT_TMP/hog.out" && break; sleep 0.1; done
sleep 1
LPIDS=()
for n in 1 2; do
    (
        t0=$(date +%s%N); rc=0
        timeout 25 "$AGENT" -T 127.0.0.1 -p "$PORT" -k "$KEY" -t 10 -o status -n vm1 \
            >"$VFT_TMP/legit.$n" 2>&1 || rc=$?
        echo "rc=$rc ms=$(( ($(date +%s%N) - t0) / 1000000 ))" >"$VFT_TMP/legit.$n.rc"
    ) &
    LPIDS+=($!)
    sleep 2
done
for p in "${LPIDS[@]}"; do wait "$p"; done
for n in 1 2; do
    res=$(cat "$VFT_TMP/legit.$n.rc" 2>/dev/null)
    vft_log "legitimate request #$n from 127.0.0.1: $res"
    if [ "${res%% *}" = rc=0 ] && grep -q "Status: ON" "$VFT_TMP/legit.$n"; then
        vft_ok "legitimate status #$n from 127.0.0.1 while 127.0.0.2 hogs ($res)"
    else
        vft_fail "legitimate status #$n from 127.0.0.1 while 127.0.0.2 hogs: $res: $(tr '\n' ' ' <"$VFT_TMP/legit.$n" | cut -c1-200)"
    fi
done
for i in $(seq 1 150); do kill -0 "$HPID" 2>/dev/null || break; sleep 0.1; done
wait "$HPID" 2>/dev/null
sed 's/^/    hog: /' "$VFT_TMP/hog.out"
grep -q '^in-flight' "$VFT_TMP/hog.out" && vft_ok "the hog had its connections in flight" ||
    vft_log "the hog never had all 300 in flight at once (refused by the daemon?)"
grep -q '^result=done' "$VFT_TMP/hog.out" && vft_ok "hog ran" ||
    vft_fail "hog did not finish: $(tr '\n' ';' <"$VFT_TMP/hog.out")"
vft_log "daemon log: $(grep -c 'no worker free' "$VFD_LOG") 'no worker free', $(grep -c 'refused' "$VFD_LOG") 'refused' lines (rate limited)"
vft_check "daemon still alive" kill -0 "$DPID"
vfd_expect_out "status after the attack" 0 "Status: ON" \
    timeout 30 "$AGENT" -T 127.0.0.1 -p "$PORT" -k "$KEY" -t 10 -o status -n vm1
vfd_stop "$DPID"

# ---- serial variant: one guest's channel floods, another guest must be served ----
# The serial listener connects to each running domain's UNIX socket (QEMU is
# the server; sec-attacker.py plays QEMU here).  vm-hog's "guest" sends
# status frames with new seqnos as fast as the daemon takes them and never
# reads an answer; vm-good's guest sends two status frames, 6 s to answer each.
# Identity on this transport = the domain's UUID.
SD="$VFT_TMP/ser"; mkdir -p "$SD/sock" "$SD/no-modules"
{
    echo "<node>"
    for n in 1 2; do
        name=vm-hog; [ "$n" = 2 ] && name=vm-good
        printf "  <domain type='test'><name>%s</name><uuid>%s</uuid>" "$name" "$(vft_uuid_of $n)"
        printf "<memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
        printf "<devices><serial type='unix'><source mode='bind' path='%s/sock/%s.sock'/>" "$SD" "$name"
        printf "<target port='1'/></serial></devices></domain>\n"
    done
    echo "</node>"
} >"$SD/node.xml"
cat >"$SD/s.conf" <<EOC
fence_virtd {
	listener = "serial";
	backend = "libvirt";
	module_path = "$SD/no-modules";
}
listeners {
	serial {
		uri = "test://$SD/node.xml";
		path = "$SD/sock";
		mode = "serial";
	}
}
backends {
	libvirt {
		uri = "test://$SD/node.xml";
	}
}
EOC
python3 "$ATT" serialhog --sock "$SD/sock/vm-hog.sock" --domain vm-hog --wait 10 \
    --secs 10 >"$SD/hog.out" 2>&1 &
SHPID=$!
vft_on_exit "vft_kill_pid $SHPID"
python3 "$ATT" serialguest --sock "$SD/sock/vm-good.sock" --domain vm-good --wait 10 \
    --delay 1.5 --count 2 --pause 0.5 --timeout 6 >"$SD/good.out" 2>&1 &
SGPID=$!
vft_on_exit "vft_kill_pid $SGPID"
for i in $(seq 1 50); do
    [ "$(grep -c '^ready' "$SD/hog.out" "$SD/good.out" | grep -c ':1$')" = 2 ] && break
    sleep 0.1
done
vfd_start SDPID "$SD/s.conf" "" || { vft_fail "daemon start (serial)"; vft_finish; }
for i in $(seq 1 300); do kill -0 "$SGPID" 2>/dev/null || break; sleep 0.1; done
wait "$SGPID" 2>/dev/null
for i in $(seq 1 150); do kill -0 "$SHPID" 2>/dev/null || break; sleep 0.1; done
wait "$SHPID" 2>/dev/null
sed 's/^/    serial hog: /' "$SD/hog.out"
sed 's/^/    serial guest: /' "$SD/good.out"
if grep -q '^connected' "$SD/hog.out" && grep -q '^connected' "$SD/good.out"; then
    for n in 1 2; do
        l=$(grep "^request n=$n " "$SD/good.out")
        case $l in
        *" resp=0 "*) vft_ok "[serial] vm-good's status #$n answered while vm-hog floods (${l#request })" ;;
        *) vft_fail "[serial] vm-good's status #$n while vm-hog floods: ${l:-no request}" ;;
        esac
    done
else
    vft_fail "[serial] the daemon did not connect to both guest sockets"
    tail -5 "$VFD_LOG" | sed 's/^/    log: /'
fi
vft_check "[serial] daemon still alive" kill -0 "$SDPID"
vfd_stop "$SDPID"
vft_finish
