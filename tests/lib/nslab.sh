#!/bin/bash
# vmfence - tests/lib/nslab.sh: building blocks of the namespace test beds
# (docs/cluster-lab.md): a switch, members joined to it, cluster nodes with
# pinned mount/UTS namespaces, corosync/Pacemaker started inside them, and
# their teardown by PID, by namespace membership and by name.
#
# Sourced by tests/cluster/lab.sh and tests/cluster/hostlab.sh (after
# tests/lib/common.sh), and for the primitives without NSLAB_ (nslab_switch,
# nslab_attach, nslab_corosync_conf) also by tests/interop/cpg-cluster.sh and
# bench/cpg-bench.sh.  A bed sets, before calling the node functions:
#   NSLAB_ID   prefix of its network namespaces ("$NSLAB_ID-NODE")
#   NSLAB_R    its directory: NODE/ns/{mnt,uts} (pinned namespaces),
#              netns.list, nodes.list, pids.list (what the teardown reaps)
# Every wait is bounded; nothing is signalled by process name.

# --- primitives -----------------------------------------------------------------

# nslab_switch NS [BRIDGE OPTION...]: network namespace NS with bridge br0
nslab_switch() {
    local ns=$1
    shift
    ip netns add "$ns" || return 1
    ip -n "$ns" link set lo up
    ip -n "$ns" link add br0 type bridge "$@" || return 1
    ip -n "$ns" link set br0 up
}

# nslab_attach SW NS PORT CIDR: new network namespace NS whose eth0 (address
# CIDR) is the peer of veth PORT on SW's bridge
nslab_attach() {
    local sw=$1 ns=$2 port=$3
    ip netns add "$ns" || return 1
    ip -n "$ns" link set lo up
    ip -n "$sw" link add "$port" type veth peer name eth0 netns "$ns" || return 1
    ip -n "$sw" link set "$port" master br0 up
    ip -n "$ns" addr add "$4" dev eth0
    ip -n "$ns" link set eth0 up
}

# nslab_corosync_conf CLUSTER LOGFILE NAME=ADDR...: corosync.conf (stdout)
# for knet without crypto, votequorum (two_node with two nodes), node ids
# 1.. in the order given
nslab_corosync_conf() {
    local cluster=$1 logfile=$2 spec i=0
    shift 2
    printf 'totem {\n  version: 2\n  cluster_name: %s\n  transport: knet\n' "$cluster"
    printf '  crypto_cipher: none\n  crypto_hash: none\n}\n'
    printf 'logging {\n  to_stderr: no\n  to_logfile: yes\n  logfile: %s\n' "$logfile"
    printf '  to_syslog: no\n  timestamp: hires\n}\n'
    printf 'quorum {\n  provider: corosync_votequorum\n'
    [ $# = 2 ] && printf '  two_node: 1\n'
    printf '}\nnodelist {\n'
    for spec in "$@"; do
        i=$((i + 1))
        printf '  node {\n    name: %s\n    nodeid: %d\n    ring0_addr: %s\n  }\n' \
            "${spec%%=*}" "$i" "${spec#*=}"
    done
    printf '}\n'
}

# nslab_corosync_mounts PIN DIR SHM_SIZE: a mount namespace pinned at PIN
# with DIR/run, DIR/etc and DIR/varlib over /run, /etc/corosync and
# /var/lib/corosync and a tmpfs of SHM_SIZE on /dev/shm (corosync refuses a
# second instance per /run; its libqb IPC needs a /dev/shm of its own)
nslab_corosync_mounts() {
    mkdir -p "$2/run" "$2/etc" "$2/varlib"
    touch "$1"
    unshare --mount="$1" --propagation private sh -c \
        "mount --bind '$2/run' /run && mount --bind '$2/etc' /etc/corosync &&
         mount --bind '$2/varlib' /var/lib/corosync && mount -t tmpfs -o size=$3 tmpfs /dev/shm"
}

# nslab_cpg_conf FILE URI PORT KEY [STATEMENT...]: fence_virt.conf (mode
# 600) for the cpg backend on URI (reply_timeout 5 s) with a tcp listener on
# 127.0.0.1:PORT; each STATEMENT "fence_virtd:..." or "cpg:..." is added to
# that section
nslab_cpg_conf() {
    local f=$1 uri=$2 port=$3 key=$4 st top="" cpg=""
    shift 4
    for st in "$@"; do
        case $st in
        fence_virtd:*) top="$top	${st#fence_virtd:}
" ;;
        cpg:*) cpg="$cpg		${st#cpg:}
" ;;
        esac
    done
    cat >"$f" <<EOC
fence_virtd {
	listener = "tcp";
	backend = "cpg";
${top}}
listeners {
	tcp {
		address = "127.0.0.1";
		port = "$port";
		key_file = "$key";
	}
}
backends {
	cpg {
		uri = "$uri";
${cpg}		reply_timeout = "5";
	}
}
EOC
    chmod 600 "$f"
}

# nslab_wait_gone PID TENTHS: wait until PID has exited
nslab_wait_gone() {
    local i
    for i in $(seq 1 "$2"); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    ! kill -0 "$1" 2>/dev/null
}

# nslab_wait_grep SECONDS FILE REGEX: until FILE has a line matching REGEX
# (grep -E), polling four times a second
nslab_wait_grep() {
    local i
    for i in $(seq 1 $(($1 * 4))); do
        grep -Eq -- "$3" "$2" 2>/dev/null && return 0
        sleep 0.25
    done
    return 1
}

# nslab_watchdog SECONDS: TERM this script (so its cleanup trap runs) if it
# still runs after SECONDS (polls once a second: never outlives it by more)
nslab_watchdog() {
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

# --- members and nodes of a bed (NSLAB_ID, NSLAB_R) ---------------------------------

nslab_ns() { echo "$NSLAB_ID-$1"; }

# nslab_base: the bed's directory as a private self-bind mount (so namespace
# files can be pinned under it), empty bookkeeping lists, owner pid
nslab_base() {
    mkdir -p "$NSLAB_R"
    : >"$NSLAB_R/netns.list"; : >"$NSLAB_R/nodes.list"; : >"$NSLAB_R/pids.list"
    echo $$ >"$NSLAB_R/owner"
    mount --bind "$NSLAB_R" "$NSLAB_R" && mount --make-private "$NSLAB_R" &&
        echo 1 >"$NSLAB_R/.selfbind"
}

# nslab_bed_switch: the bed's switch namespace "sw" (multicast snooping off)
nslab_bed_switch() {
    nslab_ns sw >>"$NSLAB_R/netns.list"
    nslab_switch "$(nslab_ns sw)" mcast_snooping 0
}

# nslab_member NAME IP: namespace NAME joined to the bed's switch as IP/24
nslab_member() {
    nslab_ns "$1" >>"$NSLAB_R/netns.list"
    nslab_attach "$(nslab_ns sw)" "$(nslab_ns "$1")" "p-$1" "$2/24"
}

# nslab_agent_binds BIN: shell commands binding BIN over /usr/sbin/fence_virt
# (and over fence_xvm when that is a regular file, not Debian's symlink)
nslab_agent_binds() {
    printf "mount --bind '%s' /usr/sbin/fence_virt" "$1"
    if [ -f /usr/sbin/fence_xvm ] && [ ! -L /usr/sbin/fence_xvm ]; then
        printf " && mount --bind '%s' /usr/sbin/fence_xvm" "$1"
    fi
}

# nslab_node_mounts NODE BINDS: NODE's pinned mount/UTS namespaces with its
# private corosync/Pacemaker directories, /run, a 1 GB /dev/shm, then BINDS
# (shell commands); NODE's network namespace is made by the caller
nslab_node_mounts() {
    local n=$1 d=$NSLAB_R/$1
    mkdir -p "$d/ns" "$d/etc-corosync" "$d/var-lib-corosync" "$d/log" "$d/run" \
        "$d/pcmk/cib" "$d/pcmk/pengine" "$d/pcmk/blackbox" "$d/pcmk/cores"
    chown -R hacluster:haclient "$d/pcmk" "$d/log"
    chmod 750 "$d/pcmk"/* && chmod 770 "$d/log"
    touch "$d/ns/mnt" "$d/ns/uts"
    unshare --mount="$d/ns/mnt" --uts="$d/ns/uts" --propagation private /bin/sh -ec "
        hostname '$n'
        mount --bind '$d/etc-corosync' /etc/corosync
        mount --bind '$d/var-lib-corosync' /var/lib/corosync
        mount --bind '$d/pcmk' /var/lib/pacemaker
        mount --bind '$d/log' /var/log/pacemaker
        mount --bind '$d/run' /run
        mount -t tmpfs -o size=1g,mode=1777 vftshm /dev/shm
        ${2:-true}" || return 1
    echo "$n" >>"$NSLAB_R/nodes.list"
}

# nslab_nsx NODE CMD...: run CMD inside NODE (net+mount+UTS namespaces)
nslab_nsx() {
    local n=$1
    shift
    nsenter --net="/run/netns/$(nslab_ns "$n")" --mount="$NSLAB_R/$n/ns/mnt" \
        --uts="$NSLAB_R/$n/ns/uts" -- "$@"
}

# nslab_spawn NODE LOG PIDFILE CMD...: CMD in NODE in the background
# (appending to LOG); its pid ("exec": the command itself) in PIDFILE and
# pids.list
nslab_spawn() {
    local n=$1 log=$2 pidf=$3
    shift 3
    (exec nsenter --net="/run/netns/$(nslab_ns "$n")" --mount="$NSLAB_R/$n/ns/mnt" \
        --uts="$NSLAB_R/$n/ns/uts" -- "$@") >>"$log" 2>&1 </dev/null &
    echo $! >"$pidf"; echo $! >>"$NSLAB_R/pids.list"; disown $!
}

# nslab_corosync_up NODE: corosync -f in NODE (its corosync.conf written),
# waiting (at most 5 s) until its quorum tool answers
nslab_corosync_up() {
    local n=$1 d=$NSLAB_R/$1 i
    nslab_spawn "$n" "$d/corosync.out" "$d/corosync.pid" corosync -f -c /etc/corosync/corosync.conf
    for i in $(seq 1 50); do
        nslab_nsx "$n" corosync-quorumtool -s >/dev/null 2>&1 && break
        sleep 0.1
    done
}
# nslab_pacemakerd NODE: pacemakerd in NODE, logging to its log directory
nslab_pacemakerd() {
    local d=$NSLAB_R/$1
    nslab_spawn "$1" "$d/pacemakerd.out" "$d/pacemakerd.pid" \
        env PCMK_logfile=/var/log/pacemaker/pacemaker.log PCMK_logfacility=none pacemakerd
}

# nslab_seed_cib NODE STONITH_TIMEOUT: pre-seeded CIB: dc-deadtime 2s (saves
# 18 s per start, cluster-lab.md), fencing on, startup fencing off (the
# nodes start at once)
nslab_seed_cib() {
    local f=$NSLAB_R/$1/pcmk/cib/cib.xml
    cat >"$f" <<EOF
<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="cib-bootstrap-options-dc-deadtime" name="dc-deadtime" value="2s"/>
        <nvpair id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" value="true"/>
        <nvpair id="cib-bootstrap-options-startup-fencing" name="startup-fencing" value="false"/>
        <nvpair id="cib-bootstrap-options-stonith-timeout" name="stonith-timeout" value="$2"/>
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

# nslab_wait_device NODE ID SECONDS: until NODE's fencer has registered ID
nslab_wait_device() {
    local i
    for i in $(seq 1 $(($3 * 4))); do
        nslab_nsx "$1" timeout 5 stonith_admin -L 2>/dev/null | grep -qw "$2" && return 0
        sleep 0.25
    done
    return 1
}

# --- teardown ----------------------------------------------------------------------

# nslab_mntns_pids NODE: pids of processes inside NODE's mount namespace
nslab_mntns_pids() {
    local ino p
    ino=$(stat -L -c %i "$NSLAB_R/$1/ns/mnt" 2>/dev/null) || return 0
    [ -n "$ino" ] && [ "$ino" != 0 ] || return 0
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "mnt:[$ino]" ] && echo "${p#/proc/}"
    done
}

# nslab_pid_ours PID: PID still runs inside one of our network namespaces
# (guards against signalling a recycled PID)
nslab_pid_ours() {
    local ns want have
    have=$(readlink "/proc/$1/ns/net" 2>/dev/null) || return 1
    for ns in $(cat "$NSLAB_R/netns.list" 2>/dev/null); do
        want=$(stat -L -c %i "/run/netns/$ns" 2>/dev/null) || continue
        [ "$have" = "net:[$want]" ] && return 0
    done
    return 1
}

# nslab_kill_node NODE: SIGKILL to everything in NODE's namespaces
nslab_kill_node() {
    local p
    for p in $(nslab_mntns_pids "$1") $(ip netns pids "$(nslab_ns "$1")" 2>/dev/null); do
        kill -KILL "$p" 2>/dev/null
    done
}

# nslab_node_stop NODE: its fence_virtd TERM, pacemakerd (or the stand-alone
# fencer) TERM (orderly), corosync TERM, then KILL whatever is left in the
# node's namespaces
nslab_node_stop() {
    local n=$1 d=$NSLAB_R/$1 pm cs p
    pm=$(cat "$d/pacemakerd.pid" "$d/fenced.pid" 2>/dev/null)
    cs=$(cat "$d/corosync.pid" 2>/dev/null)
    for p in $(cat "$d/fvd.pid" 2>/dev/null); do nslab_pid_ours "$p" && kill -TERM "$p" 2>/dev/null; done
    for p in $pm; do nslab_pid_ours "$p" && kill -TERM "$p" 2>/dev/null && nslab_wait_gone "$p" 100; done
    [ -n "$cs" ] && nslab_pid_ours "$cs" && kill -TERM "$cs" 2>/dev/null && nslab_wait_gone "$cs" 50
    nslab_kill_node "$n"
    for p in $pm $cs; do nslab_wait_gone "$p" 20; done
    rm -f "$d/pacemakerd.pid" "$d/fenced.pid" "$d/corosync.pid"
}

# nslab_stop_nodes: nslab_node_stop on every node, in parallel
nslab_stop_nodes() {
    local n p w=()
    for n in $(cat "$NSLAB_R/nodes.list" 2>/dev/null); do nslab_node_stop "$n" & w+=($!); done
    # only our stop jobs: a bare "wait" would also wait for the watchdog
    for p in "${w[@]}"; do wait "$p"; done
}

# nslab_reap: KILL what we recorded, then anything left in our mount and
# network namespaces; unpin the nodes, delete the namespaces (listed, and by
# name in case the list is incomplete), drop the self-bind
nslab_reap() {
    local n ns p
    for p in $(cat "$NSLAB_R/pids.list" 2>/dev/null); do
        nslab_pid_ours "$p" && kill -KILL "$p" 2>/dev/null
    done
    for n in $(cat "$NSLAB_R/nodes.list" 2>/dev/null); do
        for p in $(nslab_mntns_pids "$n"); do kill -KILL "$p" 2>/dev/null; done
    done
    for ns in $(cat "$NSLAB_R/netns.list" 2>/dev/null); do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    done
    sleep 0.2
    for n in $(cat "$NSLAB_R/nodes.list" 2>/dev/null); do
        umount "$NSLAB_R/$n/ns/mnt" "$NSLAB_R/$n/ns/uts" 2>/dev/null
    done
    for ns in $(cat "$NSLAB_R/netns.list" 2>/dev/null); do ip netns del "$ns" 2>/dev/null; done
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NSLAB_ID-"); do
        ip netns del "$ns" 2>/dev/null
    done
    [ -f "$NSLAB_R/.selfbind" ] && umount -l "$NSLAB_R" 2>/dev/null
}

# nslab_keep_logs DST FILE...: with VF_LAB_LOGDIR set, copy FILE... (globs
# relative to NSLAB_R) and each node's logs under VF_LAB_LOGDIR/DST
# (CI artifacts)
nslab_keep_logs() {
    [ -n "${VF_LAB_LOGDIR:-}" ] || return 0
    local dst=$VF_LAB_LOGDIR/$1 n f
    shift
    mkdir -p "$dst"
    for f in "$@"; do cp "$NSLAB_R"/$f "$dst/" 2>/dev/null; done
    for n in $(cat "$NSLAB_R/nodes.list" 2>/dev/null); do
        mkdir -p "$dst/$n"
        cp "$NSLAB_R/$n"/log/*.log "$NSLAB_R/$n"/*.out "$NSLAB_R/$n"/*.log "$dst/$n/" 2>/dev/null
    done
}

# nslab_sweep_stale TAG: remove beds left by runs that were killed outright
# (network namespaces named TAG<PID>-* whose PID is gone; processes inside
# them are ours)
nslab_sweep_stale() {
    local ns pid p
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$1[0-9]+-"); do
        pid=${ns#"$1"}; pid=${pid%%-*}
        kill -0 "$pid" 2>/dev/null && continue
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null && echo "[$VFT_NAME] removed stale namespace $ns" >&2
    done
}
