#!/bin/sh
# pcs-examples/xenapi: a cluster whose nodes are virtual machines of a
# XenServer / XCP-ng pool, fenced with fence_xenapi through XenAPI.
# session_url may name any pool member: vmfence's fence_xenapi follows
# HOST_IS_SLAVE to the pool master.  pcmk_host_map maps the cluster node
# names to the VM names (name_label) or UUIDs in the pool.
# The password comes from a root-only file through password_script, so it
# is neither in the CIB nor on a command line.
set -e
# pcs with "-f $CIB" when CIB is set (offline CIB, used by check-examples.sh);
# plain pcs on a live cluster.  PCS_EXTRA_ARGS is appended (e.g. --force).
pcs() {
    if [ -n "${CIB:-}" ]; then
        command pcs -f "$CIB" "$@" ${PCS_EXTRA_ARGS:-}
    else
        command pcs "$@" ${PCS_EXTRA_ARGS:-}
    fi
}

pcs stonith create fence-xcp fence_xenapi \
    session_url=https://xcp-master.example.com \
    login=root password_script="cat /etc/cluster/xapi-password" \
    pcmk_host_map="node1.example.com:node1-vm;node2.example.com:node2-vm;node3.example.com:a1b2c3d4-0000-4000-8000-000000000003" \
    pcmk_host_check=static-list

# XenServer's certificate is self-signed: give fence_xenapi the pool's CA
# (or the host certificate) to verify it with.  Only vmfence's fence_xenapi
# has cacert (and ssl_insecure); pcs checks names against the installed
# agent, so this step runs when vmfence's agent is the installed one.
if fence_xenapi -o metadata 2>/dev/null | grep -q '<parameter name="cacert"'; then
    pcs stonith update fence-xcp cacert=/etc/cluster/xcp-ca.pem
fi
