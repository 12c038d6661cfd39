#!/bin/bash
# vmfence - tests/packaging/unit-check.sh: the generated systemd unit
# (daemon/dist/fence_virtd.service) must pass "systemd-analyze verify"
# without a message, keep its sandbox, and keep its exposure score from
# "systemd-analyze security --offline=true" at or below VF_UNIT_MAX_EXPOSURE.
#
# No running systemd is needed (this machine has none): verify and
# security --offline read the file. verify also checks that ExecStart's
# binary exists, so it runs on a copy whose ExecStart names the build tree's
# fence_virtd; everything else is the generated file as installed.
#
# Type: "simple" while fence_virtd does not call sd_notify(); once it does,
# this test asks for Type=notify.

. "$(dirname "$0")/../lib/common.sh"

vft_need_cmd systemd-analyze

# Measured: 1.9 "OK" with systemd 252.38 (Debian 12). The tool's bands:
# 0.0 PERFECT, 0.1-0.9 SAFE, 1.0-4.9 OK, 5.0-7.4 MEDIUM, 7.5-8.9 EXPOSED,
# 9.0-9.9 UNSAFE, 10 DANGEROUS. What is left is inherent to a fence daemon:
# root (0.4), the host's network (0.5), IPv4/IPv6/UNIX/netlink/vsock sockets.
# Decision (issue 12): privilege separation costs the unit 0.5 on this scale
# (CAP_SYS_CHROOT, CAP_SETUID/CAP_SETGID, and chroot/setuid/capset allowed:
# 1.9 -> 2.4), because the tool scores the whole service and cannot see that
# the network-facing half then runs as an unprivileged user, chrooted, with
# no capabilities and a seccomp filter of its own. The limit 2.5 leaves room
# for a small relaxation (CAP_DAC_OVERRIDE for the serial listener: +0.1);
# more needs a decision and a new number here.
max=${VF_UNIT_MAX_EXPOSURE:-2.5}

gen=$VFT_BUILD/daemon/dist/fence_virtd.service
if [ ! -f "$gen" ]; then
    # not built (a bare source tree): generate it as daemon/dist/dist.am does
    gen=$VFT_TMP/fence_virtd.service
    sed -e 's|@sbindir[@]|/usr/sbin|g' -e 's|@sysconfdir[@]|/etc|g' \
        "$VFT_SRC/daemon/dist/fence_virtd.service.in" >"$gen"
fi
unit=$VFT_TMP/fence_virtd.service
cp "$gen" "$unit"
vft_check "generated unit has no @substitution@ left" sh -c "! grep -n '@[a-z_]*@' '$unit'"

get() { sed -n "s/^$1=//p" "$unit"; }

# ---- verify: on a copy whose ExecStart names a binary that exists here --------
vdir=$VFT_TMP/verify
mkdir -p "$vdir"
bin=$(get ExecStart | awk '{print $1}')
if [ ! -x "$bin" ] && [ -x "$VFT_BUILD/daemon/fence_virtd" ]; then
    sed "s|^ExecStart=$bin |ExecStart=$VFT_BUILD/daemon/fence_virtd |" "$unit" >"$vdir/fence_virtd.service"
else
    cp "$unit" "$vdir/fence_virtd.service"
fi
rc=0
(cd "$vdir" && timeout 60 systemd-analyze verify ./fence_virtd.service) >"$VFT_TMP/verify.log" 2>&1 || rc=$?
if [ "$rc" = 0 ] && [ ! -s "$VFT_TMP/verify.log" ]; then
    vft_ok "systemd-analyze verify: clean"
else
    vft_fail "systemd-analyze verify (rc $rc)"; sed 's/^/    /' "$VFT_TMP/verify.log"
fi

# ---- the service's shape --------------------------------------------------------
# Type=notify only once the daemon sends READY=1 (else systemd would wait for
# it and time out); NotifyAccess=main then, as the daemon itself notifies
if grep -rqs 'sd_notify' "$VFT_SRC"/daemon/*.c; then
    vft_check "Type=notify (fence_virtd calls sd_notify)" test "$(get Type)" = notify
    vft_check "NotifyAccess=main" test "$(get NotifyAccess)" = main
else
    vft_check "Type=simple (fence_virtd does not call sd_notify yet)" test "$(get Type)" = simple
fi
vft_check "ExecStart runs fence_virtd in the foreground with FENCE_VIRTD_ARGS" \
    sh -c "get() { sed -n \"s/^\$1=//p\" '$unit'; }; get ExecStart | grep -Eq '/fence_virtd -F .*\\\$FENCE_VIRTD_ARGS'"
vft_check "ExecReload=/bin/kill -HUP \$MAINPID" test "$(get ExecReload)" = '/bin/kill -HUP $MAINPID'
rtdir=$(get RuntimeDirectory)
vft_check "the pid file is in RuntimeDirectory (/run/$rtdir), the only writable place under /run" \
    sh -c "[ -n '$rtdir' ] && grep -q '^ExecStart=.* -p /run/$rtdir/' '$unit'"

# ---- the sandbox ------------------------------------------------------------------
for kv in ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes \
    NoNewPrivileges=yes ProtectKernelTunables=yes ProtectKernelModules=yes \
    ProtectKernelLogs=yes ProtectControlGroups=yes RestrictNamespaces=yes LockPersonality=yes \
    MemoryDenyWriteExecute=yes RestrictSUIDSGID=yes SystemCallArchitectures=native \
    SystemCallFilter=@system-service \
    'CapabilityBoundingSet=CAP_SYS_CHROOT CAP_SETUID CAP_SETGID'; do
    vft_check "$kv" grep -qx -- "$kv" "$unit"
done
fams=$(get RestrictAddressFamilies | tr ' ' '\n' | sort | tr '\n' ' ')
vft_check "RestrictAddressFamilies = AF_INET AF_INET6 AF_NETLINK AF_UNIX AF_VSOCK (got: $fams)" \
    test "$fams" = "AF_INET AF_INET6 AF_NETLINK AF_UNIX AF_VSOCK "

# ---- the exposure score -----------------------------------------------------------
rc=0
(cd "$VFT_TMP" && timeout 60 systemd-analyze security --offline=true ./fence_virtd.service) \
    >"$VFT_TMP/security.log" 2>&1 || rc=$?
line=$(grep 'Overall exposure level' "$VFT_TMP/security.log")
score=$(echo "$line" | sed -n 's/.*: \([0-9][0-9]*\.[0-9]\) \([A-Z]*\).*/\1/p')
band=$(echo "$line" | sed -n 's/.*: \([0-9][0-9]*\.[0-9]\) \([A-Z]*\).*/\2/p')
if [ "$rc" != 0 ] || [ -z "$score" ]; then
    vft_fail "systemd-analyze security --offline=true (rc $rc)"; tail -5 "$VFT_TMP/security.log"
else
    echo "SECURITY SCORE: fence_virtd.service exposure $score $band" \
        "(systemd $(systemd-analyze --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p'), limit $max)"
    grep '✗' "$VFT_TMP/security.log" | sed 's/^/    /'
    vft_check "exposure $score <= $max" awk -v s="$score" -v m="$max" 'BEGIN { exit !(s <= m) }'
    case "$band" in
    PERFECT|SAFE|OK) vft_ok "band $band (goal: OK or better)" ;;
    *) vft_fail "band $band (goal: OK or better)" ;;
    esac
    # the tool's own gate agrees (--threshold counts tenths)
    t=$(awk -v m="$max" 'BEGIN { printf "%d", m * 10 + 0.5 }')
    vft_expect_rc "systemd-analyze security --threshold=$t" 0 \
        sh -c "cd '$VFT_TMP' && systemd-analyze security --offline=true --threshold=$t ./fence_virtd.service"
fi

vft_finish
