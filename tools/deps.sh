#!/bin/sh
# Install the Debian packages the build, the tests and the benchmarks need (idempotent).
set -e
pkgs="build-essential liblmdb-dev libcurl4-openssl-dev libcjson-dev python3 git sqlite3 nodejs
      tar coreutils findutils"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "deps: all packages present"
    exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "deps: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
