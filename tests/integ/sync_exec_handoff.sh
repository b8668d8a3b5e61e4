#!/bin/bash
# A change recorded by a process that then execs is pushed by the image it becomes: a shell's
# `cmd > /sm/f` opens (and records) the file in the forked child before the exec, and a shell's
# own `exec > /sm/f` then `exec cmd` records it in the shell; either way the sync thread that
# would push it dies with the exec. The new image takes the duty over, so the write reaches the
# server by the time the command has exited (it waits at exit, as its own writes would), while
# the shell that ran it is still alive and never touches the prefix itself.
. "$(dirname "$0")/../lib/common.sh"
start_server
export SMSHIM_PULL_INTERVAL=3600 SMSHIM_NOWAIT=0 SMSHIM_EXIT_TIMEOUT=300
"$B/smshim" sync >"$T/sync.out" 2>&1 || { cat "$T/sync.out"; fail "binding the cache"; }
printf 'redirected by the shell\n' >"$T/a"
printf 'the shell became cat\n' >"$T/b"
mkfifo "$T/done" "$T/go"
shim bash -c "cat '$T/a' > /sm/h1.txt; echo > '$T/done'; read x < '$T/go'" &
pid=$!
read -r _ <"$T/done" # cat has exited; the shell lives on
[ "$(srv content /h1.txt 2>&1)" = "redirected by the shell" ] ||
    fail "a command's redirected output under the prefix was not pushed when it ended: $(srv content /h1.txt 2>&1)"
echo >"$T/go"
wait $pid || fail "the shell"
echo "ok - cmd > /sm/f (recorded before the exec): the command's exit pushed it"

shim bash -c "exec > /sm/h2.txt; exec cat '$T/b'"
[ "$(srv content /h2.txt 2>&1)" = "the shell became cat" ] ||
    fail "a file the shell recorded before it exec'd was not pushed: $(srv content /h2.txt 2>&1)"
echo "ok - exec > /sm/f; exec cmd: the new image pushed it"

# the duty goes to the image that replaced the recording one, never further: a child the new
# image starts is not told to push
shim bash -c "exec > /sm/h3.txt; exec env" >/dev/null
grep -q "SMSHIM_SYNC_OWED" "$SMSHIM_CACHE/tree/h3.txt" || fail "the exec'd image was not told it owes the push"
shim bash -c "exec > /sm/h4.txt; exec bash -c 'env; true'" >/dev/null
[ "$(grep -c SMSHIM_SYNC_OWED "$SMSHIM_CACHE/tree/h4.txt")" = 0 ] ||
    fail "a child of the image that took the duty over was told it owes the push too"
srv check "$SMSHIM_CACHE/tree" >"$T/check" || { cat "$T/check"; fail "the server does not hold exactly the tree"; }
echo "ok - only the image that replaced the recording one takes the duty; $(tail -1 "$T/check")"
