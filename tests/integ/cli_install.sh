#!/bin/bash
# make install PREFIX=/usr/local DESTDIR=...: the CLI, the library and the man page; the installed
# `smshim run` finds the installed library; `man -l` renders the page without a warning; make
# uninstall removes everything it installed.
. "$(dirname "$0")/../lib/common.sh"
need make install man groff
D="$T/destdir"
args=(-s -C "$SRC" DESTDIR="$D" PREFIX=/usr/local)
if [ -n "${SMSHIM_SAN:-}" ]; then args+=(SAN="$SMSHIM_SAN" BUILD="$(dirname "$B")"); else args+=(BUILD="$B"); fi
make "${args[@]}" install >"$T/install.out" 2>&1 || { cat "$T/install.out"; fail "make install"; }
for f in bin/smshim lib/smshim/libsmshim.so share/man/man1/smshim.1; do
    [ -f "$D/usr/local/$f" ] || fail "make install did not install $f"
done
[ -x "$D/usr/local/bin/smshim" ] || fail "the installed smshim is not executable"
echo "ok - make install into DESTDIR"

out=$("$D/usr/local/bin/smshim" run -- sh -c 'echo installed > /sm/i.txt && cat /sm/i.txt && echo "$LD_PRELOAD"') ||
    fail "the installed smshim run failed"
echo "$out"
[ "$(echo "$out" | head -1)" = installed ] || fail "the installed smshim run does not see the virtual directory"
echo "$out" | tail -1 | tr ':' '\n' | grep -qx "$D/usr/local/lib/smshim/libsmshim.so" ||
    fail "the installed smshim run does not preload the installed library"
echo "ok - the installed smshim run finds the installed library"

MANWIDTH=80 man -l "$D/usr/local/share/man/man1/smshim.1" >"$T/man.out" 2>"$T/man.err" || fail "man -l failed"
[ ! -s "$T/man.err" ] || { cat "$T/man.err"; fail "man -l printed warnings"; }
groff -man -Tutf8 -ww -z "$D/usr/local/share/man/man1/smshim.1" 2>"$T/groff.err"
[ ! -s "$T/groff.err" ] || { cat "$T/groff.err"; fail "groff warns about the page"; }
for w in run status sync grep login logout whoami logs SUPERMEMORY_API_KEY SMSHIM_CACHE credentials.json LIMITS GUARANTEES; do
    grep -q "$w" "$T/man.out" || fail "the man page does not mention $w"
done
echo "ok - man -l renders smshim(1) cleanly"

make "${args[@]}" uninstall >"$T/uninstall.out" 2>&1 || { cat "$T/uninstall.out"; fail "make uninstall"; }
left=$(find "$D" -type f)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "ok - make uninstall removes what was installed"
