#!/bin/bash
# vmfence - tests/cluster/cl-cpg-rejoin.sh: host cluster (hostlab.sh), a
# fenced host rejoining.
#
# h2 is killed and fenced; its VMs are "owner lost" and off.  h2 comes back
# (corosync, Pacemaker, fence_virtd) with a changed set of domains: vm-2a
# and vm-2c as before, vm-2b and vm-g2 gone, vm-2d new.  It re-announces:
# the other hosts forget its lost entries (logged), its domains are routed
# to it again, the vanished vm-2b is unknown (a failure, not "off"), and
# every list has the new set.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/hostlab.sh"

hl_begin 300

hl_kill_fenced h2
hl_expect "status vm-2b while h2 is down and fenced: off" 2 ours tcp h1 status vm-2b 45
hl_expect "off vm-2a while h2 is down and fenced" 0 ours tcp h3 off vm-2a 45

hl_domains_xml "$HL_R/h2/domains.xml" vm-2a vm-2c:off vm-2d
t0=$(date +%s)
hl_host_start h2
if hl_wait_online 60 h1 h2 h3; then
    vft_ok "h2 is back in the host cluster ($(($(date +%s) - t0))s)"
else
    vft_fail "h2 did not rejoin the host cluster within 60 s"
fi
for h in h1 h3; do
    if hl_wait_log "$h" "node 2 announces its domains again; 4 lost domain\(s\) of it forgotten" 30; then
        vft_ok "$h forgot h2's 4 lost domains when h2 announced again"
    else
        vft_fail "$h did not forget h2's lost domains"
    fi
done
hl_wait_listed 30 10 h1 h2 h3 && vft_ok "every host lists the 10 domains" ||
    vft_fail "the hosts do not all list 10 domains"
hl_expect "status vm-2a (running on h2 again) via h1" 0 ours tcp h1 status vm-2a 45
hl_expect "status vm-2d (new on h2) via h3, multicast" 0 ref mc - status vm-2d 45
hl_expect "status vm-2b (gone from h2) fails: unknown, not off" 1 ours tcp h1 status vm-2b 45
hl_expect "off vm-2b (gone) fails" 1 ours tcp h3 off vm-2b 45
hl_expect "off vm-2a, routed to the rejoined h2" 0 ours tcp h1 off vm-2a 45
hl_expect "status vm-2a after off" 2 ref tcp h3 status vm-2a 45
hl_ask ours tcp h1 list "" 10
if grep -q '^vm-2d ' "$HL_R/ask.out" && ! grep -Eq '^vm-(2b|g2) ' "$HL_R/ask.out"; then
    vft_ok "h1's list has vm-2d and neither vm-2b nor vm-g2"
else
    vft_fail "h1's list is stale: $(awk '{print $1}' "$HL_R/ask.out" | tr '\n' ' ')"
fi
hl_finish
