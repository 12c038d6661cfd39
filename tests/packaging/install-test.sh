#!/bin/bash
# vmfence - tests/packaging/install-test.sh: install the Debian packages over
# the reference packages (fence-virt, fence-virtd, fence-agents) in a
# throwaway root, use them, remove them and check the reference comes back.
#
# The throwaway root: in a private mount + network + pid namespace
# (unshare --mount --net --pid --fork --kill-child --propagation private): an overlayfs
# with / as its lower layer and a tmpfs as its upper layer, with its own
# /proc, /tmp, /run, /dev/shm, /dev bound from the host, a policy-rc.d that
# refuses to start services, and only a loopback interface. Everything that
# dpkg and the daemon write lands in the tmpfs, which disappears with the
# namespace; so do the processes (pid namespace). Before and after, the test
# checks that the real root did not change: the checksums of the agents and
# the daemon, /etc/fence_virt.conf, `dpkg -l` and the diversions.
#
# Inside, as an administrator would: write /etc/fence_virt.conf (tcp
# listener on 127.0.0.1, libvirt backend on a test:/// hypervisor: nothing
# real is fenced) and a key; dpkg -i our packages; check fence_xvm's metadata
# is ours (stonith_admin -M too), fence_virtd --check-config passes on the
# kept configuration (byte for byte unchanged), fence_virtd runs from the
# unit's ExecStart (with its EnvironmentFile and RuntimeDirectory), answers
# fence_virt over TCP, reloads by the unit's ExecReload and stops on SIGTERM;
# fence_xenapi diverts fence-agents' file; dpkg -r then dpkg -P our packages;
# the diversion is gone and, after reinstalling fence-virt/fence-virtd from
# their .debs (what "apt install fence-virt fence-virtd" does), every
# reference file has its old checksum again.
#
# Environment:
#   VF_PKG_DIR       directory with the built vmfence-*.deb (default: build
#                    them with build-debs.sh into a temporary directory,
#                    about 80-120 s)
#   VF_REF_DEB_DIR   where fence-virt_*.deb and fence-virtd_*.deb are
#                    (default /var/cache/apt/archives; else apt-get download)
#   VF_PKG_TIMEOUT   seconds for everything inside the namespace (300)
# Needs root, unshare, overlayfs, and fence-virt, fence-virtd, fence-agents
# and pacemaker-cli-utils installed (scripts/setup-debian.sh).

# The package test builds and installs packages: not part of a unit-only run
# (make distcheck, and the unit tests dpkg-buildpackage itself runs).
if [ -n "${VF_UNIT_ONLY:-}" ]; then
    echo "SKIP: install-test: VF_UNIT_ONLY is set"
    exit 77
fi
. "$(dirname "$0")/../lib/common.sh"

vft_need_root
vft_need_cmd unshare chroot dpkg dpkg-deb dpkg-divert sha256sum timeout ss ip stonith_admin
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
    vft_skip "no overlayfs in this kernel"
for p in fence-virt fence-virtd fence-agents; do
    st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) || st=""
    case "$st" in
    ii*) ;;
    *) vft_skip "reference package $p is not installed (scripts/setup-debian.sh)" ;;
    esac
done

# ---- the packages ------------------------------------------------------------
debdir=${VF_PKG_DIR:-}
if [ -z "$debdir" ]; then
    debdir=$VFT_TMP/debs
    vft_log "VF_PKG_DIR not set: building the packages (build-debs.sh)"
    if DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-nocheck}" \
        timeout 1200 "$VFT_SRC/tests/packaging/build-debs.sh" "$VFT_SRC" "$debdir"; then
        vft_ok "packages built"
    else
        vft_fail "package build (log: $debdir/build.log)"
        vft_finish
    fi
fi
pick_deb() { # pick_deb NAME: the newest NAME_*.deb in $debdir
    ls -1 "$debdir"/"$1"_*.deb 2>/dev/null | sort -V | tail -1
}
deb_agents=$(pick_deb vmfence-agents)
deb_daemon=$(pick_deb vmfence-daemon)
deb_xenapi=$(pick_deb vmfence-xenapi)
if [ -z "$deb_agents" ] || [ -z "$deb_daemon" ]; then
    vft_fail "vmfence-agents/vmfence-daemon .deb not found in $debdir"
    vft_finish
fi
# vmfence-xenapi is built once agents/xenapi exists (debian/rules)
xenapi=no
if [ -n "$deb_xenapi" ]; then
    xenapi=yes
elif [ -d "$VFT_SRC/agents/xenapi" ]; then
    vft_fail "agents/xenapi exists but there is no vmfence-xenapi .deb in $debdir"
else
    vft_log "no agents/xenapi in the tree yet: the vmfence-xenapi checks are skipped"
fi

# the reference .debs, to put fence-virt/fence-virtd back after our removal
refdir=$VFT_TMP/refdebs
mkdir -p "$refdir"
for p in fence-virt fence-virtd; do
    v=$(dpkg-query -W -f='${Version}' "$p"); v=${v/:/%3a}
    a=$(dpkg-query -W -f='${Architecture}' "$p")
    f=${VF_REF_DEB_DIR:-/var/cache/apt/archives}/${p}_${v}_${a}.deb
    if [ -f "$f" ]; then
        cp "$f" "$refdir/"
    else
        vft_log "$f not found: apt-get download $p"
        (cd "$refdir" && timeout 120 apt-get download -q "$p=$(dpkg-query -W -f='${Version}' "$p")") \
            >/dev/null 2>&1 || true
    fi
    ls "$refdir/${p}_"*.deb >/dev/null 2>&1 ||
        vft_fail "no .deb of the installed $p (looked in ${VF_REF_DEB_DIR:-/var/cache/apt/archives}, tried apt-get download)"
done

# ---- the real root, before ---------------------------------------------------
real_state() {
    local f
    for f in /usr/sbin/fence_xvm /usr/sbin/fence_virt /usr/sbin/fence_virtd \
        /usr/sbin/fence_xenapi /usr/share/man/man8/fence_xenapi.8.gz /etc/fence_virt.conf \
        /lib/systemd/system/fence_virtd.service /usr/sbin/policy-rc.d; do
        if [ -L "$f" ]; then
            echo "symlink $(readlink "$f") $f"
        elif [ -e "$f" ]; then
            sha256sum "$f"
        else
            echo "missing $f"
        fi
    done
    echo "--- diversions"
    dpkg-divert --list | sort
}
real_state >"$VFT_TMP/real.before"
dpkg -l >"$VFT_TMP/dpkg-l.before"

# ---- what goes into the throwaway root ---------------------------------------
in=$VFT_TMP/inside
mkdir -p "$in/debs" "$in/refdebs"
cp "$deb_agents" "$deb_daemon" ${deb_xenapi:+"$deb_xenapi"} "$in/debs/"
cp "$refdir"/*.deb "$in/refdebs/" 2>/dev/null || true
echo "$xenapi" >"$in/xenapi"
vft_testdriver_xml "$in/hv.xml" node1:running node2:off node3:running

# steps.sh runs chrooted in the overlay; it prints "ok   - ..." / "FAIL - ..."
cat >"$in/steps.sh" <<'STEPS'
#!/bin/bash
set -u
D=/tmp/vf
ok() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; }
note() { echo "       $*"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }
show() { sed 's/^/       | /' "$1" | tail -"${2:-15}"; }
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
xenapi=$(cat $D/xenapi)
KEY=/etc/cluster/fence_xvm.key
CONF=/etc/fence_virt.conf

# the reference packages' files (conffiles aside): checksums / link targets
ref_state() {
    local f
    { dpkg-query -L fence-virt fence-virtd 2>/dev/null
      dpkg-query -L fence-agents 2>/dev/null | grep xenapi; } | sort -u | while read -r f; do
        case "$f" in /etc/*) continue ;; esac
        if [ -L "$f" ]; then echo "symlink $(readlink "$f") $f"
        elif [ -f "$f" ]; then sha256sum "$f"
        fi
    done
}
admin_sums() { sha256sum "$CONF" "$KEY"; }
status_of() { dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | tr -d ' '; }

# ---- 0. the reference is installed; the administrator configures it
ref_state >$D/ref.before
check "reference files recorded ($(wc -l <$D/ref.before) files)" test -s $D/ref.before
check "fence_xvm is the reference's before" \
    sh -c "! /usr/sbin/fence_xvm -o metadata 2>/dev/null | grep -q callback_port"
mkdir -p /etc/cluster /etc/vmfence-test
cp $D/hv.xml /etc/vmfence-test/hv.xml
head -c 4096 /dev/urandom >$KEY; chmod 600 $KEY
cat >$CONF <<'EOF'
# the administrator's fence_virt.conf (tests/packaging/install-test.sh):
# tcp on loopback, the libvirt test driver instead of a hypervisor
fence_virtd {
	listener = "tcp";
	backend = "libvirt";
}

listeners {
	tcp {
		key_file = "/etc/cluster/fence_xvm.key";
		address = "127.0.0.1";
		port = "1229";
		family = "ipv4";
	}
}

backends {
	libvirt {
		uri = "test:///etc/vmfence-test/hv.xml";
	}
}
EOF
admin_sums >$D/admin.before

# ---- 1. install ours over the reference
debs=$(ls $D/debs/*.deb)
if timeout 300 dpkg -i $debs </dev/null >$D/dpkg-i.log 2>&1; then
    ok "dpkg -i $(cd $D/debs && ls | tr '\n' ' ')"
else
    fail "dpkg -i"; show $D/dpkg-i.log 30
fi
for p in vmfence-agents vmfence-daemon; do
    check "$p installed" test "$(status_of $p)" = ii
done
check "fence-virt removed in favour of vmfence-agents (status '$(status_of fence-virt)')" \
    test "$(status_of fence-virt)" != ii
# db:Status-Abbrev "?c": config-files (removed, conffiles kept)
check "fence-virtd removed, its configuration kept (status '$(status_of fence-virtd)')" \
    test "$(status_of fence-virtd | cut -c2)" = c
check "fence-agents still installed" test "$(status_of fence-agents)" = ii
check "/usr/sbin/fence_xvm belongs to vmfence-agents" \
    sh -c 'dpkg -S /usr/sbin/fence_xvm | grep -q "^vmfence-agents:"'
check "vmfence-daemon does not ship $CONF" sh -c "! dpkg -L vmfence-daemon | grep -qx $CONF"
check "/etc/default/fence_virtd is a conffile of vmfence-daemon" \
    sh -c "dpkg-query -W -f='\${Conffiles}' vmfence-daemon | grep -q ' /etc/default/fence_virtd '"
check "the administrator's $CONF and key are unchanged" sh -c "sha256sum $CONF $KEY | cmp -s - $D/admin.before"

# ---- 2. the agents are ours
if /usr/sbin/fence_xvm -o metadata >$D/meta.xml 2>&1 && grep -q 'name="callback_port"' $D/meta.xml; then
    ok "fence_xvm -o metadata is vmfence's (has callback_port)"
else
    fail "fence_xvm -o metadata"; show $D/meta.xml
fi
if timeout 60 stonith_admin -M -a fence_xvm >$D/stonith-M.xml 2>&1 &&
    grep -q 'name="callback_port"' $D/stonith-M.xml; then
    ok "stonith_admin -M -a fence_xvm shows vmfence's metadata"
else
    fail "stonith_admin -M -a fence_xvm"; show $D/stonith-M.xml
fi

# ---- 3. the daemon: the kept configuration, then the unit's command line
if timeout 30 fence_virtd --check-config >$D/check.log 2>&1; then
    ok "fence_virtd --check-config on the kept $CONF"
else
    fail "fence_virtd --check-config"; show $D/check.log
fi
unit=/lib/systemd/system/fence_virtd.service
check "unit installed ($unit)" test -f $unit
unit_get() { sed -n "s/^$1=//p" $unit; }
execstart=$(unit_get ExecStart | tail -1)
execreload=$(unit_get ExecReload | tail -1)
note "ExecStart=$execstart"
# systemd: EnvironmentFile= (a leading '-': may be missing), RuntimeDirectory=
for f in $(unit_get EnvironmentFile); do
    case "$f" in -*) f=${f#-}; [ -f "$f" ] || continue ;; esac
    set -a; . "$f"; set +a
done
rtdir=$(unit_get RuntimeDirectory)
if [ -n "$rtdir" ]; then
    mkdir -p "/run/$rtdir"; chmod "$(unit_get RuntimeDirectoryMode | sed 's/^$/0755/')" "/run/$rtdir"
fi
# systemd's expansion: $VAR splits on white space, ${VAR} is one word
expand_cmd() {
    local w v
    CMD=()
    for w in $1; do
        if [[ $w =~ ^\$([A-Za-z_][A-Za-z0-9_]*)$ ]]; then
            v=${!BASH_REMATCH[1]:-}
            CMD+=($v)
        elif [[ $w =~ ^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$ ]]; then
            CMD+=("${!BASH_REMATCH[1]:-}")
        else
            CMD+=("$w")
        fi
    done
    CMD[0]=${CMD[0]#[-@+!]}
}
expand_cmd "$execstart"
note "runs: ${CMD[*]}"
ip link set lo up 2>/dev/null
"${CMD[@]}" </dev/null >$D/daemon.log 2>&1 &
dpid=$!
ready=no
for i in $(seq 1 150); do
    if grep -q 'started (pid' $D/daemon.log && ss -Hltn 'sport = :1229' | grep -q .; then
        ready=yes; break
    fi
    kill -0 $dpid 2>/dev/null || break
    sleep 0.1
done
if [ $ready = yes ]; then
    ok "fence_virtd from ExecStart is up: logged readiness, listens on 127.0.0.1:1229"
else
    fail "fence_virtd from ExecStart did not come up in 15 s"; show $D/daemon.log
fi
pidfile=$(printf '%s\n' "${CMD[@]}" | grep -A1 -x -- -p | tail -1)
check "pid file $pidfile holds the daemon's pid" sh -c "[ \"\$(cat $pidfile 2>/dev/null)\" = $dpid ]"
out=$(timeout 30 fence_virt -T 127.0.0.1 -p 1229 -o list 2>&1)
if echo "$out" | grep -q node1 && echo "$out" | grep -q node3; then
    ok "fence_virt -T 127.0.0.1 -o list answered by the daemon"
else
    fail "fence_virt -o list: $out"
fi
rc=0; timeout 30 fence_virt -T 127.0.0.1 -p 1229 -o status -n node2 >/dev/null 2>&1 || rc=$?
check "fence_virt -o status -n node2 = 2 (off) (rc $rc)" test $rc = 2
# ExecReload with $MAINPID
MAINPID=$dpid
expand_cmd "$execreload"
"${CMD[@]}"
reloaded=no
for i in $(seq 1 50); do
    grep -qi 'reload' $D/daemon.log && { reloaded=yes; break; }
    sleep 0.1
done
check "ExecReload (${CMD[*]}): reloaded, still running" \
    sh -c "[ $reloaded = yes ] && kill -0 $dpid && ss -Hltn 'sport = :1229' | grep -q ."
kill -TERM $dpid
rc=timeout
for i in $(seq 1 150); do
    if ! kill -0 $dpid 2>/dev/null; then rc=0; wait $dpid || rc=$?; break; fi
    sleep 0.1
done
check "fence_virtd stops on SIGTERM with status 0 (got $rc)" test "$rc" = 0
check "its pid file is gone" test ! -e "$pidfile"
[ "$rc" = timeout ] && kill -KILL $dpid 2>/dev/null
note "daemon log:"; show $D/daemon.log 8

# ---- 4. fence_xenapi: a diversion of fence-agents' file
xdiv=/usr/lib/vmfence-xenapi/fence_xenapi.fence-agents
if [ "$xenapi" = yes ]; then
    check "fence_xenapi diverted by vmfence-xenapi" \
        test "$(dpkg-divert --listpackage /usr/sbin/fence_xenapi)" = vmfence-xenapi
    check "its manual page diverted too" \
        test "$(dpkg-divert --listpackage /usr/share/man/man8/fence_xenapi.8.gz)" = vmfence-xenapi
    check "fence-agents' fence_xenapi kept aside as $xdiv (same checksum)" \
        sh -c "[ \"\$(sha256sum <$xdiv)\" = \"\$(grep ' /usr/sbin/fence_xenapi\$' $D/ref.before | cut -d' ' -f1)  -\" ]"
    # dpkg -S names both packages for a diverted path: compare contents
    check "/usr/sbin/fence_xenapi is vmfence's now (dpkg --verify vmfence-xenapi clean)" \
        sh -c "[ -z \"\$(dpkg --verify vmfence-xenapi 2>&1)\" ] && ! cmp -s /usr/sbin/fence_xenapi $xdiv"
    check "stonith_admin -I lists fence_xenapi once, no diverted copy" \
        sh -c "timeout 60 stonith_admin -I | grep -c '^ *fence_xenapi' | grep -qx 1"
fi

# ---- 5. remove and purge ours
pkgs="vmfence-agents vmfence-daemon"; [ "$xenapi" = yes ] && pkgs="$pkgs vmfence-xenapi"
if timeout 300 dpkg -r $pkgs </dev/null >$D/dpkg-r.log 2>&1; then ok "dpkg -r $pkgs"; else fail "dpkg -r"; show $D/dpkg-r.log; fi
check "/etc/default/fence_virtd kept after dpkg -r (conffile)" test -f /etc/default/fence_virtd
if timeout 300 dpkg -P $pkgs </dev/null >$D/dpkg-P.log 2>&1; then ok "dpkg -P $pkgs"; else fail "dpkg -P"; show $D/dpkg-P.log; fi
for p in $pkgs; do
    check "$p gone (status '$(status_of $p)')" sh -c "[ -z \"$(status_of $p)\" ] || [ \"$(status_of $p)\" = un ]"
done
check "/etc/default/fence_virtd purged" test ! -e /etc/default/fence_virtd
check "no vmfence diversion left" sh -c "! dpkg-divert --list | grep -q vmfence"
check "$(dirname $xdiv) gone" test ! -e "$(dirname $xdiv)"
check "fence-agents' fence_xenapi is back (checksum)" \
    bash -c "sha256sum /usr/sbin/fence_xenapi /usr/share/man/man8/fence_xenapi.8.gz | cmp -s - <(grep xenapi $D/ref.before)"
check "the administrator's $CONF and key survive dpkg -r/-P" sh -c "sha256sum $CONF $KEY | cmp -s - $D/admin.before"

# ---- 6. the reference back: apt install fence-virt fence-virtd, from the .debs
refs=$(ls $D/refdebs/*.deb 2>/dev/null)
if [ -z "$refs" ]; then
    fail "no reference .debs to reinstall"
elif timeout 300 dpkg -i --force-confold $refs </dev/null >$D/dpkg-ref.log 2>&1; then
    ok "reference reinstalled: $(cd $D/refdebs && ls | tr '\n' ' ')"
else
    fail "dpkg -i reference"; show $D/dpkg-ref.log
fi
ref_state >$D/ref.after
if cmp -s $D/ref.before $D/ref.after; then
    ok "every reference file is back with its checksum ($(wc -l <$D/ref.after) files)"
else
    fail "reference files differ"; diff $D/ref.before $D/ref.after | head -20 | sed 's/^/       /'
fi
if dpkg --verify fence-virt fence-virtd fence-agents 2>&1 | grep -v ' c /' >$D/verify.log; then
    fail "dpkg --verify of the reference packages"; show $D/verify.log
else
    ok "dpkg --verify fence-virt fence-virtd fence-agents (conffiles aside)"
fi
check "the administrator's $CONF and key survive the way back" sh -c "sha256sum $CONF $KEY | cmp -s - $D/admin.before"
check "fence_xvm is the reference's again" \
    sh -c "! /usr/sbin/fence_xvm -o metadata 2>/dev/null | grep -q callback_port"
STEPS

# ns.sh runs in the new namespaces: builds the throwaway root and chroots
cat >"$VFT_TMP/ns.sh" <<'NS'
#!/bin/bash
set -eu
T=$1
mkdir -p "$T/ovl"
mount -t tmpfs -o size=4g,mode=0700 vf-pkg-upper "$T/ovl"
mkdir "$T/ovl/upper" "$T/ovl/work" "$T/ovl/root"
R=$T/ovl/root
mount -t overlay vf-pkg-root -o "lowerdir=/,upperdir=$T/ovl/upper,workdir=$T/ovl/work" "$R"
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
mount --make-rprivate "$R/dev"
mount -t tmpfs -o mode=1777 tmp "$R/tmp"
mount -t tmpfs -o mode=0755 run "$R/run"
mount -t tmpfs -o mode=1777 shm "$R/dev/shm"
mkdir -p "$R/run/lock"
# the guard: no maintainer script may start a service
printf '#!/bin/sh\n# install-test.sh: no service starts in the throwaway root\nexit 101\n' \
    >"$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"
# man-db's trigger would rebuild the whole index for each dpkg run
rm -f "$R/var/cache/man/"*.db 2>/dev/null || true
cp -a "$T/inside" "$R/tmp/vf"
ip link set lo up
exec chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    TERM=dumb bash /tmp/vf/steps.sh
NS

vft_log "entering the throwaway root (timeout ${VF_PKG_TIMEOUT:-300} s)"
rc=0
timeout -k 10 "${VF_PKG_TIMEOUT:-300}" \
    unshare --mount --net --pid --fork --kill-child --propagation private \
    bash "$VFT_TMP/ns.sh" "$VFT_TMP" >"$VFT_TMP/inside.log" 2>&1 || rc=$?
cat "$VFT_TMP/inside.log"
VFT_PASS=$((VFT_PASS + $(grep -c '^ok   - ' "$VFT_TMP/inside.log")))
VFT_FAIL=$((VFT_FAIL + $(grep -c '^FAIL - ' "$VFT_TMP/inside.log")))
if [ "$rc" = 0 ]; then
    vft_ok "throwaway root: namespace exited cleanly"
else
    vft_fail "throwaway root: exit status $rc$([ "$rc" = 124 ] && echo ' (timeout)')"
fi
# the namespace is gone: nothing of it may be mounted here
if grep -q "vf-pkg-" /proc/self/mountinfo; then
    vft_fail "overlay mounts visible outside the namespace"
else
    vft_ok "no overlay mount left in the real root"
fi

# ---- the real root, after -----------------------------------------------------
real_state >"$VFT_TMP/real.after"
if cmp -s "$VFT_TMP/real.before" "$VFT_TMP/real.after"; then
    vft_ok "real root unchanged: agents, daemon, fence_xenapi, fence_virt.conf, unit, policy-rc.d, diversions"
else
    vft_fail "the real root changed"; diff "$VFT_TMP/real.before" "$VFT_TMP/real.after" | head -20
fi
dpkg -l >"$VFT_TMP/dpkg-l.after"
if cmp -s "$VFT_TMP/dpkg-l.before" "$VFT_TMP/dpkg-l.after"; then
    vft_ok "real root: dpkg -l unchanged"
else
    # other sessions may install packages meanwhile: only ours and the
    # reference's lines count
    d=$(diff "$VFT_TMP/dpkg-l.before" "$VFT_TMP/dpkg-l.after" | grep -E '^[<>] ')
    if echo "$d" | grep -Eq '^[<>] +[a-zA-Z]+ +(vmfence|fence-|pacemaker)'; then
        vft_fail "real root: dpkg -l changed for the packages under test"; echo "$d" | head
    else
        vft_ok "real root: dpkg -l unchanged for fence-*/vmfence-* (other lines changed meanwhile: $(echo "$d" | wc -l))"
    fi
fi
vft_finish
