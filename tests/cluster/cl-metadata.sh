#!/bin/bash
# vmfence - tests/cluster/cl-metadata.sh: what Pacemaker and pcs make of the
# agents' metadata and validate-all, with no cluster running (offline CIB via
# pcs -f).  Runs in a throwaway net+mount namespace where the agent under
# test is bind-mounted over /usr/sbin/fence_virt (= fence_xvm): once for our
# agent (when built) and once for the reference, asserting per agent where
# they differ on purpose (our validate-all refuses unknown keys, the
# reference ignores them; our fence_xvm documents callback_port/interface).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lab.sh"
lab_begin 240
AGENTS=${VF_LAB_AGENTS:-$LAB_AGENT}
[ "$LAB_AGENT" = ours ] && [ -z "${VF_LAB_AGENTS:-}" ] && AGENTS="ours ref"

# param_value TYPE NAME FIRST_OPTION: a plausible value per content type
param_value() {
    case $2 in
    key_file) echo "$LAB_KEY"; return ;;
    ipaddr) echo "$LAB_HV_IP"; return ;;
    multicast_address) echo "$LAB_MCAST"; return ;;
    serial_device) echo /dev/ttyS1; return ;;
    esac
    case $1 in
    boolean) echo 1 ;;
    integer) echo 5 ;;
    select) echo "$3" ;;
    *) echo x ;;
    esac
}

check_agent() {
    local who=$1 node=m-$1 a tag meta names p t o args n cib
    LAB_AGENT=$who
    if [ "$who" = ours ]; then LAB_AGENT_BIN=$VF_AGENT; else LAB_AGENT_BIN=$REF_AGENT; fi
    lab_solo "$node" || { vft_fail "$who: namespace"; return; }
    lab_check_agent "$node"
    vft_expect_rc "$who: stonith_admin -I" 0 lab_nsx "$node" stonith_admin -I
    for a in fence_xvm fence_virt; do
        grep -qx "$a" "$VFT_OUT" && vft_ok "$who: -I lists $a" || vft_fail "$who: -I lacks $a"
    done
    for a in fence_xvm fence_virt; do
        tag="$who/$a"
        meta=$VFT_TMP/meta-$who-$a.xml
        vft_expect_rc "$tag: stonith_admin -M -a $a" 0 lab_nsx "$node" stonith_admin -M -a "$a" || continue
        cp "$VFT_OUT" "$meta"
        n=$(xmllint --xpath 'string(/resource-agent/@name)' "$meta" 2>/dev/null)
        [ "$n" = "$a" ] && vft_ok "$tag: name=\"$n\"" || vft_fail "$tag: name=\"$n\""
        # the agent's own XML passes the schema pcs validates with
        if lab_nsx "$node" "/usr/sbin/$a" -o metadata >"$VFT_TMP/raw.xml" 2>/dev/null &&
            xmllint --noout --relaxng /usr/share/pcs/data/ocf-1.0.rng "$VFT_TMP/raw.xml" 2>/dev/null; then
            vft_ok "$tag: -o metadata is valid against pcs's ocf-1.0.rng"
        else
            vft_fail "$tag: -o metadata does not validate against ocf-1.0.rng"
        fi
        names=$(xmllint --xpath '//parameters/parameter/@name' "$meta" 2>/dev/null | tr '\n' ' ' |
            sed 's/ *name="\([^"]*\)"/\1 /g')
        if [ "$a" = fence_xvm ]; then
            for p in callback_port interface; do
                if [ "$who" = ours ]; then
                    echo " $names " | grep -q " $p " && vft_ok "$tag: documents $p" ||
                        vft_fail "$tag: $p missing"
                else
                    echo " $names " | grep -q " $p " && vft_fail "$tag: reference has $p?" ||
                        vft_ok "$tag: reference lacks $p (vmfence-only)"
                fi
            done
        fi
        # validate-all through the fencer's client library
        if [ "$a" = fence_xvm ]; then
            good=(-o key_file="$LAB_KEY" -o multicast_address="$LAB_MCAST")
            typo=(-o key_file="$LAB_KEY" -o multicast_adress="$LAB_MCAST")
        else
            good=(-o key_file="$LAB_KEY" -o ipaddr="$LAB_HV_IP")
            typo=(-o key_file="$LAB_KEY" -o ipadr="$LAB_HV_IP")
        fi
        vft_expect_rc "$tag: --validate accepts a good device" 0 \
            lab_nsx "$node" timeout 30 stonith_admin --validate -a "$a" "${good[@]}"
        if [ "$who" = ours ]; then
            vft_expect_rc "$tag: --validate rejects a typo'd parameter" 1 \
                lab_nsx "$node" timeout 30 stonith_admin --validate -a "$a" "${typo[@]}"
            grep -q "unknown parameter" "$VFT_OUT" "$VFT_ERR" &&
                vft_ok "$tag: the agent names the unknown parameter" ||
                vft_fail "$tag: no 'unknown parameter' message"
        else
            vft_expect_rc "$tag: reference --validate ignores a typo'd parameter" 0 \
                lab_nsx "$node" timeout 30 stonith_admin --validate -a "$a" "${typo[@]}"
        fi
        vft_expect_rc "$tag: --validate rejects a missing key file" 1 \
            lab_nsx "$node" timeout 30 stonith_admin --validate -a "$a" "${good[@]}" -o key_file=/nonexistent/key
        vft_expect_rc "$tag: pcs stonith describe" 0 lab_nsx "$node" timeout 60 pcs stonith describe "$a"
        grep -q "key_file" "$VFT_OUT" && vft_ok "$tag: describe shows key_file" ||
            vft_fail "$tag: describe lacks key_file"
        # pcs -f: every documented parameter is accepted (except "action",
        # which pcs refuses for every stonith agent), an unknown one refused
        cib=$VFT_TMP/cib-$who-$a.xml
        cibadmin --empty >"$cib"
        args=()
        for p in $names; do
            [ "$p" = action ] && continue
            t=$(xmllint --xpath "string(//parameter[@name='$p']/content/@type)" "$meta" 2>/dev/null)
            o=$(xmllint --xpath "string(//parameter[@name='$p']/content/option[1]/@value)" "$meta" 2>/dev/null)
            args+=("$p=$(param_value "$t" "$p" "$o")")
        done
        vft_expect_rc "$tag: pcs -f stonith create with all ${#args[@]} parameters" 0 \
            lab_nsx "$node" timeout 60 pcs -f "$cib" stonith create all "$a" "${args[@]}"
        n=$(xmllint --xpath "count(//primitive[@id='all']/instance_attributes/nvpair)" "$cib" 2>/dev/null)
        [ "$n" = "${#args[@]}" ] && vft_ok "$tag: CIB holds all $n parameters" ||
            vft_fail "$tag: CIB holds $n of ${#args[@]} parameters"
        vft_expect_rc "$tag: crm_verify of the offline CIB" 0 \
            lab_nsx "$node" env CIB_file="$cib" crm_verify -L
        vft_expect_rc "$tag: pcs -f refuses an unknown parameter" 1 \
            lab_nsx "$node" timeout 60 pcs -f "$cib" stonith create bad "$a" key_file="$LAB_KEY" bogus_opt=1
        grep -q "invalid stonith option 'bogus_opt'" "$VFT_ERR" "$VFT_OUT" &&
            vft_ok "$tag: pcs names bogus_opt" || vft_fail "$tag: pcs message lacks bogus_opt"
    done
}

for w in $AGENTS; do check_agent "$w"; done
lab_finish
