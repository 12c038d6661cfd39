#!/bin/bash
# vmfence - tests/lib/tools.sh: helpers that need nothing of common.sh, for
# the shell tests (sourced by tests/lib/common.sh) and the bench scripts
# (bench/lib.sh): a free loopback TCP port, a fence_virt.conf.

# vft_free_port: a TCP port below the ephemeral range that no socket uses
# at all (not a listener, nor the local port of a connection or of a
# TIME_WAIT left by a load generator, either of which makes bind() fail)
vft_free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 12000))
        ss -Htan "sport = :$p" | grep -q . || { echo "$p"; return 0; }
    done
    return 1
}

# vft_fvd_conf FILE LISTENER MODULE_PATH URI KEY=VALUE...: a fence_virt.conf
# (mode 600) with one LISTENER whose statements are the KEY=VALUE pairs, the
# libvirt backend on URI, and module_path unless MODULE_PATH is empty
vft_fvd_conf() {
    local f=$1 l=$2 mp=$3 uri=$4 kv
    shift 4
    {
        printf 'fence_virtd {\n    listener = "%s";\n    backend = "libvirt";\n' "$l"
        [ -n "$mp" ] && printf '    module_path = "%s";\n' "$mp"
        printf '}\nlisteners {\n    %s {\n' "$l"
        for kv in "$@"; do printf '        %s = "%s";\n' "${kv%%=*}" "${kv#*=}"; done
        printf '    }\n}\nbackends {\n    libvirt {\n        uri = "%s";\n    }\n}\n' "$uri"
    } >"$f"
    chmod 600 "$f"
}
