#!/bin/sh
# Install the Debian packages the build, the tests and the benchmarks need (idempotent), then Bun
# (pinned, from the npm package @oven/bun-linux-x64) into build/bun/ for the Syscall User Dispatch
# tests. npm comes from Debian's package unless the installed nodejs brings its own (NodeSource's
# does, and conflicts with Debian's npm). Exits non-zero when something cannot be installed, so a
# machine where `make deps` succeeded runs every test.
set -e
pkgs="build-essential liblmdb-dev libcurl4-openssl-dev libcjson-dev python3 git sqlite3 nodejs
      tar coreutils findutils attr golang-go rsync cpio patch zip unzip perl xz-utils bzip2
      strace valgrind fakeroot eatmydata"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "deps: all packages present"
else
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "deps: installing$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
if ! command -v npm >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "deps: installing npm"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
fi

# ---- Bun, into the build tree (not globally) -------------------------------------------------------
BUN_VERSION=1.4.5
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/build/bun"
if [ "$(uname -m)" != "x86_64" ]; then
    echo "deps: bun: not x86_64, skipped (the SUD tests skip)"
    exit 0
fi
if [ -x "$dest/bin/bun" ] && [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$BUN_VERSION" ]; then
    echo "deps: bun $BUN_VERSION present in build/bun"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "deps: bun: npm not found after installing it" >&2
    exit 1
fi
pkg=@oven/bun-linux-x64
grep -qw avx2 /proc/cpuinfo 2>/dev/null || pkg=@oven/bun-linux-x64-baseline
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "deps: fetching $pkg@$BUN_VERSION"
if (cd "$tmp" && npm pack --silent "$pkg@$BUN_VERSION" >/dev/null 2>"$tmp/npm.err") &&
    tar xzf "$tmp"/*.tgz -C "$tmp" package/bin/bun; then
    rm -rf "$dest"
    mkdir -p "$dest/bin"
    mv "$tmp/package/bin/bun" "$dest/bin/bun"
    chmod 755 "$dest/bin/bun"
    echo "$BUN_VERSION" >"$dest/VERSION"
    echo "deps: bun $("$dest/bin/bun" --version) installed in build/bun"
else
    echo "deps: bun: could not fetch $pkg@$BUN_VERSION (no network?): $(head -c 300 "$tmp/npm.err" 2>/dev/null)" >&2
    exit 1
fi
