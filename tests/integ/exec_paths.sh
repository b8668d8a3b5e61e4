#!/bin/bash
# Programs under the prefix run as from a real directory: `smshim run` finds a command there (by
# path and through PATH), a #! interpreter that is itself a script there is run in turn, and a
# script whose interpreter is under the prefix runs wherever it lies and however it is named (a
# path relative to a directory under the prefix, a script outside the prefix; exec and spawn);
# a FIFO with execute permission is refused, as the kernel does, without blocking the exec.
. "$(dirname "$0")/../lib/common.sh"
# the scripts name their interpreters by absolute path, so the two trees differ in bytes: compare
# the outputs only
nested='
mkdir -p "$W/bin"
printf "#!/bin/sh\necho interp \$0 \"\$@\"\n" > "$W/bin/interp"
printf "#!$W/bin/interp -x\nbody\n" > "$W/bin/s"
printf "#!$W/bin/s\n" > "$W/bin/s2"
chmod +x "$W/bin/interp" "$W/bin/s" "$W/bin/s2"
"$W/bin/s" a b; echo "rc=$?"
"$W/bin/s2" c; echo "rc=$?"
PATH="$W/bin:$PATH" s d; echo "rc=$?"
cd "$W" && bin/s e; echo "rc=$?"
"$PY" -c "import subprocess; subprocess.run([\"bin/s2\", \"f\"])"; echo "rc=$?"
"$PY" -c "import os; os.waitpid(os.posix_spawn(\"bin/s\", [\"bin/s\", \"g\"], os.environ), 0)"
printf "#!$W/bin/s\n" > "$O/outside"; chmod +x "$O/outside"
"$O/outside" h; echo "rc=$?"
"$PY" -c "import os, sys; os.waitpid(os.posix_spawn(sys.argv[1], [sys.argv[1], \"i\"], os.environ), 0)" "$O/outside"
printf "#!$W/bin/missing\n" > "$O/broken"; chmod +x "$O/broken"
"$O/broken" 2>/dev/null; echo "rc=$?"
cd "$W/bin" && PATH=".:$PATH" s j; echo "rc=$?"
# a FIFO named as a program: the kernel refuses it (EACCES), and nothing blocks on opening it
mkfifo "$W/bin/fifo" "$O/fifo" && chmod +x "$W/bin/fifo" "$O/fifo"
for f in "$W/bin/fifo" "$O/fifo"; do # (bash itself opens a file it could not run, and blocks)
    "$PY" -c "import os, subprocess, sys
for run in (lambda: subprocess.run([sys.argv[1]]), lambda: os.posix_spawn(sys.argv[1], [sys.argv[1]], os.environ)):
    try: run()
    except OSError as e: print(\"fifo:\", e.strerror)" "$f"
done
'
mkdir -p "$T/real" "$T/out-real" "$T/out-virt"
(W="$T/real" O="$T/out-real" PY="$PY" bash -c "$nested") 2>&1 |
    sed -e "s#$T/real#\$W#g" -e "s#$T/out-real#\$O#g" >"$T/nested.real"
shim env W=/sm/nested O="$T/out-virt" PY="$PY" bash -c "$nested" 2>&1 |
    sed -e "s#/sm/nested#\$W#g" -e "s#$T/out-virt#\$O#g" >"$T/nested.virt"
diff "$T/nested.real" "$T/nested.virt" || fail "nested interpreters differ (< real, > shim)"
shim mkdir -p /sm/bin
shim bash -c 'printf "#!/bin/sh\necho tool \$0 \$1\n" > /sm/bin/tool; chmod +x /sm/bin/tool'
shim cp /bin/true /sm/bin/elf
out=$("$B/smshim" run -- /sm/bin/tool a 2>&1) || fail "smshim run -- /sm/bin/tool: exit $?: $out"
[ "$out" = "tool /sm/bin/tool a" ] || fail "smshim run -- /sm/bin/tool: $out"
out=$(PATH="/sm/bin:$PATH" "$B/smshim" run -- tool b 2>&1) || fail "smshim run -- tool (PATH): $out"
[ "$out" = "tool /sm/bin/tool b" ] || fail "smshim run -- tool (PATH): $out"
"$B/smshim" run -- /sm/bin/elf || fail "smshim run -- /sm/bin/elf: exit $?"
rc=0; "$B/smshim" run -- /sm/bin/missing 2>/dev/null || rc=$?
[ "$rc" = 127 ] || fail "smshim run -- /sm/bin/missing: exit $rc, not 127"
echo "ok - commands and nested interpreters under the prefix run"
