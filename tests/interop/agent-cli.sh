#!/bin/bash
# vmfence - tests/interop/agent-cli.sh: the agent's command line and stdin
# interface; no fence_virtd involved.  Where a daemon would be contacted the
# test points fence_virt -T at a loopback port where nothing listens, or at
# a socat listener that only records the request bytes (a stand-in for a
# daemon that never answers).  fence_xvm is only run with arguments that
# never send multicast (help, version, metadata, validate-all, errors).
. "$(dirname "$0")/../lib/common.sh"

vft_need_root
vft_need_cmd "$VF_AGENT" "$VF_AGENT_XVM" ss

KEY=$VFT_TMP/key
vft_gen_key "$KEY" 128
LONG=$(printf 'x%.0s' $(seq 1 64))

expect_err() { vft_expect_err "$@"; }
# stdin_run PROG TEXT: run PROG with TEXT on stdin (no arguments)
stdin_run() { printf '%s' "$2" | "$1"; }

for prog in "$VF_AGENT" "$VF_AGENT_XVM"; do
    n=$(basename "$prog")
    # unknown option: one line, exit 1, no help text (D3)
    if vft_expect_rc "[$n] unknown option exits 1" 1 "$prog" -Z; then
        if [ "$(wc -l <"$VFT_ERR")" = 1 ] && [ ! -s "$VFT_OUT" ] && grep -q -- "-Z" "$VFT_ERR"; then
            vft_ok "[$n] unknown option: one line naming the option"
        else
            vft_fail "[$n] unknown option output"; cat "$VFT_OUT" "$VFT_ERR" | head
        fi
    fi
    vft_expect_rc "[$n] -h" 0 "$prog" -h && {
        grep -q -- "-o" "$VFT_OUT" && vft_ok "[$n] help lists options" || vft_fail "[$n] help text"
    }
    vft_expect_rc "[$n] -V" 0 "$prog" -V && {
        grep -Eq "^$n [0-9]" "$VFT_OUT" && vft_ok "[$n] version line" || vft_fail "[$n] version: $(cat "$VFT_OUT")"
    }
    if vft_expect_rc "[$n] -o metadata" 0 "$prog" -o metadata; then
        if command -v xmllint >/dev/null 2>&1; then
            vft_check "[$n] metadata is well-formed XML" xmllint --noout "$VFT_OUT"
        else
            vft_skip_part "[$n] xmllint missing: metadata well-formedness not checked"
        fi
        vft_check "[$n] metadata names the agent" grep -q "resource-agent name=\"$n\"" "$VFT_OUT"
    fi
    vft_expect_rc "[$n] metadata via stdin" 0 stdin_run "$prog" $'action=metadata\n'

    # validate-all: never contacts anything
    vft_expect_rc "[$n] validate-all, good keys" 0 stdin_run "$prog" \
        $'action=validate-all\nplug=vm1\nkey_file='"$KEY"$'\nnodename=n1\n'
    expect_err "[$n] validate-all, bad value" 1 "timeout" stdin_run "$prog" \
        $'action=validate-all\nplug=vm1\nkey_file='"$KEY"$'\ntimeout=soon\n'
    expect_err "[$n] validate-all, unknown key" 1 "unknown parameter 'frobnicate'" stdin_run "$prog" \
        $'action=validate-all\nplug=vm1\nkey_file='"$KEY"$'\nfrobnicate=1\n'
    if vft_expect_rc "[$n] validate-all, several problems" 1 stdin_run "$prog" \
        $'action=validate-all\nplug=vm1\nkey_file='"$KEY"$'\ntimeout=soon\nfoo=1\nbar=2\n'; then
        if grep -q "'foo'" "$VFT_ERR" && grep -q "'bar'" "$VFT_ERR" && grep -q timeout "$VFT_ERR"; then
            vft_ok "[$n] validate-all reports every problem"
        else
            vft_fail "[$n] validate-all does not report every problem"; head "$VFT_ERR"
        fi
    fi
    expect_err "[$n] validate-all without target" 1 "target" stdin_run "$prog" \
        $'action=validate-all\nkey_file='"$KEY"$'\n'
    # (fence_virt's default vmchannel transport uses no key: ask for TCP)
    extra=
    [ "$n" = fence_virt ] && extra=$'ipaddr=127.0.0.1\n'
    expect_err "[$n] validate-all, missing key file" 1 "does-not-exist" stdin_run "$prog" \
        $'action=validate-all\nplug=vm1\nkey_file='"$VFT_TMP/does-not-exist"$'\n'"$extra"
    [ "$n" = fence_virt ] && vft_expect_rc "[$n] validate-all, vmchannel needs no key" 0 \
        stdin_run "$prog" $'action=validate-all\nplug=vm1\nkey_file='"$VFT_TMP/does-not-exist"$'\n'
    vft_expect_rc "[$n] validate-all, hash and auth none need no key" 0 stdin_run "$prog" \
        $'action=validate-all\nplug=vm1\nhash=none\nauth=none\nkey_file=/nonexistent\n'
    # argument errors
    expect_err "[$n] target of 64 characters is refused" 1 "64|63|long" "$prog" -o status -n "$LONG"
    expect_err "[$n] bad timeout value" 1 "timeout|-t" "$prog" -t abc -o status -n vm1
done

FREE=$(vft_free_port)
T=(-T 127.0.0.1 -p "$FREE")
# missing / unreadable / empty key: an error, never a silent downgrade (D23)
expect_err "missing key file is an error" 1 "does-not-exist" \
    "$VF_AGENT" "${T[@]}" -k "$VFT_TMP/does-not-exist" -o status -n vm1
: >"$VFT_TMP/empty.key"
expect_err "empty key file is an error" 1 "empty.key" \
    "$VF_AGENT" "${T[@]}" -k "$VFT_TMP/empty.key" -o status -n vm1
head -c 5000 /dev/urandom >"$VFT_TMP/big.key"
expect_err "oversized key file is an error" 1 "big.key" \
    "$VF_AGENT" "${T[@]}" -k "$VFT_TMP/big.key" -o status -n vm1
expect_err "missing key file via stdin is an error" 1 "does-not-exist" stdin_run "$VF_AGENT" \
    $'ipaddr=127.0.0.1\nipport='"$FREE"$'\nkey_file='"$VFT_TMP/does-not-exist"$'\naction=status\nplug=vm1\n'
# hash none + auth none: no key needed; we get as far as the connection
expect_err "hash=none auth=none needs no key" 1 "no fence_virtd listening at 127.0.0.1:$FREE" \
    "$VF_AGENT" "${T[@]}" -c none -C none -k "$VFT_TMP/does-not-exist" -o status -n vm1
expect_err "no target is an error" 1 "target" "$VF_AGENT" "${T[@]}" -k "$KEY" -o off
expect_err "unknown action is an error" 1 "frob" "$VF_AGENT" "${T[@]}" -k "$KEY" -o frob -n vm1
expect_err "unknown stdin key is warned about" 1 "warning: ignoring unknown parameter 'colour'" \
    stdin_run "$VF_AGENT" $'ipaddr=127.0.0.1\nipport='"$FREE"$'\nkey_file='"$KEY"$'\naction=status\nplug=vm1\ncolour=blue\n'
if [ "$(grep -c "colour" "$VFT_ERR")" = 1 ]; then vft_ok "unknown key warned about once"
else vft_fail "unknown key warning count: $(grep -c colour "$VFT_ERR")"; fi

# stdin "port=my vm": the whole value (with its blank) reaches the wire.
# socat stands in for a daemon that records the 176 request bytes and never answers.
if command -v socat >/dev/null 2>&1; then
    for attempt in 1 2 3; do
        P2=$(vft_free_port)
        socat -u "TCP-LISTEN:$P2,bind=127.0.0.1,reuseaddr" "CREATE:$VFT_TMP/req.bin" &
        SPID=$!
        vft_on_exit "vft_kill_pid $SPID"
        vft_wait_tcp 127.0.0.1 "$P2" 5 && break   # else the port was taken: another one
    done
    vft_expect_rc "stdin port=my vm (peer never answers: timeout)" 1 stdin_run "$VF_AGENT" \
        $'ipaddr=127.0.0.1\nipport='"$P2"$'\nhash=none\nauth=none\ntimeout=1\naction=status\nport=my vm\n'
    wait "$SPID" 2>/dev/null
    dom=$(dd if="$VFT_TMP/req.bin" bs=1 skip=4 count=64 2>/dev/null | tr -d '\0')
    cmd=$(od -An -tu1 -N2 "$VFT_TMP/req.bin" 2>/dev/null | tr -s ' ')
    if [ "$dom" = "my vm" ] && [ "$cmd" = " 4 0" ] && [ "$(stat -c %s "$VFT_TMP/req.bin")" = 176 ]; then
        vft_ok "request carries domain 'my vm', command 4, hashtype 0 (176 bytes)"
    else
        vft_fail "request bytes: domain '$dom' cmd/hash '$cmd' size $(stat -c %s "$VFT_TMP/req.bin" 2>/dev/null)"
    fi
    grep -q "timed out" "$VFT_ERR" && vft_ok "silent peer: timeout message" || vft_fail "silent peer message: $(cat "$VFT_ERR")"
else
    vft_skip_part "socat missing: stdin value test (port=my vm on the wire) not run"
fi

# delay: applied to off (delay 1), not to status (delay 5)
t0=$(date +%s%N)
vft_expect_rc "status with -w 5 (no daemon)" 1 "$VF_AGENT" "${T[@]}" -k "$KEY" -w 5 -o status -n vm1
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
if [ "$ms" -lt 3000 ]; then vft_ok "status is not delayed (${ms} ms)"; else vft_fail "status delayed: ${ms} ms"; fi
t0=$(date +%s%N)
vft_expect_rc "off with -w 1 (no daemon)" 1 "$VF_AGENT" "${T[@]}" -k "$KEY" -w 1 -o off -n vm1
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
if [ "$ms" -ge 1000 ]; then vft_ok "off is delayed (${ms} ms)"; else vft_fail "off not delayed: ${ms} ms"; fi

vft_finish
