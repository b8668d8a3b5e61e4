#!/bin/bash
# Programs under the prefix run as from a real directory: `smshim run` finds a command there (by
# path and through PATH), and a #! interpreter that is itself a script there is run in turn.
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
'
mkdir -p "$T/real"
(W="$T/real" bash -c "$nested") 2>&1 | sed "s#$T/real#\$W#g" >"$T/nested.real"
shim env W=/sm/nested bash -c "$nested" 2>&1 | sed "s#/sm/nested#\$W#g" >"$T/nested.virt"
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
