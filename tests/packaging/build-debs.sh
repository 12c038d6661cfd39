#!/bin/bash
# vmfence - tests/packaging/build-debs.sh: build the Debian packages
# (dpkg-buildpackage -us -uc -b) from a copy of a source tree and put the
# .debs, .changes and .buildinfo into OUTDIR.
#
# Usage: tests/packaging/build-debs.sh [--head] [SRCDIR] OUTDIR
#   SRCDIR   the vmfence tree (default: the one this script is in)
#   --head   build the last commit (git clone) instead of the working tree's
#            files (tracked and untracked, minus .gitignore'd ones)
# The build never runs in SRCDIR: a half-edited or configured tree stays as
# it is, and a configured tree cannot leak into the package. The copy is
# removed afterwards (VF_PKG_KEEP=1 keeps it). Set DEB_BUILD_OPTIONS=nocheck
# to skip the unit tests the build runs (about a third of its time).
# Exit status: 0 built, 1 failed, 2 usage.
set -u
head=0
if [ "${1:-}" = --head ]; then head=1; shift; fi
case $# in
1) src=$(cd "$(dirname "$0")/../.." && pwd); out=$1 ;;
2) src=$1; out=$2 ;;
*) sed -n '2,15p' "$0" >&2; exit 2 ;;
esac
die() { echo "build-debs.sh: ERROR: $*" >&2; exit 1; }
for c in dpkg-buildpackage dh fakeroot git; do
    command -v "$c" >/dev/null 2>&1 ||
        die "$c not found (apt-get install devscripts debhelper fakeroot git)"
done
[ -f "$src/debian/control" ] || die "$src/debian/control not found"
mkdir -p "$out" || die "cannot create $out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/vf-build-debs.XXXXXX) || die "mktemp failed"
# 0755: the build's tests run some programs as other users (ocf-tester)
chmod 755 "$work"
[ -n "${VF_PKG_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir "$work/vmfence"
if [ "$head" = 1 ]; then
    git clone -q "$src" "$work/vmfence" || die "git clone $src failed"
    # debian/ may not be committed yet: take the working tree's
    [ -d "$work/vmfence/debian" ] || cp -r "$src/debian" "$work/vmfence/" || die "cp debian/"
elif git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$src" && git ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do
        [ -e "$f" ] || [ -L "$f" ] || continue       # deleted in the working tree
        printf '%s\0' "$f"
    done | tar -c --null -T - -f -) | tar -x -C "$work/vmfence" || die "copying $src failed"
else
    # not a git checkout (a release tarball): copy it, minus build products
    tar -C "$src" --exclude=./_build -c . | tar -x -C "$work/vmfence" || die "copying $src failed"
fi
echo "build-debs.sh: building in $work/vmfence (log: $out/build.log)"
start=$(date +%s)
if ! (cd "$work/vmfence" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1; then
    tail -40 "$out/build.log" >&2
    die "dpkg-buildpackage failed (full log: $out/build.log)"
fi
# dpkg-buildpackage writes its results next to the source directory
find "$work" -maxdepth 1 -type f \( -name '*.deb' -o -name '*.changes' -o -name '*.buildinfo' \) \
    -exec mv -f {} "$out/" \; || die "moving the packages failed"
grep -E '^dpkg-deb: building|WARNING: ' "$out/build.log" | sed 's/^/  /'
echo "build-debs.sh: done in $(( $(date +%s) - start )) s: $(cd "$out" && ls -- *.deb | tr '\n' ' ')"
