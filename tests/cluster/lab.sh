#!/bin/bash
# vmfence - tests/cluster/lab.sh: a real corosync 3 + Pacemaker 2.1 test bed
# built from network, mount and UTS namespaces (recipe: docs/cluster-lab.md).
#
# Sourced by the tests/cluster/cl-*.sh scenario scripts AFTER
# tests/lib/common.sh.  Layout (all addresses exist only inside namespaces
# this file creates; nothing is added to the machine's own network namespace):
#
#   <id>-sw   bridge br0 (multicast snooping off), one veth port per member
#   <id>-hv   10.213.0.254  fence daemon under test: multicast listener on
#             eth0 (225.0.0.12:1229) and tcp listener on 10.213.0.254:1230;
#             libvirt backend on test:///$LAB_R/hv/domains.xml
#   <id>-ob   10.213.0.253  observer: the *reference* fence_xvm/fence_virt
#             asking the daemon for a domain's state (independent of the agent
#             under test)
#   <id>-nI   10.213.0.I    cluster node nI: own net+mount+UTS namespaces
#             (pinned files under $LAB_R/nI/ns), private /etc/corosync,
#             /var/lib/corosync, /var/lib/pacemaker, /var/log/pacemaker, /run,
#             1 GB tmpfs on /dev/shm, and the agent under test bind-mounted
#             over /usr/sbin/fence_virt (fence_xvm is a symlink to it on
#             Debian; a regular file gets its own bind mount).  corosync -f and
#             pacemakerd run there; every CLI call goes through lab_nsx.
#
# What is real: corosync, pacemakerd and all its daemons, stonith_admin, pcs,
# the agent and the fence daemon.  What is faked: the hypervisor is libvirt's
# test driver (domains exist only inside the daemon's connection, which is
# why state is observed through the daemon), and "VMs" are not the nodes: a
# node namespace keeps running when its VM is fenced.
#
# Selection (printed by lab_select):
#   VF_LAB_AGENT=ours|ref   agent bind-mounted into the nodes (default: ours
#                           when $VF_TOP_BUILDDIR/agents/fence_virt exists)
#   VF_LAB_DAEMON=ours|ref  fence daemon in the hypervisor namespace (default
#                           likewise for daemon/fence_virtd).  ref runs two
#                           processes (multicast, tcp), each with its OWN
#                           test-driver state; ours runs one process with
#                           listener = "multicast,tcp".
#   VF_LAB_DAEMONS="ours ref" daemons the fencing scenarios loop over
#                           (default: the selected one, plus ref when the
#                           selected one is ours)
#   VF_LAB_MODULE_PATH      module_path for our daemon (default: an empty
#                           directory: its plugins are built in)
#
# Cleanup is by recorded PID, by membership of our own mount/net namespaces,
# and by namespace name; never by process name.  Every wait is bounded.

# a wrapper script exec'ing a scenario under another selection names itself
VFT_NAME=${VF_LAB_NAME:-$VFT_NAME}
LAB_ID=${LAB_ID:-vcl$$}
LAB_R=$VFT_TMP/lab
LAB_NET=10.213.0
LAB_HV_IP=$LAB_NET.254
LAB_OB_IP=$LAB_NET.253
LAB_MCAST=225.0.0.12
LAB_MPORT=1229
LAB_TPORT=1230
LAB_KEY=$LAB_R/fence_xvm.key
LAB_NODES=()
LAB_DPIDS=()
LAB_UP=0
LAB_T0=$(date +%s)
REF_FENCED=/usr/lib/pacemaker/pacemaker-fenced
# stonith_admin exit codes (Pacemaker's crm_exit_t): no device can fence
# the target = CRM_EX_NOSUCH; an agent failure = CRM_EX_ERROR
LAB_RC_NODEV=105
LAB_RC_ERROR=1
# the domains of the fake hypervisor: the nodes' VMs under two naming schemes
# (vm-nI for host maps, nI for dynamic lists) and one that is shut off
LAB_DOMAINS=(vm-n1 vm-n2 vm-n3 vm-n4 n1 n2 n3 n4 vm-off:off)

lab_log() { echo "[$VFT_NAME $(($(date +%s) - LAB_T0))s] $*" >&2; }
lab_ns() { echo "$LAB_ID-$1"; }

# lab_need: skip (77) unless root with the whole stack installed
lab_need() {
    vft_need_root
    vft_need_cmd corosync pacemakerd "$REF_FENCED" stonith_admin cibadmin crm_mon \
        pcs nsenter unshare ip stdbuf timeout xmllint
    [ -x "$REF_DAEMON" ] || [ -x "$VF_DAEMON" ] || vft_skip "no fence daemon"
    unshare --net --mount --uts true 2>/dev/null || vft_skip "cannot create namespaces here"
}

# lab_watchdog SECONDS: kill this script (and so run the cleanup trap) if it
# is still running after SECONDS
# (it polls once a second, so it never outlives the script by more than 1 s)
lab_watchdog() {
    local me=$$ secs=$1
    (
        i=0
        while [ "$i" -lt "$secs" ]; do
            sleep 1
            kill -0 "$me" 2>/dev/null || exit 0
            i=$((i + 1))
        done
        echo "[$VFT_NAME] watchdog: ${secs}s elapsed, aborting" >&2
        kill -TERM "$me"
    ) </dev/null >/dev/null &
    local wd=$!
    disown "$wd"
    vft_on_exit "kill $wd"
}

# lab_select: choose agent and daemon under test (see the header)
lab_select() {
    local a=${VF_LAB_AGENT:-} d=${VF_LAB_DAEMON:-}
    if [ -z "$a" ]; then
        if [ -x "$VF_AGENT" ]; then a=ours; else
            a=ref; vft_skip_part "our agent not built ($VF_AGENT): the lab runs the reference agent only"
        fi
    fi
    if [ -z "$d" ]; then
        if [ -x "$VF_DAEMON" ]; then d=ours; else
            d=ref; vft_skip_part "our daemon not built ($VF_DAEMON): the lab runs the reference daemon only"
        fi
    fi
    case $a in
    ours) [ -x "$VF_AGENT" ] || vft_skip "VF_LAB_AGENT=ours but $VF_AGENT is not built"
          LAB_AGENT_BIN=$VF_AGENT ;;
    ref)  [ -x "$REF_AGENT" ] || vft_skip "no reference agent $REF_AGENT"
          LAB_AGENT_BIN=$REF_AGENT ;;
    *)    vft_skip "VF_LAB_AGENT must be ours or ref" ;;
    esac
    case $d in
    ours) [ -x "$VF_DAEMON" ] || vft_skip "VF_LAB_DAEMON=ours but $VF_DAEMON is not built" ;;
    ref)  [ -x "$REF_DAEMON" ] || vft_skip "no reference daemon $REF_DAEMON" ;;
    *)    vft_skip "VF_LAB_DAEMON must be ours or ref" ;;
    esac
    LAB_AGENT=$a
    LAB_DAEMON=$d
    if [ -n "${VF_LAB_DAEMONS:-}" ]; then
        LAB_DAEMON_LIST=$VF_LAB_DAEMONS
    elif [ "$d" = ours ] && [ -z "${VF_LAB_DAEMON:-}" ] && [ -x "$REF_DAEMON" ]; then
        LAB_DAEMON_LIST="ours ref"
    elif [ "$d" = ours ] && [ -z "${VF_LAB_DAEMON:-}" ]; then
        LAB_DAEMON_LIST=$d
        vft_skip_part "reference daemon $REF_DAEMON missing: scenarios not run against it"
    else
        LAB_DAEMON_LIST=$d
    fi
    # the first daemon of the list is the one lab_up starts
    LAB_DAEMON=${LAB_DAEMON_LIST%% *}
    echo "# lab: agent=$LAB_AGENT ($LAB_AGENT_BIN) daemon=$LAB_DAEMON; fencing scenarios run with daemon(s): $LAB_DAEMON_LIST"
}

# lab_module_path: module_path for our daemon.  Its listeners and the
# libvirt backend are built in, so by default an empty directory is given
# (nothing extra is loaded); VF_LAB_MODULE_PATH overrides.
lab_module_path() {
    if [ -n "${VF_LAB_MODULE_PATH:-}" ]; then echo "$VF_LAB_MODULE_PATH"; return; fi
    mkdir -p "$LAB_R/hv/no-modules"
    echo "$LAB_R/hv/no-modules"
}

# --- namespaces --------------------------------------------------------------

# lab_attach NAME IP: new netns NAME joined to the switch with address IP
lab_attach() {
    local name=$1 ip=$2 ns
    ns=$(lab_ns "$name")
    ip netns add "$ns" || return 1
    echo "$ns" >>"$LAB_R/netns.list"
    ip -n "$ns" link set lo up
    ip -n "$(lab_ns sw)" link add "p-$name" type veth peer name eth0 netns "$ns" || return 1
    ip -n "$(lab_ns sw)" link set "p-$name" master br0 up
    ip -n "$ns" addr add "$ip/24" dev eth0
    ip -n "$ns" link set eth0 up
}

# lab_net_up: switch, hypervisor and observer namespaces
lab_net_up() {
    local sw
    sw=$(lab_ns sw)
    ip netns add "$sw" || return 1
    echo "$sw" >>"$LAB_R/netns.list"
    ip -n "$sw" link set lo up
    ip -n "$sw" link add br0 type bridge mcast_snooping 0 || return 1
    ip -n "$sw" link set br0 up
    lab_attach hv "$LAB_HV_IP" && lab_attach ob "$LAB_OB_IP"
}

# lab_pin_dir: make $LAB_R a private mount so mount-namespace files can be
# pinned under it even on hosts whose root is shared
lab_private_root() {
    mount --bind "$LAB_R" "$LAB_R" && mount --make-private "$LAB_R" && echo 1 >"$LAB_R/.selfbind"
}

# lab_node_ns NODE INDEX: netns + pinned mount/UTS namespaces for NODE
lab_node_ns() {
    local n=$1 i=$2 d=$LAB_R/$1
    mkdir -p "$d/ns" "$d/etc-corosync" "$d/var-lib-corosync" "$d/log" "$d/run" \
        "$d/pcmk/cib" "$d/pcmk/pengine" "$d/pcmk/blackbox" "$d/pcmk/cores"
    chown -R hacluster:haclient "$d/pcmk" "$d/log"
    chmod 750 "$d/pcmk"/* && chmod 770 "$d/log"
    touch "$d/ns/mnt" "$d/ns/uts"
    if [ -n "${LAB_NO_SWITCH:-}" ]; then
        ip netns add "$(lab_ns "$n")" || return 1
        lab_ns "$n" >>"$LAB_R/netns.list"
        ip -n "$(lab_ns "$n")" link set lo up
    else
        lab_attach "$n" "$LAB_NET.$i" || return 1
    fi
    local binds=""
    if [ "$LAB_AGENT" = ours ]; then
        # /usr/sbin/fence_xvm is a symlink to fence_virt on Debian: one bind
        # mount covers both names; a regular file gets its own
        binds="mount --bind '$LAB_AGENT_BIN' /usr/sbin/fence_virt"
        if [ -f /usr/sbin/fence_xvm ] && [ ! -L /usr/sbin/fence_xvm ]; then
            binds="$binds && mount --bind '$LAB_AGENT_BIN' /usr/sbin/fence_xvm"
        fi
    fi
    unshare --mount="$d/ns/mnt" --uts="$d/ns/uts" --propagation private \
        /bin/sh -ec "
        hostname '$n'
        mount --bind '$d/etc-corosync' /etc/corosync
        mount --bind '$d/var-lib-corosync' /var/lib/corosync
        mount --bind '$d/pcmk' /var/lib/pacemaker
        mount --bind '$d/log' /var/log/pacemaker
        mount --bind '$d/run' /run
        mount -t tmpfs -o size=1g,mode=1777 vftshm /dev/shm
        ${binds:-true}
        " || return 1
    echo "$n" >>"$LAB_R/nodes.list"
}

# lab_nsx NODE CMD...: run CMD inside NODE (net+mount+UTS namespaces)
lab_nsx() {
    local n=$1; shift
    nsenter --net="/run/netns/$(lab_ns "$n")" --mount="$LAB_R/$n/ns/mnt" \
        --uts="$LAB_R/$n/ns/uts" -- "$@"
}
# lab_obs CMD...: run CMD in the observer namespace (host mount namespace,
# so /usr/sbin/fence_* are the reference binaries)
lab_obs() { ip netns exec "$(lab_ns ob)" "$@"; }
# lab_hvx CMD...: run CMD in the hypervisor namespace
lab_hvx() { ip netns exec "$(lab_ns hv)" "$@"; }

# lab_state_mc VM / lab_state_tcp VM: the domain's state as the daemon sees
# it, asked by the reference agent from the observer: prints on/off/err:RC
lab_state_rc() {
    case $1 in 0) echo on ;; 2) echo off ;; *) echo "err:$1" ;; esac
}
lab_state_mc() {
    local rc=0
    lab_obs timeout 20 "$REF_AGENT_XVM" -k "$LAB_KEY" -a "$LAB_MCAST" -p "$LAB_MPORT" -t 5 \
        -o status -n "$1" >/dev/null 2>&1 </dev/null || rc=$?
    lab_state_rc "$rc"
}
lab_state_tcp() {
    local rc=0
    lab_obs timeout 20 "$REF_AGENT" -T "$LAB_HV_IP" -p "$LAB_TPORT" -k "$LAB_KEY" -t 5 \
        -o status -n "$1" >/dev/null 2>&1 </dev/null || rc=$?
    lab_state_rc "$rc"
}
# lab_expect_state DESC VIA(mc|tcp) VM STATE
lab_expect_state() {
    local d=$1 via=$2 vm=$3 want=$4 got
    got=$("lab_state_$via" "$vm")
    if [ "$got" = "$want" ]; then vft_ok "$d: $vm is $got (via $via)"; return 0; fi
    vft_fail "$d: $vm is $got via $via, expected $want"
    return 1
}

# --- fence daemon in the hypervisor namespace --------------------------------

lab_daemon_conf() {   # lab_daemon_conf FILE LISTENER MODULE_PATH
    cat >"$1" <<EOF
# generated by tests/cluster/lab.sh
fence_virtd {
	listener = "$2";
	backend = "libvirt";
	module_path = "$3";
}
listeners {
	multicast {
		key_file = "$LAB_KEY";
		address = "$LAB_MCAST";
		port = "$LAB_MPORT";
		interface = "eth0";
		family = "ipv4";
	}
	tcp {
		key_file = "$LAB_KEY";
		address = "$LAB_HV_IP";
		port = "$LAB_TPORT";
		family = "ipv4";
	}
}
backends {
	libvirt {
		uri = "test://$LAB_R/hv/domains.xml";
	}
}
EOF
    chmod 600 "$1"
}

# lab_daemon_start [ours|ref]: start the fence daemon(s); pids in LAB_DPIDS
lab_daemon_start() {
    local kind=${1:-$LAB_DAEMON} hv=$LAB_R/hv pid
    mkdir -p "$hv"
    LAB_DPIDS=()
    LAB_DKIND=$kind
    if [ "$kind" = ours ]; then
        lab_daemon_conf "$hv/ours.conf" "multicast,tcp" "$(lab_module_path)"
        # "exec" so that $! is the daemon itself (a backgrounded function
        # would be a subshell).  No stdbuf: our daemon flushes its log lines,
        # and stdbuf's LD_PRELOAD would upset an ASan build.
        (exec ip netns exec "$(lab_ns hv)" "$VF_DAEMON" -F -d 5 \
            -f "$hv/ours.conf" -p "$hv/ours.pid") >>"$hv/ours.log" 2>&1 </dev/null &
        LAB_DPIDS+=($!)
        disown $!   # no job-control chatter when it is killed
    else
        local l
        for l in multicast tcp; do
            lab_daemon_conf "$hv/ref-$l.conf" "$l" "$REF_MODULES"
            (exec ip netns exec "$(lab_ns hv)" stdbuf -oL -eL "$REF_DAEMON" -F -d 5 \
                -f "$hv/ref-$l.conf" -p "$hv/ref-$l.pid") >>"$hv/ref-$l.log" 2>&1 </dev/null &
            LAB_DPIDS+=($!)
            disown $!
        done
    fi
    printf '%s\n' "${LAB_DPIDS[@]}" >>"$LAB_R/pids.list"
    local i ok=0
    for i in $(seq 1 100); do
        if lab_hvx ss -Hlun "sport = :$LAB_MPORT" | grep -q . &&
            lab_hvx ss -Hltn "sport = :$LAB_TPORT" | grep -q .; then ok=1; break; fi
        for pid in "${LAB_DPIDS[@]}"; do kill -0 "$pid" 2>/dev/null || break 2; done
        sleep 0.1
    done
    if [ $ok = 0 ]; then
        lab_log "daemon ($kind) did not come up; logs:"
        tail -n 20 "$hv"/*.log >&2
        return 1
    fi
    lab_log "daemon $kind up (pids ${LAB_DPIDS[*]})"
}

# lab_daemon_stop: stop the daemon(s) by pid (TERM, 5 s, KILL); resumes a
# stopped one first
lab_daemon_stop() {
    local pid
    for pid in "${LAB_DPIDS[@]}"; do
        lab_pid_ours "$pid" || continue
        kill -CONT "$pid" 2>/dev/null
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${LAB_DPIDS[@]}"; do lab_wait_gone "$pid" 50 || kill -KILL "$pid" 2>/dev/null; done
    for pid in "${LAB_DPIDS[@]}"; do lab_wait_gone "$pid" 20; done
    LAB_DPIDS=()
}
lab_daemon_signal() {   # lab_daemon_signal SIG
    # the whole daemon: with privilege separation our fence_virtd is two
    # processes (its network process is a child of the recorded PID); a
    # daemon "too slow to answer" is both stopped, as a frozen service is
    local pid kid
    for pid in "${LAB_DPIDS[@]}"; do
        for kid in $(pgrep -P "$pid" 2>/dev/null); do kill "-$1" "$kid" 2>/dev/null; done
        kill "-$1" "$pid" 2>/dev/null
    done
}

# lab_wait_gone PID TENTHS: wait until PID has exited
lab_wait_gone() {
    local i
    for i in $(seq 1 "$2"); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    ! kill -0 "$1" 2>/dev/null
}

# --- cluster nodes -------------------------------------------------------------

lab_corosync_conf() {   # lab_corosync_conf NODE (nodes from LAB_NODES)
    local f=$LAB_R/$1/etc-corosync/corosync.conf n i=0
    {
        echo "totem {"
        echo "  version: 2"
        echo "  cluster_name: vftlab"
        echo "  transport: knet"
        echo "  crypto_cipher: none"
        echo "  crypto_hash: none"
        echo "}"
        echo "logging {"
        echo "  to_stderr: no"
        echo "  to_logfile: yes"
        echo "  logfile: /var/log/pacemaker/corosync.log"
        echo "  to_syslog: no"
        echo "  timestamp: hires"
        echo "}"
        echo "quorum {"
        echo "  provider: corosync_votequorum"
        [ "${#LAB_NODES[@]}" = 2 ] && echo "  two_node: 1"
        echo "}"
        echo "nodelist {"
        for n in "${LAB_NODES[@]}"; do
            i=$((i + 1))
            echo "  node {"
            echo "    name: $n"
            echo "    nodeid: $i"
            echo "    ring0_addr: $LAB_NET.$i"
            echo "  }"
        done
        echo "}"
    } >"$f"
}

# pre-seeded CIB: dc-deadtime=2s saves 18 s per start (cluster-lab.md)
lab_seed_cib() {
    local f=$LAB_R/$1/pcmk/cib/cib.xml
    cat >"$f" <<'EOF'
<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="cib-bootstrap-options-dc-deadtime" name="dc-deadtime" value="2s"/>
        <nvpair id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" value="true"/>
        <nvpair id="cib-bootstrap-options-startup-fencing" name="startup-fencing" value="false"/>
        <nvpair id="cib-bootstrap-options-stonith-timeout" name="stonith-timeout" value="30s"/>
      </cluster_property_set>
    </crm_config>
    <nodes/>
    <resources/>
    <constraints/>
  </configuration>
  <status/>
</cib>
EOF
    chown hacluster:haclient "$f"
    chmod 600 "$f"
}

lab_node_start() {   # lab_node_start NODE
    local n=$1 d=$LAB_R/$1
    lab_corosync_conf "$n"
    lab_seed_cib "$n"
    (exec nsenter --net="/run/netns/$(lab_ns "$n")" --mount="$d/ns/mnt" --uts="$d/ns/uts" -- \
        corosync -f -c /etc/corosync/corosync.conf) >"$d/corosync.out" 2>&1 </dev/null &
    echo $! >"$d/corosync.pid"; echo $! >>"$LAB_R/pids.list"; disown $!
    local i
    for i in $(seq 1 50); do
        lab_nsx "$n" corosync-quorumtool -s >/dev/null 2>&1 && break
        sleep 0.1
    done
    (exec nsenter --net="/run/netns/$(lab_ns "$n")" --mount="$d/ns/mnt" --uts="$d/ns/uts" -- \
        env PCMK_logfile=/var/log/pacemaker/pacemaker.log PCMK_logfacility=none pacemakerd) \
        >"$d/pacemakerd.out" 2>&1 </dev/null &
    echo $! >"$d/pacemakerd.pid"; echo $! >>"$LAB_R/pids.list"; disown $!
}

# lab_fencer_start NODE: the light mode (cts-fencing style): a private
# corosync plus "pacemaker-fenced --stand-alone-w-cpg" in NODE, no
# pacemakerd/CIB/controller; devices come from stonith_admin -R.  Plain
# --stand-alone needs no corosync and fences too, but keeps no history
# (measured: "0 events found"), so the CPG variant is used.  Ready in ~0.5 s.
lab_fencer_start() {
    local n=$1 d=$LAB_R/$1 i
    lab_corosync_conf "$n"
    (exec nsenter --net="/run/netns/$(lab_ns "$n")" --mount="$d/ns/mnt" --uts="$d/ns/uts" -- \
        corosync -f -c /etc/corosync/corosync.conf) >"$d/corosync.out" 2>&1 </dev/null &
    echo $! >"$d/corosync.pid"; echo $! >>"$LAB_R/pids.list"; disown $!
    for i in $(seq 1 50); do
        lab_nsx "$n" corosync-quorumtool -s >/dev/null 2>&1 && break
        sleep 0.1
    done
    (exec nsenter --net="/run/netns/$(lab_ns "$n")" --mount="$d/ns/mnt" --uts="$d/ns/uts" -- \
        env PCMK_logfacility=none "$REF_FENCED" --stand-alone-w-cpg -l /var/log/pacemaker/fenced.log) \
        >"$d/fenced.out" 2>&1 </dev/null &
    echo $! >"$d/fenced.pid"; echo $! >>"$LAB_R/pids.list"; disown $!
    for i in $(seq 1 100); do
        lab_nsx "$n" timeout 5 stonith_admin -L >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    lab_log "pacemaker-fenced (stand-alone) did not come up in $n"
    tail -5 "$d/fenced.out" "$d/log/fenced.log" >&2 2>/dev/null
    return 1
}

# lab_wait_online SECONDS: every node sees a DC and all nodes online
lab_wait_online() {
    local secs=$1 i n out all
    for i in $(seq 1 $((secs * 4))); do
        all=1
        for n in "${LAB_NODES[@]}"; do
            out=$(lab_nsx "$n" timeout 5 crm_mon -1 2>/dev/null) || { all=0; break; }
            echo "$out" | grep -q 'Current DC: n' || { all=0; break; }
            echo "$out" | grep 'Online:' | grep -qw "$n" || { all=0; break; }
        done
        [ $all = 1 ] && return 0
        sleep 0.25
    done
    return 1
}

# lab_base: the lab's directory (a private self-bind mount), bookkeeping
# lists, owner pid, key; registers lab_down for exit
lab_base() {
    mkdir -p "$LAB_R"
    : >"$LAB_R/netns.list"; : >"$LAB_R/nodes.list"; : >"$LAB_R/pids.list"
    vft_on_exit lab_down
    LAB_UP=1
    lab_sweep_stale
    echo $$ >"$LAB_R/owner"
    lab_private_root || { lab_log "cannot make $LAB_R private"; return 1; }
    vft_gen_key "$LAB_KEY" 512
}

# lab_sweep_stale: remove labs left by runs that were killed outright
# (netns named vcl<PID>-* whose PID is gone; processes inside them are ours)
lab_sweep_stale() {
    local ns pid p
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^vcl[0-9]+-'); do
        pid=${ns#vcl}; pid=${pid%%-*}
        kill -0 "$pid" 2>/dev/null && continue
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null && lab_log "removed stale namespace $ns"
    done
    # pinned mount/UTS namespaces and the private self-bind of dead labs
    local m owner
    for m in $(awk '$5 ~ "^/tmp/vft-cl-[^/]+/lab(/|$)" { print $5 }' /proc/self/mountinfo | sort -r); do
        owner=$(cat "${m%%/lab*}/lab/owner" 2>/dev/null) || continue
        [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null || continue
        umount -l "$m" 2>/dev/null && lab_log "unmounted stale $m"
    done
    # then the dead run's temporary directory, once nothing is mounted there
    local f top
    for f in /tmp/vft-cl-*/lab/owner; do
        [ -f "$f" ] || continue
        owner=$(cat "$f" 2>/dev/null)
        [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null || continue
        top=${f%/lab/owner}
        grep -q " $top/" /proc/self/mountinfo && continue
        rm -rf "$top" && lab_log "removed stale $top"
    done
}

# lab_up NODES [nocluster]: whole lab; NODES cluster nodes n1..nNODES.  With
# "nocluster" the node namespaces are made but corosync/pacemaker not started.
lab_up() {
    local count=$1 mode=${2:-cluster} i
    lab_base || return 1
    mkdir -p "$LAB_R/hv"
    vft_testdriver_xml "$LAB_R/hv/domains.xml" "${LAB_DOMAINS[@]}"
    lab_net_up || { lab_log "network setup failed"; return 1; }
    LAB_NODES=()
    for i in $(seq 1 "$count"); do LAB_NODES+=("n$i"); done
    for i in $(seq 1 "$count"); do lab_node_ns "n$i" "$i" || { lab_log "node n$i setup failed"; return 1; }; done
    lab_daemon_start "$LAB_DAEMON" || return 1
    [ "$mode" = cluster ] || return 0
    for i in "${LAB_NODES[@]}"; do lab_node_start "$i"; done
    if ! lab_wait_online 60; then
        lab_log "cluster did not come up"; lab_dump; return 1
    fi
    lab_log "cluster up: ${LAB_NODES[*]}"
    lab_check_agent n1
}

# lab_check_agent NODE: /usr/sbin/fence_xvm and fence_virt inside NODE are
# the agent under test
lab_check_agent() {
    local f
    for f in /usr/sbin/fence_xvm /usr/sbin/fence_virt; do
        if lab_nsx "$1" cmp -s "$f" "$LAB_AGENT_BIN"; then
            vft_ok "$1: $f is the $LAB_AGENT agent"
        else
            vft_fail "$1: $f is not $LAB_AGENT_BIN"
        fi
    done
}

# lab_solo NODE: a stand-alone node namespace (net with lo only + mount +
# UTS, agent under test bind-mounted) for offline checks; no switch, no
# daemon, no cluster.  May be called several times (one lab, several nodes).
lab_solo() {
    local n=$1
    [ "$LAB_UP" = 1 ] || lab_base || return 1
    LAB_NO_SWITCH=1 lab_node_ns "$n" 1 || return 1
    LAB_NODES=("$n")
}

# lab_dump: show logs (on failure)
lab_dump() {
    local n
    for n in "${LAB_NODES[@]}"; do
        lab_nsx "$n" timeout 5 crm_mon -1 2>&1 | sed "s/^/  [$n crm_mon] /" >&2
        tail -n 15 "$LAB_R/$n/log/pacemaker.log" 2>/dev/null | sed "s/^/  [$n pcmk] /" >&2
    done
    tail -n 15 "$LAB_R"/hv/*.log 2>/dev/null | sed 's/^/  [hv] /' >&2
}

# lab_mntns_pids NODE: pids of processes inside NODE's mount namespace
lab_mntns_pids() {
    local ino p
    ino=$(stat -L -c %i "$LAB_R/$1/ns/mnt" 2>/dev/null) || return 0
    [ -n "$ino" ] && [ "$ino" != 0 ] || return 0
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "mnt:[$ino]" ] && echo "${p#/proc/}"
    done
}

# lab_node_stop NODE: pacemakerd (or the stand-alone fencer) TERM (orderly),
# corosync TERM, then KILL
# whatever is left in the node's namespaces
lab_node_stop() {
    local n=$1 d=$LAB_R/$1 pm cs p
    pm=$(cat "$d/pacemakerd.pid" "$d/fenced.pid" 2>/dev/null)
    cs=$(cat "$d/corosync.pid" 2>/dev/null)
    for p in $pm; do lab_pid_ours "$p" && kill -TERM "$p" 2>/dev/null && lab_wait_gone "$p" 100; done
    [ -n "$cs" ] && lab_pid_ours "$cs" && kill -TERM "$cs" 2>/dev/null && lab_wait_gone "$cs" 50
    for p in $(lab_mntns_pids "$n") $(ip netns pids "$(lab_ns "$n")" 2>/dev/null); do
        kill -KILL "$p" 2>/dev/null
    done
    for p in $pm $cs; do lab_wait_gone "$p" 20; done
    rm -f "$d/pacemakerd.pid" "$d/fenced.pid" "$d/corosync.pid"
}

# lab_pid_ours PID: PID still runs inside one of our network namespaces
# (guards against signalling a recycled PID)
lab_pid_ours() {
    local ns want have
    have=$(readlink "/proc/$1/ns/net" 2>/dev/null) || return 1
    for ns in $(cat "$LAB_R/netns.list" 2>/dev/null); do
        want=$(stat -L -c %i "/run/netns/$ns" 2>/dev/null) || continue
        [ "$have" = "net:[$want]" ] && return 0
    done
    return 1
}

# lab_down: tear everything down (idempotent; registered by lab_up)
lab_down() {
    [ "$LAB_UP" = 1 ] || return 0
    LAB_UP=0
    local t0 n ns p w=()
    t0=$(date +%s)
    for n in $(cat "$LAB_R/nodes.list" 2>/dev/null); do lab_node_stop "$n" & w+=($!); done
    lab_daemon_stop
    # only our stop jobs: a bare "wait" would also wait for the watchdog
    for p in "${w[@]}"; do wait "$p"; done
    # anything else we recorded, then anything left in our namespaces
    for p in $(cat "$LAB_R/pids.list" 2>/dev/null); do
        lab_pid_ours "$p" && kill -KILL "$p" 2>/dev/null
    done
    for n in $(cat "$LAB_R/nodes.list" 2>/dev/null); do
        for p in $(lab_mntns_pids "$n"); do kill -KILL "$p" 2>/dev/null; done
    done
    for ns in $(cat "$LAB_R/netns.list" 2>/dev/null); do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    done
    sleep 0.2
    for n in $(cat "$LAB_R/nodes.list" 2>/dev/null); do
        umount "$LAB_R/$n/ns/mnt" "$LAB_R/$n/ns/uts" 2>/dev/null
    done
    for ns in $(cat "$LAB_R/netns.list" 2>/dev/null); do ip netns del "$ns" 2>/dev/null; done
    # by name too, in case the list is incomplete
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$LAB_ID-"); do
        ip netns del "$ns" 2>/dev/null
    done
    [ -f "$LAB_R/.selfbind" ] && umount -l "$LAB_R" 2>/dev/null
    # VF_LAB_LOGDIR=DIR keeps the daemons' and nodes' logs (CI artifacts)
    if [ -n "${VF_LAB_LOGDIR:-}" ]; then
        local dst=$VF_LAB_LOGDIR/$VFT_NAME.$$
        mkdir -p "$dst"
        cp "$LAB_R"/hv/*.log "$dst/" 2>/dev/null
        for n in $(cat "$LAB_R/nodes.list" 2>/dev/null); do
            mkdir -p "$dst/$n"
            cp "$LAB_R/$n"/log/*.log "$LAB_R/$n"/*.out "$dst/$n/" 2>/dev/null
        done
    fi
    lab_log "lab down in $(($(date +%s) - t0))s"
}

# lab_finish: vft_finish, showing the lab's logs first when a check failed
lab_finish() {
    if [ "$VFT_FAIL" != 0 ] && [ "$LAB_UP" = 1 ]; then lab_dump; fi
    vft_finish
}

# --- Pacemaker helpers -------------------------------------------------------

# lab_wait_device NODE ID [SECONDS]: until the fencer has registered ID
lab_wait_device() {
    local n=$1 id=$2 secs=${3:-20} i
    for i in $(seq 1 $((secs * 4))); do
        lab_nsx "$n" timeout 5 stonith_admin -L 2>/dev/null | grep -qw "$id" && return 0
        sleep 0.25
    done
    return 1
}

# lab_history_status NODE TARGET: status of the newest fencing event for
# TARGET ("success", "failed", ... or "none")
lab_history_status() {
    local out
    out=$(lab_nsx "$1" timeout 10 stonith_admin --output-as=xml --history "$2" 2>/dev/null)
    echo "$out" | xmllint --xpath 'string((//fence_event)[1]/@status)' - 2>/dev/null || true
}
# lab_history_count NODE TARGET STATUS: number of events with STATUS
lab_history_count() {
    local out
    out=$(lab_nsx "$1" timeout 10 stonith_admin --output-as=xml --history "$2" 2>/dev/null)
    echo "$out" | xmllint --xpath "count(//fence_event[@status='$3'])" - 2>/dev/null || echo 0
}
lab_history_clean() {
    lab_nsx "$1" timeout 10 stonith_admin --history '*' --cleanup >/dev/null 2>&1
}

# lab_expect_fence DESC NODE WANT_RC CMD...: run a fencing command on NODE
lab_expect_fence() {
    local d=$1 n=$2 want=$3 t0 t1
    shift 3
    lab_history_clean "$n"
    t0=$(date +%s.%N)
    vft_expect_rc "$d" "$want" lab_nsx "$n" timeout 60 "$@"
    local rc=$?
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "#   (%.1fs)\n", b - a }'
    return $rc
}

# lab_expect_hist DESC NODE TARGET ACTION STATUS: NODE's fencer history for
# TARGET (cleaned with lab_history_clean before the operation) holds exactly
# one event, with ACTION and STATUS.  (Plain --history shows one event per
# target and picks arbitrarily among events completed in the same second;
# --verbose lists them all.)
lab_expect_hist() {
    local d=$1 n=$2 t=$3 act=$4 want=$5 out got
    out=$(lab_nsx "$n" timeout 10 stonith_admin --output-as=xml --verbose --history "$t" 2>/dev/null)
    got=$(echo "$out" | xmllint --xpath \
        'concat(count(//fence_event), " ", string((//fence_event)[1]/@action), " ", string((//fence_event)[1]/@status))' - 2>/dev/null)
    if [ "$got" = "1 $act $want" ]; then vft_ok "$d: history '${got#1 }'"; return 0; fi
    vft_fail "$d: history (count action status) '$got', expected '1 $act $want'"
    echo "$out" | grep fence_event | head -6 | sed 's/^/    hist: /'
    return 1
}
# lab_expect_no_success DESC NODE TARGET: no successful event for TARGET
lab_expect_no_success() {
    local d=$1 n=$2 t=$3 out c f
    out=$(lab_nsx "$n" timeout 10 stonith_admin --output-as=xml --verbose --history "$t" 2>/dev/null)
    c=$(echo "$out" | xmllint --xpath "count(//fence_event[@status='success'])" - 2>/dev/null)
    f=$(echo "$out" | xmllint --xpath "count(//fence_event[@status!='success'])" - 2>/dev/null)
    if [ "${c:-x}" = 0 ] && [ "${f:-0}" -ge 1 ]; then
        vft_ok "$d: fencer recorded $f failure(s), no success"; return 0
    fi
    vft_fail "$d: history has ${c:-?} success(es), ${f:-?} failure(s)"
    echo "$out" | grep fence_event | head -6 | sed 's/^/    hist: /'
    return 1
}

# lab_fence_cycle TAG VIA TARGET VM: reboot, off, on of TARGET through
# stonith_admin and pcs, asserting the daemon-side state of VM (via mc|tcp)
# and the fencer's history after each step
lab_fence_cycle() {
    local tag=$1 via=$2 t=$3 vm=$4
    lab_expect_state "$tag: before" "$via" "$vm" on
    lab_expect_fence "$tag: stonith_admin --reboot $t" n1 0 stonith_admin --reboot "$t" --timeout 30
    lab_expect_state "$tag: after reboot" "$via" "$vm" on
    lab_expect_hist "$tag: after reboot" n1 "$t" reboot success
    lab_expect_fence "$tag: stonith_admin --fence (off) $t" n1 0 stonith_admin --fence "$t" --timeout 30
    lab_expect_state "$tag: after off" "$via" "$vm" off
    lab_expect_hist "$tag: after off" n1 "$t" off success
    lab_expect_fence "$tag: stonith_admin --unfence (on) $t" n1 0 stonith_admin --unfence "$t" --timeout 30
    lab_expect_state "$tag: after on" "$via" "$vm" on
    lab_expect_hist "$tag: after on" n1 "$t" on success
    lab_expect_fence "$tag: pcs stonith fence $t --off" n1 0 pcs stonith fence "$t" --off
    lab_expect_state "$tag: after pcs off" "$via" "$vm" off
    lab_expect_hist "$tag: after pcs off" n1 "$t" off success
    lab_expect_fence "$tag: pcs stonith fence $t (reboot of an off VM)" n1 0 pcs stonith fence "$t"
    lab_expect_state "$tag: reboot leaves an off VM off" "$via" "$vm" off
    lab_expect_hist "$tag: after pcs reboot" n1 "$t" reboot success
    lab_expect_fence "$tag: stonith_admin --unfence (restore) $t" n1 0 stonith_admin --unfence "$t" --timeout 30
    lab_expect_state "$tag: restored" "$via" "$vm" on
}

# lab_for_daemons FUNC: run FUNC once per daemon in LAB_DAEMON_LIST,
# restarting the hypervisor daemon in between (domain state starts afresh)
lab_for_daemons() {
    local d
    for d in $LAB_DAEMON_LIST; do
        if [ "$d" != "${LAB_DKIND:-}" ]; then
            lab_daemon_stop
            lab_daemon_start "$d" || { vft_fail "start daemon $d"; continue; }
        fi
        echo "# --- agent=$LAB_AGENT daemon=$d"
        "$1" "$d"
    done
}

# lab_device NODE ID: (re)create a stonith device with pcs (ID AGENT OPTS...)
# and wait until the fencer has it; lab_device_del NODE ID removes it
lab_device() {
    local n=$1 id=$2
    shift 2
    if ! vft_expect_rc "pcs stonith create $id $*" 0 lab_nsx "$n" timeout 30 pcs stonith create "$id" "$@"; then
        return 1
    fi
    if lab_wait_device "$n" "$id" 20; then vft_ok "device $id registered"; return 0; fi
    vft_fail "device $id not registered by the fencer"
    return 1
}
lab_device_del() {
    lab_nsx "$1" timeout 30 pcs stonith delete "$2" >/dev/null 2>&1 ||
        lab_nsx "$1" timeout 10 cibadmin --delete --xml-text "<primitive id=\"$2\"/>" >/dev/null 2>&1
    local i
    for i in $(seq 1 120); do
        lab_nsx "$1" timeout 5 stonith_admin -L 2>/dev/null | grep -qw "$2" || return 0
        sleep 0.25
    done
    return 1
}

# lab_expect_fence_fail DESC NODE CMD...: a fencing command on NODE must
# fail (non-zero exit from stonith_admin itself, not from the outer timeout)
lab_expect_fence_fail() {
    local d=$1 n=$2 rc=0 t0
    shift 2
    lab_history_clean "$n"
    t0=$(date +%s.%N)
    lab_nsx "$n" timeout 90 "$@" >"$VFT_TMP/ff.out" 2>&1 </dev/null || rc=$?
    local dt
    dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    # 124 is both the outer timeout's code and Pacemaker's CRM_EX_TIMEOUT:
    # stonith_admin's own timeout (well before the outer 90 s) is a failure
    # verdict too ("a timeout is a failure"), only the outer one is not
    if [ "$rc" != 0 ] && { [ "$rc" != 124 ] || awk -v t="$dt" 'BEGIN { exit !(t < 85) }'; }; then
        vft_ok "$d: fails (rc $rc, ${dt}s): $(grep -v '^$' "$VFT_TMP/ff.out" | tail -1)"
        return 0
    fi
    vft_fail "$d: rc $rc after ${dt}s, expected a failure"
    sed 's/^/    out: /' "$VFT_TMP/ff.out" | head -10
    return 1
}
