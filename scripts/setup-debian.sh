#!/bin/bash
# vmfence - scripts/setup-debian.sh: install everything vmfence needs to build
# and to run its whole test suite on Debian 12 (bookworm).  Run as root.
#
# Idempotent: when every package is already installed it only checks and
# returns (a few hundred milliseconds).  Before installing anything it makes
# sure /usr/sbin/policy-rc.d refuses to start services ("exit 101"): the test
# peers (corosync, pacemaker, pcsd, fence_virtd, libvirtd) must never start on
# the host from their init scripts.  An existing policy-rc.d is kept; one we
# create is left in place on purpose.
#
# Usage: scripts/setup-debian.sh [--build-only]
#   --build-only   only the packages needed to compile (used by demo.sh)

set -u

BUILD_PKGS="autoconf automake libtool pkg-config make gcc libc6-dev libnss3-dev
libxml2-dev uuid-dev libvirt-dev libcpg-dev pacemaker-dev libcurl4-openssl-dev
libsystemd-dev libseccomp-dev"
# peers and tools of the test suite (see README.md, "Testing"); the last line
# builds and checks the Debian packages (tests/packaging: dpkg-buildpackage,
# lintian, systemd-analyze)
TEST_PKGS="libvirt0 libvirt-clients libvirt-daemon fence-virt fence-virtd
fence-agents corosync pacemaker pacemaker-cli-utils pcs resource-agents
libxml2-utils xsltproc iproute2 util-linux procps coreutils python3 socat groff
man-db clang libfuzzer-14-dev libclang-rt-14-dev gawk valgrind cppcheck clang-format
debhelper dpkg-dev fakeroot lintian git systemd nftables openssl"

die() { echo "setup-debian.sh: ERROR: $*" >&2; exit 1; }
say() { echo "setup-debian.sh: $*"; }

pkgs="$BUILD_PKGS $TEST_PKGS"
case "${1:-}" in
--build-only) pkgs="$BUILD_PKGS" ;;
"") ;;
-h|--help) sed -n '2,14p' "$0"; exit 0 ;;
*) die "unknown option '$1' (try --help)" ;;
esac

# missing_packages: print every package of $pkgs that is not fully installed
missing_packages() {
    local p st
    for p in $pkgs; do
        st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) || st=""
        case "$st" in
        ii*) ;;
        *) echo "$p" ;;
        esac
    done
}

command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script is for Debian 12"
if [ -r /etc/os-release ]; then
    . /etc/os-release
    [ "${ID:-}" = debian ] || say "warning: this is '${ID:-unknown}', not Debian; trying anyway"
fi

missing=$(missing_packages | tr '\n' ' ')
if [ -z "${missing// /}" ]; then
    say "all $(echo $pkgs | wc -w) packages already installed"
    exit 0
fi

[ "$(id -u)" = 0 ] || die "packages missing ($missing) and not root: run '$0' as root"

# The guard must exist BEFORE apt-get installs corosync, pacemaker, pcs,
# fence-virtd or libvirt-daemon, or their maintainer scripts start them.
guard=/usr/sbin/policy-rc.d
if [ -e "$guard" ]; then
    say "keeping existing $guard"
    [ -x "$guard" ] || die "$guard exists but is not executable; services could start. Fix it first."
else
    say "creating $guard (exit 101: no service may start on this host); it is left in place"
    printf '#!/bin/sh\n# created by vmfence scripts/setup-debian.sh: never start services\nexit 101\n' \
        >"$guard" || die "cannot write $guard"
    chmod 755 "$guard" || die "cannot chmod $guard"
fi
rc=0; "$guard" corosync start >/dev/null 2>&1 || rc=$?
[ "$rc" = 101 ] || say "warning: $guard returns $rc, not 101; services may start"

export DEBIAN_FRONTEND=noninteractive
say "missing: $missing"
say "apt-get update"
apt-get update -q </dev/null || die "apt-get update failed"
say "apt-get install $missing"
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing </dev/null ||
    die "apt-get install failed for: $missing"

still=$(missing_packages | tr '\n' ' ')
[ -z "${still// /}" ] || die "still not installed after apt-get: $still"
say "done: all packages installed"
exit 0
