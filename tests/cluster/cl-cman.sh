#!/bin/bash
# vmfence - tests/cluster/cl-cman.sh: cman-era configuration.
# 1. cluster.conf examples in the setup guides' style validate against the
#    RELAX NG schema that fence-agents' fence2rng.xsl makes from the agents'
#    metadata, assembled as cman does (fence.rng.head + one fragment per
#    agent + fence.rng.tail = the FENCEDEVICEOPTIONS pattern, included by a
#    minimal cluster grammar, tests/data/cluster/cluster.rng); a typo'd
#    attribute is rejected; our extra fence_xvm parameters are valid only
#    with the schema made from our metadata.  Done for our agent (when
#    built) and for the reference.
# 2. The agent fed the stdin cman's fenced would pass (fencedevice and
#    device attributes merged, agent=, domain=/port=, action=, nodename=;
#    made from the same cluster.conf by tests/data/cluster/fenced-args.xsl)
#    fences correctly, run inside a lab node namespace (multicast stays in
#    the lab).  What is not real: there is no cman/fenced here (cman is gone
#    from current distributions); the stdin is what its fence library wrote.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lab.sh"
lab_need
vft_need_cmd xsltproc
XSL=/usr/share/cluster/relaxng/fence2rng.xsl
[ -r "$XSL" ] || vft_skip "needs fence-agents' $XSL"
nslab_watchdog 240
lab_select
DATA=$VFT_SRC/tests/data/cluster

subst() {   # subst IN OUT
    sed -e "s|@KEY@|$LAB_KEY|g" -e "s|@MCAST@|$LAB_MCAST|g" -e "s|@PORT@|$LAB_MPORT|g" \
        -e "s|@HVIP@|$LAB_HV_IP|g" -e "s|@TPORT@|$LAB_TPORT|g" "$1" >"$2"
}

# make_schema WHO RUNNER...: RNG=<dir>/cluster.rng made from the metadata
# printed by /usr/sbin/fence_xvm and fence_virt as run by RUNNER (not in a
# subshell: it records checks)
make_schema() {
    local who=$1 a dir=$VFT_TMP/schema-$1
    shift
    mkdir -p "$dir"
    cp "$DATA/cluster.rng" "$dir/cluster.rng"
    {
        echo '<grammar xmlns="http://relaxng.org/ns/structure/1.0"'
        echo '  xmlns:rha="http://redhat.com/~pkennedy/annotation_namespace/cluster_conf_annot_namespace">'
        cat /usr/share/cluster/relaxng/fence.rng.head
    } >"$dir/fence.rng"
    for a in fence_xvm fence_virt; do
        if ! "$@" "/usr/sbin/$a" -o metadata >"$dir/$a.xml" 2>"$dir/$a.err"; then
            vft_fail "$who: $a -o metadata"; return 1
        fi
        if xsltproc "$XSL" "$dir/$a.xml" >>"$dir/fence.rng" 2>"$dir/xslt.err"; then
            vft_ok "$who: fence2rng.xsl turns $a's metadata into a schema fragment"
        else
            vft_fail "$who: fence2rng.xsl failed on $a: $(head -3 "$dir/xslt.err")"; return 1
        fi
    done
    { cat /usr/share/cluster/relaxng/fence.rng.tail; echo '</grammar>'; } >>"$dir/fence.rng"
    if xmllint --noout "$dir/fence.rng" 2>"$dir/wf.err"; then
        vft_ok "$who: the generated fence.rng is well-formed"
    else
        vft_fail "$who: generated fence.rng is not well-formed: $(head -3 "$dir/wf.err")"; return 1
    fi
    RNG=$dir/cluster.rng
}

# expect_valid WHO RNG CONF yes|no
expect_valid() {
    local who=$1 rng=$2 conf=$3 want=$4 got=no
    xmllint --noout --relaxng "$rng" "$VFT_TMP/$conf" >"$VFT_TMP/v.out" 2>&1 && got=yes
    if [ "$got" = "$want" ]; then
        vft_ok "$who schema: $conf valid=$got"
    else
        vft_fail "$who schema: $conf valid=$got, expected $want"
        sed 's/^/    xmllint: /' "$VFT_TMP/v.out" | head -5
    fi
}

# fenced_stdin CONF NODE: the agent's stdin for victim NODE
fenced_stdin() { xsltproc --stringparam node "$2" "$DATA/fenced-args.xsl" "$VFT_TMP/$1"; }

# fence_as_fenced TAG CONF NODE VIA VM STATE: run the fencedevice's agent
# in n1 with fenced's stdin; expect rc 0 and VM in STATE afterwards
fence_as_fenced() {
    local tag=$1 conf=$2 node=$3 via=$4 vm=$5 want=$6 agent
    fenced_stdin "$conf" "$node" >"$VFT_TMP/stdin.$node"
    agent=$(sed -n 's/^agent=//p' "$VFT_TMP/stdin.$node")
    vft_expect_rc "$tag: $agent with fenced's stdin for $node ($(grep -E '^(domain|port|action)=' \
        "$VFT_TMP/stdin.$node" | tr '\n' ' '))" 0 \
        lab_nsx n1 timeout 30 sh -c "exec /usr/sbin/$agent <'$VFT_TMP/stdin.$node'"
    lab_expect_state "$tag: after fencing $node" "$via" "$vm" "$want"
}

scenario() {
    local d=$1
    local tag="cman/$LAB_AGENT-agent/$d-daemon"
    fence_as_fenced "$tag" cluster-xvm.conf n2 mc vm-n2 on      # default action: reboot
    fence_as_fenced "$tag" cluster-xvm.conf n3 mc vm-n3 on      # port= instead of domain=
    fence_as_fenced "$tag" cluster-xvm.conf n4 mc vm-n4 off     # action="off" on the device
    lab_expect_state "$tag: others untouched" mc vm-n1 on
    fence_as_fenced "$tag" cluster-virt-tcp.conf n2 tcp vm-n2 off
    lab_expect_state "$tag: others untouched" tcp vm-n1 on
}

lab_up 1 nocluster || { vft_fail "lab up"; lab_finish; }
lab_check_agent n1
for f in cluster-xvm cluster-virt-tcp cluster-typo cluster-callback; do
    subst "$DATA/$f.conf.in" "$VFT_TMP/$f.conf"
done
# the reference schema: metadata from the host's /usr/sbin (observer netns)
if make_schema ref lab_obs; then
    rng=$RNG
    expect_valid ref "$rng" cluster-xvm.conf yes
    expect_valid ref "$rng" cluster-virt-tcp.conf yes
    expect_valid ref "$rng" cluster-typo.conf no
    expect_valid ref "$rng" cluster-callback.conf no
fi
if [ "$LAB_AGENT" = ours ] && make_schema ours lab_nsx n1; then
    rng=$RNG
    expect_valid ours "$rng" cluster-xvm.conf yes
    expect_valid ours "$rng" cluster-virt-tcp.conf yes
    expect_valid ours "$rng" cluster-typo.conf no
    expect_valid ours "$rng" cluster-callback.conf yes
elif [ "$LAB_AGENT" != ours ]; then
    vft_skip_part "the lab runs the reference agent: the schema from our agents' metadata not checked"
fi
# what fenced passes, and that it is accepted as-is
fenced_stdin cluster-xvm.conf n2 | sed 's/^/# fenced stdin: /'
lab_for_daemons scenario
lab_finish
