#!/bin/bash
# vmfence - tests/cluster/hostlab.sh: a HOST cluster test bed for the cpg
# backend (issue 10): three hypervisor hosts, each running corosync,
# Pacemaker and our fence_virtd with backend = "cpg", fenced by a host-level
# stonith device of their own cluster; guests asking from their own
# namespaces through multicast and TCP.
#
# Sourced by tests/cluster/cl-cpg-*.sh AFTER tests/lib/common.sh.  Layout
# (addresses exist only inside namespaces made here; nothing is added to the
# machine's own network namespace, multicast stays on the lab's bridge):
#
#   <id>-sw   bridge br0 (multicast snooping off), one veth port per member
#   <id>-hI   10.213.7.I (I = 1..3): host hI, corosync node id I.  Own net,
#             mount and UTS namespaces (pinned under $HL_R/hI/ns) with private
#             /etc/corosync, /var/lib/corosync, /var/lib/pacemaker,
#             /var/log/pacemaker, /run and a 1 GB tmpfs on /dev/shm (libqb IPC
#             between corosync, pacemaker-fenced and fence_virtd's libstonithd
#             and libquorum needs the same netns and /dev/shm).  Runs
#             corosync -f, pacemakerd and our fence_virtd -F with the
#             configuration of pcs-examples/host-cluster (fence_virt.conf and
#             corosync.conf, machine-specific values substituted: see
#             hl_fvd_conf and hl_corosync_conf).  Its hypervisor is libvirt's
#             test driver on test://$HL_R/hI/domains.xml: vm-Ia, vm-Ib
#             (running), vm-Ic (shut off), and on h1/h2 the guest cluster's
#             VMs vm-g1/vm-g2.  UUIDs derive from the names, so a VM keeps
#             its UUID when it moves.
#   <id>-gc   10.213.7.100: a guest asking: our fence_xvm / fence_virt and the
#             reference ones (/usr/sbin/fence_xvm, fence_virt).
#   <id>-gI   10.213.7.10I (I = 1, 2; only with hl_guests_up): a two-node
#             guest cluster (corosync + Pacemaker) whose stonith device is
#             fence_xvm (our agent bind-mounted over /usr/sbin/fence_virt)
#             with pcmk_host_map gI:<UUID of vm-gI>.
#
# Host fencing: tests/cluster/host-fence-agent, bind-mounted over
# /usr/sbin/fence_dummy in every host's mount namespace (Pacemaker runs
# agents only as /usr/sbin/fence_*; fence-agents provides the file to bind
# over), device "hostfence" with pcmk_host_list="h1 h2 h3".  Its gates
# ($HL_STATE/hold, $HL_STATE/fail) let a scenario hold a fencing in
# progress or make it fail; it records START/DONE/FAILED lines in
# $HL_STATE/record and kills the fenced host's processes (by mount
# namespace), as a power switch would.
#
# What is real: corosync, Pacemaker (controller, fencer, history), CPG,
# libstonithd/libquorum in fence_virtd, the agents and the daemons.  What is
# faked: the hypervisors (libvirt test driver; a VM "dies with its host"
# because the host's fence_virtd, which holds the test driver's state, is
# killed with it) and the power switch (the agent above).
#
# Cleanup is by recorded PID, by membership of our own mount/net namespaces
# and by namespace name; never by process name.  Every wait is bounded.

VFT_NAME=${VF_LAB_NAME:-$VFT_NAME}
. "$(dirname "${BASH_SOURCE[0]}")/../lib/nslab.sh"
HL_ID=${HL_ID:-vhl$$}
HL_R=$VFT_TMP/hl
NSLAB_ID=$HL_ID
NSLAB_R=$HL_R
HL_NET=10.213.7
HL_GC_IP=$HL_NET.100
HL_MCAST=225.0.0.13
HL_MPORT=1229
HL_TPORT=1230
HL_KEY=$HL_R/fence_xvm.key
HL_TKEY=$HL_R/fence_virt_tcp.key    # the tcp listener's own key (fence_virtd --check-config asks for one)
HL_STATE=$HL_R/fence
HL_HOSTS=(h1 h2 h3)
HL_EX=$VFT_SRC/pcs-examples/host-cluster
HL_HOST_AGENT=$HL_R/host-fence-agent
HL_FENCED=/usr/lib/pacemaker/pacemaker-fenced
HL_UP=0
HL_T0=$(date +%s)
HL_SCEN_T0=$HL_T0

hl_log() { echo "[$VFT_NAME $(($(date +%s) - HL_T0))s] $*" >&2; }
hl_ns() { nslab_ns "$1"; }

# hl_need: skip (77) unless root with the whole stack and our daemon with cpg
hl_need() {
    vft_need_root
    vft_need_cmd corosync corosync-keygen corosync-cpgtool pacemakerd "$HL_FENCED" stonith_admin \
        cibadmin crm_mon pcs nsenter unshare ip timeout xmllint md5sum
    [ -f /usr/sbin/fence_dummy ] || vft_skip "needs fence-agents' /usr/sbin/fence_dummy (the host agent is bind-mounted over it)"
    [ -x "$VF_DAEMON" ] || vft_skip "fence_virtd not built ($VF_DAEMON)"
    "$VF_DAEMON" -l 2>/dev/null | grep -qw cpg || vft_skip "fence_virtd was built without the cpg backend"
    [ -x "$VF_AGENT" ] && [ -x "$VF_AGENT_XVM" ] || vft_skip "our agents are not built"
    unshare --net --mount --uts true 2>/dev/null || vft_skip "cannot create namespaces here"
}

# hl_begin SECONDS: skip unless the bed can run here, a watchdog of
# SECONDS, the host cluster up (or fail and finish)
hl_begin() {
    hl_need
    nslab_watchdog "$1"
    hl_up || { vft_fail "host cluster bed did not come up"; hl_finish; }
}

# hl_uuid NAME: the VM's UUID (from its name: the same on every host)
hl_uuid() {
    local h
    h=$(printf '%s' "$1" | md5sum | cut -c1-32)
    echo "${h:0:8}-${h:8:4}-4${h:13:3}-8${h:17:3}-${h:20:12}"
}

# hl_domains_xml FILE NAME[:off]...: libvirt test driver definitions
hl_domains_xml() {
    local f=$1 spec name
    shift
    {
        echo "<node>"
        for spec in "$@"; do
            name=${spec%%:*}
            printf '  <domain type="test" xmlns:test="http://libvirt.org/schemas/domain/test/1.0">\n'
            printf '    <name>%s</name><uuid>%s</uuid>\n' "$name" "$(hl_uuid "$name")"
            printf '    <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\n'
            [ "$spec" != "${spec%:off}" ] && printf '    <test:runstate>5</test:runstate>\n'
            printf '  </domain>\n'
        done
        echo "</node>"
    } >"$f"
}
# hl_host_vms HOST: the default VM list of a host (hI: vm-Ia vm-Ib vm-Ic:off, + vm-gI)
hl_host_vms() {
    local i=${1#h}
    echo "vm-${i}a vm-${i}b vm-${i}c:off"
    case $i in 1|2) echo "vm-g$i" ;; esac
}

# --- namespaces ----------------------------------------------------------------

# hl_node_ns NAME IP KIND: a node (host|guest) with pinned mount/UTS namespaces;
# a host has the host fence agent over fence_dummy, a guest our agent
hl_node_ns() {
    local n=$1 binds
    nslab_member "$n" "$2" || return 1
    if [ "$3" = host ]; then
        binds="mount --bind '$HL_HOST_AGENT' /usr/sbin/fence_dummy"
    else
        binds=$(nslab_agent_binds "$VF_AGENT")
    fi
    nslab_node_mounts "$n" "$binds" || return 1
    # for the host fence agent: what to kill when it fences NAME
    stat -L -c %i "$HL_R/$n/ns/mnt" >"$HL_STATE/$n.mntns"
}

# hl_nsx NODE CMD...: run CMD inside NODE (net+mount+UTS)
hl_nsx() { nslab_nsx "$@"; }
# hl_gcx CMD...: run CMD in the asking guest's namespace
hl_gcx() { ip netns exec "$(hl_ns gc)" "$@"; }

# --- corosync and Pacemaker ------------------------------------------------------

# hl_corosync_conf NODE: hosts get pcs-examples/host-cluster/corosync.conf
# (addresses 192.0.2.1I -> 10.213.7.I, names hostI -> hI, the log file in
# the node's log directory); guests a generated two-node configuration
hl_corosync_conf() {
    local n=$1 d=$HL_R/$1/etc-corosync
    case $n in
    h*)
        sed -e "s/192\.0\.2\.1\([1-3]\)/$HL_NET.\1/" -e 's/\bhost\([1-3]\)\b/h\1/g' \
            -e 's|^\( *\)logfile: .*|\1logfile: /var/log/pacemaker/corosync.log|' \
            -e 's|to_syslog: yes|to_syslog: no|' "$HL_EX/corosync.conf" >"$d/corosync.conf"
        install -m 400 "$HL_R/authkey" "$d/authkey"
        ;;
    *)
        nslab_corosync_conf guests /var/log/pacemaker/corosync.log \
            "g1=$HL_NET.101" "g2=$HL_NET.102" >"$d/corosync.conf"
        ;;
    esac
}

# hl_seed_cib NODE: a stonith-timeout that covers a held host fencing
# (host-fence-agent waits at most 60 s)
hl_seed_cib() { nslab_seed_cib "$1" 90s; }

# hl_node_start NODE: corosync (quorum tool answers) then pacemakerd
hl_node_start() {
    hl_corosync_conf "$1"
    hl_nsx "$1" sh -c 'rm -f /dev/shm/qb-* 2>/dev/null; true'
    nslab_corosync_up "$1"
    nslab_pacemakerd "$1"
}

# hl_wait_online SECONDS NODE...: each NODE sees a DC and every NODE online
hl_wait_online() {
    local secs=$1 i n m out all
    shift
    for i in $(seq 1 $((secs * 2))); do
        all=1
        for n in "$@"; do
            out=$(hl_nsx "$n" timeout 5 crm_mon -1 2>/dev/null) || { all=0; break; }
            echo "$out" | grep -q 'Current DC: [a-z]' || { all=0; break; }
            for m in "$@"; do
                echo "$out" | grep 'Online:' | grep -qw "$m" || { all=0; break 2; }
            done
        done
        [ $all = 1 ] && return 0
        sleep 0.5
    done
    return 1
}

# hl_wait_device NODE ID [SECONDS]: the fencer has registered ID
hl_wait_device() { nslab_wait_device "$1" "$2" "${3:-30}"; }

# --- HL_LIBVIRTD=1: a libvirtd per host ---------------------------------------------
# The test driver keeps its state per connection, so a VM cannot be moved
# from one host's test:///FILE to another's from outside.  With
# HL_LIBVIRTD=1 every host runs a libvirtd (libvirt-lab.md: session mode,
# uid 65534, inside the host's namespaces, so it dies with the host) serving
# test:///default; fence_virtd connects to it and the test drives the same
# state with virsh: define/start/destroy/undefine are real libvirt
# lifecycle events for fence_virtd.

hl_lvd_sock() { echo "$HL_R/$1/lvd/run/libvirt/libvirt-sock"; }
hl_lvd_uri() { echo "test+unix:///default?socket=$(hl_lvd_sock "$1")"; }
hl_virsh() {   # hl_virsh HOST ARGS...
    local h=$1
    shift
    timeout 20 virsh -q -c "$(hl_lvd_uri "$h")" "$@"
}
hl_lvd_start() {   # hl_lvd_start HOST
    local h=$1 d=$HL_R/$1/lvd i
    mkdir -p "$d/home" "$d/run" && chown 65534:65534 "$d/home" "$d/run"
    rm -f "$(hl_lvd_sock "$h")"
    nslab_spawn "$h" "$d/libvirtd.log" "$d/pid" env HOME="$d/home" XDG_RUNTIME_DIR="$d/run" \
        setpriv --reuid=65534 --regid=65534 --clear-groups /usr/sbin/libvirtd
    for i in $(seq 1 100); do
        [ -S "$(hl_lvd_sock "$h")" ] && hl_virsh "$h" version >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    hl_log "libvirtd of $h did not answer"; tail -5 "$d/libvirtd.log" >&2
    return 1
}
# hl_vm_define HOST NAME[:off]: define NAME (UUID from its name) and start it
hl_vm_define() {
    local h=$1 name=${2%%:*} f=$HL_R/$1/lvd/$2.xml
    cat >"$f" <<EOX
<domain type="test">
  <name>$name</name><uuid>$(hl_uuid "$name")</uuid>
  <memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>
</domain>
EOX
    hl_virsh "$h" define "$f" >/dev/null || return 1
    [ "$2" != "${2%:off}" ] || hl_virsh "$h" start "$name" >/dev/null
}
# hl_vm_state HOST NAME: "running", "shut off", or "none"
hl_vm_state() { hl_virsh "$1" domstate "$2" 2>/dev/null | head -1 | grep . || echo none; }

# --- fence_virtd on the hosts -----------------------------------------------------

# hl_fvd_conf HOST: pcs-examples/host-cluster/fence_virt.conf with this
# machine's values: key file, interface eth0, the test driver's URI, a
# tcp listener on the host's address (for fence_virt -T) added, and
# module_path pointing at the build tree's fencer module
# (daemon/.libs/fencer-pacemaker.so, loaded by fence_history = "pacemaker")
hl_fvd_conf() {
    local h=$1 d=$HL_R/$1 uri="test://$HL_R/$1/domains.xml"
    [ -n "${HL_LIBVIRTD:-}" ] && uri=$(hl_lvd_uri "$h")
    sed -e "s|key_file = \"[^\"]*\"|key_file = \"$HL_KEY\"|" \
        -e 's|interface = "[^"]*"|interface = "eth0"|' \
        -e "s|uri = \"[^\"]*\"|uri = \"$uri\"|" \
        -e 's|listener = "multicast";|listener = "multicast,tcp";|' \
        -e "/^    backend = \"cpg\";/a\\
    module_path = \"$VFT_BUILD/daemon/.libs\";" \
        -e "/^listeners {/a\\
    tcp {\\
        key_file = \"$HL_TKEY\";\\
        address = \"$HL_NET.${h#h}\";\\
        port = \"$HL_TPORT\";\\
        family = \"ipv4\";\\
    }" \
        -e "/^    multicast {/a\\
        address = \"$HL_MCAST\";\\
        port = \"$HL_MPORT\";\\
        family = \"ipv4\";" \
        "$HL_EX/fence_virt.conf" >"$d/fence_virt.conf"
    chmod 600 "$d/fence_virt.conf"
}

# hl_fvd_start HOST: our fence_virtd -F in HOST (pid in $HL_R/HOST/fvd.pid)
hl_fvd_start() {
    local h=$1 d=$HL_R/$1
    hl_fvd_conf "$h"
    nslab_spawn "$h" "$d/fvd.log" "$d/fvd.pid" \
        "$VF_DAEMON" -F -d 2 -f "$d/fence_virt.conf" -p /run/fence_virtd.pid
}

# hl_ask AGENT VIA HOST OP TARGET [SECS]: one request from the guest
# namespace.  AGENT ours|ref; VIA mc (fence_xvm, multicast: every host hears
# it) or tcp (fence_virt -T to HOST).  Sets HL_RC, output in $HL_R/ask.out.
hl_ask() {
    local agent=$1 via=$2 h=$3 op=$4 t=$5 secs=${6:-10} bin
    HL_RC=0
    if [ "$via" = mc ]; then
        bin=$VF_AGENT_XVM; [ "$agent" = ref ] && bin=$REF_AGENT_XVM
        hl_gcx timeout $((secs + 15)) "$bin" -a "$HL_MCAST" -p "$HL_MPORT" -k "$HL_KEY" \
            -t "$secs" -o "$op" ${t:+-n "$t"} >"$HL_R/ask.out" 2>&1 </dev/null || HL_RC=$?
    else
        bin=$VF_AGENT; [ "$agent" = ref ] && bin=$REF_AGENT
        hl_gcx timeout $((secs + 15)) "$bin" -T "$HL_NET.${h#h}" -p "$HL_TPORT" -k "$HL_TKEY" \
            -t "$secs" -o "$op" ${t:+-n "$t"} >"$HL_R/ask.out" 2>&1 </dev/null || HL_RC=$?
    fi
    return 0
}
# hl_expect DESC RC AGENT VIA HOST OP VM [SECS]: hl_ask for VM's UUID
# (name_mode = "uuid", as in the example), exit code must be RC
hl_expect() {
    local d=$1 want=$2 t0 dt
    shift 2
    t0=$(date +%s.%N)
    hl_ask "$1" "$2" "$3" "$4" "$(hl_uuid "$5")" "${6:-10}"
    dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    if [ "$HL_RC" = "$want" ]; then
        vft_ok "$d (rc $HL_RC, ${dt}s)"
        return 0
    fi
    vft_fail "$d: rc $HL_RC after ${dt}s, expected $want"
    sed 's/^/    out: /' "$HL_R/ask.out" | tail -5
    return 1
}

# hl_list_count HOST: how many domains HOST's daemon lists (tcp)
hl_list_count() {
    hl_ask ours tcp "$1" list "" 5
    [ "$HL_RC" = 0 ] && grep -c '^vm-' "$HL_R/ask.out" || echo 0
}
# hl_wait_listed SECONDS N HOST...: each HOST lists N domains
hl_wait_listed() {
    local secs=$1 want=$2 i h all
    shift 2
    for i in $(seq 1 $((secs * 2))); do
        all=1
        for h in "$@"; do
            [ "$(hl_list_count "$h")" = "$want" ] || { all=0; break; }
        done
        [ $all = 1 ] && return 0
        sleep 0.5
    done
    return 1
}

# --- the host fence agent's gates and records -----------------------------------------

hl_gate() {   # hl_gate hold|release|fail|succeed
    case $1 in
    hold) touch "$HL_STATE/hold" ;;
    release) rm -f "$HL_STATE/hold" ;;
    fail) touch "$HL_STATE/fail" ;;
    succeed) rm -f "$HL_STATE/fail" ;;
    esac
}
# hl_wait_record WORD HOST SECONDS: the agent recorded "WORD ... HOST"
hl_wait_record() { nslab_wait_grep "$3" "$HL_STATE/record" "^$1 [0-9]+ (off|reboot) $2\$"; }
# hl_wait_log HOST REGEX SECONDS: HOST's fence_virtd logged REGEX
hl_wait_log() { nslab_wait_grep "$3" "$HL_R/$1/fvd.log" "$2"; }
# hl_wait_log_pcmk NODE REGEX SECONDS: NODE's Pacemaker logged REGEX
hl_wait_log_pcmk() { nslab_wait_grep "$3" "$HL_R/$1/log/pacemaker.log" "$2"; }

# hl_kill_host HOST: the host dies hard: SIGKILL to every process of its
# mount and network namespaces (corosync, Pacemaker, fence_virtd: its VMs,
# which live in that daemon's test driver, die with it)
hl_kill_host() {
    local i
    for i in 1 2 3; do
        nslab_kill_node "$1"
        sleep 0.1
    done
    hl_log "host $1 killed"
}
# hl_kill_fenced HOST: HOST dies; the host cluster must fence it within 60 s
hl_kill_fenced() {
    hl_kill_host "$1"
    if hl_wait_record DONE "$1" 60; then vft_ok "the host cluster fenced $1"; else vft_fail "$1 not fenced within 60 s"; fi
}
# hl_host_alive HOST: some process still runs in HOST
hl_host_alive() { [ -n "$(nslab_mntns_pids "$1")" ]; }

# hl_host_start HOST: corosync + pacemakerd + fence_virtd in HOST
hl_host_start() {
    hl_node_start "$1"
    hl_fvd_start "$1"
}

# --- the whole bed ------------------------------------------------------------------

hl_base() {
    vft_on_exit hl_down
    HL_UP=1
    nslab_sweep_stale vhl
    nslab_base || { hl_log "cannot make $HL_R private"; return 1; }
    mkdir -p "$HL_STATE"
    : >"$HL_STATE/record"
    printf '%s\n' "${HL_HOSTS[@]}" >"$HL_STATE/hosts"
    vft_gen_key "$HL_KEY" 512
    vft_gen_key "$HL_TKEY" 512
    # an executable copy of the host agent (a tarball or checkout may lose the mode)
    install -m 755 "$VFT_SRC/tests/cluster/host-fence-agent" "$HL_R/host-fence-agent" || return 1
    corosync-keygen -l -k "$HL_R/authkey" >/dev/null 2>&1 || return 1
}

# hl_up: switch, hosts (corosync + Pacemaker + host stonith device + our
# fence_virtd) and the asking guest; returns when every host's daemon
# lists every domain of the cluster
hl_up() {
    local h t0 vm
    t0=$(date +%s)
    hl_base || return 1
    nslab_bed_switch || return 1
    nslab_member gc "$HL_GC_IP" || return 1
    for h in "${HL_HOSTS[@]}"; do
        hl_node_ns "$h" "$HL_NET.${h#h}" host || { hl_log "host $h setup failed"; return 1; }
        # shellcheck disable=SC2046 # a list of specs
        hl_domains_xml "$HL_R/$h/domains.xml" $(hl_host_vms "$h")
        hl_seed_cib "$h"
    done
    for h in "${HL_HOSTS[@]}"; do hl_node_start "$h"; done
    if [ -n "${HL_LIBVIRTD:-}" ]; then
        for h in "${HL_HOSTS[@]}"; do hl_lvd_start "$h" || return 1; done
    fi
    for h in "${HL_HOSTS[@]}"; do hl_fvd_start "$h"; done
    if [ -n "${HL_LIBVIRTD:-}" ]; then
        # once fence_virtd holds its connection (test:///default keeps its
        # state while one is open): the hosts' VMs instead of the default "test"
        for h in "${HL_HOSTS[@]}"; do
            hl_wait_log "$h" "cpg backend: group" 20
            hl_virsh "$h" destroy test >/dev/null 2>&1
            hl_virsh "$h" undefine test >/dev/null 2>&1
            for vm in $(hl_host_vms "$h"); do
                hl_vm_define "$h" "$vm" || { hl_log "$h: cannot define $vm"; return 1; }
            done
        done
    fi
    if ! hl_wait_online 60 "${HL_HOSTS[@]}"; then
        hl_log "host cluster did not come up"; hl_dump; return 1
    fi
    if ! hl_nsx h1 timeout 30 pcs stonith create hostfence fence_dummy state_dir="$HL_STATE" \
        pcmk_host_list="h1 h2 h3" pcmk_host_check=static-list >"$HL_R/pcs.out" 2>&1; then
        hl_log "pcs stonith create hostfence failed: $(tail -2 "$HL_R/pcs.out")"; return 1
    fi
    for h in "${HL_HOSTS[@]}"; do
        hl_wait_device "$h" hostfence 30 || { hl_log "$h: hostfence not registered"; hl_dump; return 1; }
    done
    if ! hl_wait_listed 30 11 "${HL_HOSTS[@]}"; then
        hl_log "the hosts' daemons do not all list the 11 domains"; hl_dump; return 1
    fi
    hl_log "host cluster up in $(($(date +%s) - t0))s: ${HL_HOSTS[*]}, fence_virtd (cpg) on each"
    HL_SCEN_T0=$(date +%s)
}

# hl_guests_up: the guest cluster g1 + g2 (corosync + Pacemaker, two_node),
# its VMs vm-g1 (on h1) and vm-g2 (on h2), and its stonith device: fence_xvm
# (our agent) over multicast, pcmk_host_map to the VMs' UUIDs (name_mode
# uuid), an agent timeout above the daemon's 30 s operation deadline
hl_guests_up() {
    local g t0
    t0=$(date +%s)
    for g in g1 g2; do
        hl_node_ns "$g" "$HL_NET.10${g#g}" guest || { hl_log "guest $g setup failed"; return 1; }
        hl_seed_cib "$g"
    done
    for g in g1 g2; do hl_node_start "$g"; done
    hl_wait_online 60 g1 g2 || { hl_log "guest cluster did not come up"; hl_dump; return 1; }
    if ! hl_nsx g1 timeout 30 pcs stonith create vmfence fence_xvm key_file="$HL_KEY" \
        multicast_address="$HL_MCAST" ipport="$HL_MPORT" timeout=40 \
        pcmk_host_map="g1:$(hl_uuid vm-g1);g2:$(hl_uuid vm-g2)" pcmk_host_check=static-list \
        pcmk_reboot_timeout=85 >"$HL_R/pcs-g.out" 2>&1; then
        hl_log "pcs stonith create vmfence (guests) failed: $(tail -2 "$HL_R/pcs-g.out")"; return 1
    fi
    for g in g1 g2; do
        hl_wait_device "$g" vmfence 30 || { hl_log "$g: vmfence not registered"; return 1; }
    done
    hl_log "guest cluster up in $(($(date +%s) - t0))s"
    HL_SCEN_T0=$(date +%s)
}

# hl_dump: logs (on failure)
hl_dump() {
    local n
    for n in $(cat "$HL_R/nodes.list" 2>/dev/null); do
        hl_host_alive "$n" && hl_nsx "$n" timeout 5 crm_mon -1 2>&1 | sed "s/^/  [$n crm_mon] /" >&2
        tail -n 8 "$HL_R/$n/log/pacemaker.log" 2>/dev/null | sed "s/^/  [$n pcmk] /" >&2
        tail -n 15 "$HL_R/$n/fvd.log" 2>/dev/null | sed "s/^/  [$n fvd] /" >&2
    done
    sed 's/^/  [host agent] /' "$HL_STATE/record" >&2 2>/dev/null
}

hl_down() {
    [ "$HL_UP" = 1 ] || return 0
    HL_UP=0
    local t0
    t0=$(date +%s)
    rm -f "$HL_STATE/hold"          # a held agent returns at once
    nslab_stop_nodes
    nslab_reap
    nslab_keep_logs "$VFT_NAME.$$"
    [ -n "${VF_LAB_LOGDIR:-}" ] && cp "$HL_STATE/record" "$VF_LAB_LOGDIR/$VFT_NAME.$$/host-agent.record" 2>/dev/null
    hl_log "bed down in $(($(date +%s) - t0))s"
}

# hl_finish: the scenario's time, logs on failure, vft_finish
hl_finish() {
    echo "# $VFT_NAME: bed up in $((HL_SCEN_T0 - HL_T0))s, scenario $(($(date +%s) - HL_SCEN_T0))s, total $(($(date +%s) - HL_T0))s (before teardown)"
    if [ "$VFT_FAIL" != 0 ] && [ "$HL_UP" = 1 ]; then hl_dump; fi
    vft_finish
}
