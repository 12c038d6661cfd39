#!/bin/bash
# vmfence - metadata/check-metadata.sh: golden-file and schema checks of the
# agents' metadata XML (fence-agents' xml-check + rng-check, and more).
#
#  a) the library output (dump-metadata) and, when the agent is built,
#     `fence_xvm -o metadata` / `fence_virt -o metadata` (and the same via
#     stdin "action=metadata") equal the golden files fence_xvm.xml and
#     fence_virt.xml in this directory;
#  b) the output validates against the fence-agents metadata.rng and pcs'
#     ocf-1.0.rng (each a skipped part, counted as such, when not installed);
#  c) fence2rng.xsl turns it into a well-formed RELAX NG fragment that
#     compiles and accepts a sample device;
#  d) every parameter of the reference agent (/usr/sbin/fence_xvm,
#     /usr/sbin/fence_virt, /usr/sbin/fence_xenapi; skipped if absent)
#     exists in ours with the same getopt text, reference ones first.
# fence_xenapi follows the fence-agents conventions: session_url is
# required="1", plug/port are not (Pacemaker supplies them).
# Nothing is faked; the reference agents are only asked for -o metadata,
# which never touches the network.
. "${VF_TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib/common.sh"

SRCDIR="$VFT_SRC/metadata"
BUILDDIR="$VFT_BUILD/metadata"
DUMP="$BUILDDIR/dump-metadata"
FA_RNG=/usr/share/cluster/relaxng/metadata.rng
PCS_RNG=/usr/share/pcs/data/ocf-1.0.rng
FENCE2RNG=/usr/share/cluster/relaxng/fence2rng.xsl
PARAMS_XSL="$SRCDIR/params.xsl"
# the golden files carry the default key file of a default configure
GOLDEN_KEY=/etc/cluster/fence_xvm.key
KEY=${VF_DEFAULT_KEY_FILE:-$GOLDEN_KEY}

vft_need_cmd xmllint xsltproc
[ -x "$DUMP" ] || vft_skip "dump-metadata not built"

# normalise a configured key file path back to the golden one
norm() { sed "s|default=\"$KEY\"|default=\"$GOLDEN_KEY\"|"; }

# check_against_golden DESC FILE GOLDEN
check_against_golden() {
    if diff -u "$3" "$2" >"$VFT_TMP/diff" 2>&1; then
        vft_ok "$1 matches $(basename "$3")"
    else
        vft_fail "$1 differs from $(basename "$3") (make -C metadata regenerate?)"
        head -40 "$VFT_TMP/diff" | sed 's/^/    /'
    fi
}

for agent in fence_xvm fence_virt fence_xenapi; do
    golden="$SRCDIR/$agent.xml"
    out="$VFT_TMP/$agent.xml"

    # a) library and agent output against the golden file
    if "$DUMP" "$agent" >"$VFT_TMP/dump.raw" && norm <"$VFT_TMP/dump.raw" >"$out"; then
        vft_ok "$agent: dump-metadata runs"
    else
        vft_fail "$agent: dump-metadata failed"
        continue
    fi
    check_against_golden "$agent: library metadata" "$out" "$golden"

    bin="$VFT_BUILD/agents/$agent"
    if [ -x "$bin" ]; then
        rc=0
        timeout 20 "$bin" -o metadata </dev/null >"$VFT_TMP/agent.raw" 2>"$VFT_TMP/err" || rc=$?
        if [ "$rc" = 0 ]; then
            norm <"$VFT_TMP/agent.raw" >"$VFT_TMP/agent.xml"
            check_against_golden "$agent -o metadata" "$VFT_TMP/agent.xml" "$golden"
        else
            vft_fail "$agent -o metadata: exit status $rc"
            sed 's/^/    err: /' "$VFT_TMP/err" | head -5
        fi
        rc=0
        printf 'action=metadata\n' | timeout 20 "$bin" >"$VFT_TMP/agent.raw" 2>"$VFT_TMP/err" \
            || rc=$?
        if [ "$rc" = 0 ]; then
            norm <"$VFT_TMP/agent.raw" >"$VFT_TMP/agent-stdin.xml"
            check_against_golden "$agent (stdin action=metadata)" "$VFT_TMP/agent-stdin.xml" \
                "$golden"
        else
            vft_fail "$agent (stdin action=metadata): exit status $rc"
            sed 's/^/    err: /' "$VFT_TMP/err" | head -5
        fi
    else
        vft_skip_part "$bin not built: the agent's own -o metadata not compared"
    fi

    # b) schemas
    for rng in "$FA_RNG" "$PCS_RNG"; do
        if [ ! -r "$rng" ]; then
            vft_skip_part "$agent: schema $rng not installed: validation against it not run"
            continue
        fi
        if xmllint --noout --relaxng "$rng" "$out" >"$VFT_TMP/xl" 2>&1; then
            vft_ok "$agent: validates against $rng"
        else
            vft_fail "$agent: does not validate against $rng"
            sed 's/^/    /' "$VFT_TMP/xl" | head -10
        fi
    done

    # c) fence2rng.xsl -> RELAX NG fragment; wrap it, compile it, use it
    if [ -r "$FENCE2RNG" ]; then
        rng="$VFT_TMP/$agent.rng"
        {
            echo '<grammar xmlns="http://relaxng.org/ns/structure/1.0"'
            echo ' xmlns:rha="http://redhat.com/~pkennedy/annotation_namespace/cluster_conf_annot_namespace">'
            echo '<start><element name="fencedevice"><attribute name="name"/><choice>'
            xsltproc "$FENCE2RNG" "$out"
            echo '</choice></element></start></grammar>'
        } >"$rng"
        if xmllint --noout "$rng" 2>"$VFT_TMP/xl"; then
            vft_ok "$agent: fence2rng output is well-formed"
        else
            vft_fail "$agent: fence2rng output is not well-formed"
            sed 's/^/    /' "$VFT_TMP/xl" | head -10
        fi
        if [ "$agent" = fence_xenapi ]; then
            echo '<fencedevice name="d1" plug="vm1" action="off" session_url="https://x" username="root"/>'
        else
            echo '<fencedevice name="d1" plug="vm1" action="off" ipport="1229"/>'
        fi >"$VFT_TMP/dev.xml"
        if xmllint --noout --relaxng "$rng" "$VFT_TMP/dev.xml" >"$VFT_TMP/xl" 2>&1; then
            vft_ok "$agent: fence2rng schema compiles and accepts a device"
        else
            vft_fail "$agent: fence2rng schema rejected a sample device"
            sed 's/^/    /' "$VFT_TMP/xl" | head -10
        fi
    else
        vft_skip_part "$agent: $FENCE2RNG not installed: fence2rng check not run"
    fi

    # attribute rules (protocol.md 4.6, D23)
    if [ "$agent" = fence_xenapi ]; then
        if [ "$(grep -c 'required="1"' "$out")" = 1 ] \
            && grep -q '<parameter name="session_url" unique="0" required="1">' "$out" \
            && grep -q '<parameter name="plug" unique="0" required="0" obsoletes="port">' "$out" \
            && grep -q '<parameter name="port" unique="0" required="0" deprecated="1">' "$out"; then
            vft_ok "$agent: only session_url required; plug obsoletes port"
        else
            vft_fail "$agent: required/obsoletes attributes wrong"
        fi
    elif grep -q 'required="1"' "$out"; then
        vft_fail "$agent: a parameter is marked required"
    else
        vft_ok "$agent: no parameter marked required"
    fi
    if [ "$agent" = fence_xenapi ]; then
        :
    elif grep -q '<parameter name="plug" unique="0" required="0" obsoletes="port">' "$out" \
        && grep -q '<parameter name="port" unique="0" required="0" deprecated="1">' "$out" \
        && grep -q '<parameter name="domain" unique="0" required="0" deprecated="1">' "$out"; then
        vft_ok "$agent: plug obsoletes port; port and domain deprecated"
    else
        vft_fail "$agent: plug/port/domain attributes wrong"
    fi

    # d) superset of the reference parameters, same getopt letters, same order
    ref="/usr/sbin/$agent"
    if [ -x "$ref" ]; then
        if timeout 20 "$ref" -o metadata </dev/null >"$VFT_TMP/ref.xml" 2>/dev/null; then
            xsltproc "$PARAMS_XSL" "$VFT_TMP/ref.xml" >"$VFT_TMP/ref.params"
            xsltproc "$PARAMS_XSL" "$out" >"$VFT_TMP/our.params"
            missing=$(grep -vxF -f "$VFT_TMP/our.params" "$VFT_TMP/ref.params" || true)
            if [ -z "$missing" ] && [ -s "$VFT_TMP/ref.params" ]; then
                vft_ok "$agent: every reference parameter present with its letter"
            else
                vft_fail "$agent: reference parameters missing or with another letter: $missing"
            fi
            n=$(wc -l <"$VFT_TMP/ref.params")
            if head -n "$n" "$VFT_TMP/our.params" | cmp -s - "$VFT_TMP/ref.params"; then
                vft_ok "$agent: reference parameters first, in reference order"
            else
                vft_fail "$agent: parameter order differs from the reference"
            fi
        else
            vft_fail "$agent: reference $ref -o metadata failed"
        fi
    else
        vft_skip_part "$ref not installed: reference-parameter superset check not run"
    fi
done

vft_finish
