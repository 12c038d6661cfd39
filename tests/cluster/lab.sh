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
. "$(dirname "${BASH_SOURCE[0]}")/../lib/nslab.sh"
LAB_ID=${LAB_ID:-vcl$$}
LAB_R=$VFT_TMP/lab
NSLAB_ID=$LAB_ID
NSLAB_R=$LAB_R
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
lab_ns() { nslab_ns "$1"; }

# lab_need: skip (77) unless root with the whole stack installed
lab_need() {
    vft_need_root
    vft_need_cmd corosync pacemakerd "$REF_FENCED" stonith_admin cibadmin crm_mon \
        pcs nsenter unshare ip stdbuf timeout xmllint
    [ -x "$REF_DAEMON" ] || [ -x "$VF_DAEMON" ] || vft_skip "no fence daemon"
    unshare --net --mount --uts true 2>/dev/null || vft_skip "cannot create namespaces here"
}

# lab_begin SECONDS: skip unless the lab can run here, a watchdog of
# SECONDS, agent and daemon selected
lab_begin() {
    lab_need
    nslab_watchdog "$1"
    lab_select
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

# lab_net_up: switch, hypervisor and observer namespaces
lab_net_up() {
    nslab_bed_switch || return 1
    nslab_member hv "$LAB_HV_IP" && nslab_member ob "$LAB_OB_IP"
}

# lab_node_ns NODE INDEX: netns + pinned mount/UTS namespaces for NODE
# (the agent under test bind-mounted when it is ours)
lab_node_ns() {
    local n=$1 binds=""
    if [ -n "${LAB_NO_SWITCH:-}" ]; then
        lab_ns "$n" >>"$LAB_R/netns.list"
        ip netns add "$(lab_ns "$n")" || return 1
        ip -n "$(lab_ns "$n")" link set lo up
    else
        nslab_member "$n" "$LAB_NET.$2" || return 1
    fi
    [ "$LAB_AGENT" = ours ] && binds=$(nslab_agent_binds "$LAB_AGENT_BIN")
    nslab_node_mounts "$n" "$binds"
}

# lab_nsx NODE CMD...: run CMD inside NODE (net+mount+UTS namespaces)
lab_nsx() { nslab_nsx "$@"; }
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
        nslab_pid_ours "$pid" || continue
        kill -CONT "$pid" 2>/dev/null
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${LAB_DPIDS[@]}"; do nslab_wait_gone "$pid" 50 || kill -KILL "$pid" 2>/dev/null; done
    for pid in "${LAB_DPIDS[@]}"; do nslab_wait_gone "$pid" 20; done
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

# --- cluster nodes -------------------------------------------------------------

lab_corosync_conf() {   # lab_corosync_conf NODE (nodes from LAB_NODES)
    local n i=0 nodes=()
    for n in "${LAB_NODES[@]}"; do i=$((i + 1)); nodes+=("$n=$LAB_NET.$i"); done
    nslab_corosync_conf vftlab /var/log/pacemaker/corosync.log "${nodes[@]}" \
        >"$LAB_R/$1/etc-corosync/corosync.conf"
}

lab_node_start() {   # lab_node_start NODE
    lab_corosync_conf "$1"
    nslab_seed_cib "$1" 30s
    nslab_corosync_up "$1"
    nslab_pacemakerd "$1"
}

# lab_fencer_start NODE: the light mode (cts-fencing style): a private
# corosync plus "pacemaker-fenced --stand-alone-w-cpg" in NODE, no
# pacemakerd/CIB/controller; devices come from stonith_admin -R.  Plain
# --stand-alone needs no corosync and fences too, but keeps no history
# (measured: "0 events found"), so the CPG variant is used.  Ready in ~0.5 s.
lab_fencer_start() {
    local n=$1 d=$LAB_R/$1 i
    lab_corosync_conf "$n"
    nslab_corosync_up "$n"
    nslab_spawn "$n" "$d/fenced.out" "$d/fenced.pid" \
        env PCMK_logfacility=none "$REF_FENCED" --stand-alone-w-cpg -l /var/log/pacemaker/fenced.log
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
    vft_on_exit lab_down
    LAB_UP=1
    lab_sweep_stale
    nslab_base || { lab_log "cannot make $LAB_R private"; return 1; }
    vft_gen_key "$LAB_KEY" 512
}

# lab_sweep_stale: remove labs left by runs that were killed outright
# (netns named vcl<PID>-* whose PID is gone; processes inside them are ours)
lab_sweep_stale() {
    nslab_sweep_stale vcl
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

# lab_node_stop NODE: see nslab_node_stop
lab_node_stop() { nslab_node_stop "$1"; }

# lab_down: tear everything down (idempotent; registered by lab_up)
lab_down() {
    [ "$LAB_UP" = 1 ] || return 0
    LAB_UP=0
    local t0
    t0=$(date +%s)
    nslab_stop_nodes &
    local stopping=$!
    lab_daemon_stop
    wait "$stopping"
    nslab_reap
    nslab_keep_logs "$VFT_NAME.$$" 'hv/*.log'
    lab_log "lab down in $(($(date +%s) - t0))s"
}

# lab_finish: vft_finish, showing the lab's logs first when a check failed
lab_finish() {
    if [ "$VFT_FAIL" != 0 ] && [ "$LAB_UP" = 1 ]; then lab_dump; fi
    vft_finish
}

# --- Pacemaker helpers -------------------------------------------------------

# lab_poll SECONDS CMD...: run CMD twice a second until it succeeds (0) or
# SECONDS have passed (1)
lab_poll() {
    local i secs=$1
    shift
    for i in $(seq 1 $((secs * 2))); do
        "$@" && return 0
        sleep 0.5
    done
    return 1
}

# lab_wait_device NODE ID [SECONDS]: until the fencer has registered ID
lab_wait_device() { nslab_wait_device "$1" "$2" "${3:-20}"; }

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

# lab_xvm_device ID OPTION...: lab_device on n1 for fence_xvm over the
# lab's multicast group; lab_tcp_device likewise for fence_virt over TCP
lab_xvm_device() {
    local id=$1
    shift
    lab_device n1 "$id" fence_xvm key_file="$LAB_KEY" multicast_address="$LAB_MCAST" \
        ipport="$LAB_MPORT" timeout=5 "$@"
}
lab_tcp_device() {
    local id=$1
    shift
    lab_device n1 "$id" fence_virt ipaddr="$LAB_HV_IP" ipport="$LAB_TPORT" key_file="$LAB_KEY" \
        timeout=5 "$@"
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
