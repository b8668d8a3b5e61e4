#!/bin/bash
# GNU tar on the prefix behaves as on a real directory: tar c of a tree under the prefix, tar x
# into the prefix (of archives made under the prefix and of one made from a real directory), -C,
# czf/xzf, t listings, d (compare archive with the filesystem), and no "file changed as we read
# it" warning. Archives holding hard links: tests/integ/hardlinks.sh.
. "$(dirname "$0")/../lib/common.sh"
need tar gzip

# Run every scenario even when one fails; the test fails at the end, naming them all.
FAILED=()
check() { (parity "$@") || FAILED+=("$1"); }

# Archives are made reproducible so that their bytes (which the tree comparison hashes) are the
# same in both runs: names sorted (readdir order is not a property of the directory's content),
# every mtime pinned with touch (the runs happen at different times), fixed owner names. The
# uid/gid are the test user's in both runs. gzip gets -n: its header otherwise holds the time.
export TARD="--sort=name --owner=0 --group=0 --numeric-owner --format=gnu"
export GZIP_N="gzip -n"

# A source tree made in a real directory, outside the prefix, archived once: both runs extract
# the same archive into their work directory.
S="$T/src"
mkdir -p "$S/top/sub/deeper" "$S/top/empty" "$S/top/private"
printf 'hello\n' >"$S/top/a.txt"
seq 1 5000 >"$S/top/sub/numbers"
printf '#!/bin/sh\necho run\n' >"$S/top/sub/run.sh" && chmod 755 "$S/top/sub/run.sh"
printf 'secret\n' >"$S/top/private/key" && chmod 600 "$S/top/private/key" && chmod 700 "$S/top/private"
head -c 300000 /dev/urandom >"$S/top/sub/deeper/blob.bin"
ln -s sub/numbers "$S/top/link-to-numbers"
ln -s ../a.txt "$S/top/sub/up-link"
long=$(printf 'n%.0s' $(seq 1 120))
mkdir -p "$S/top/$long" && printf 'long name\n' >"$S/top/$long/$long.txt"
: >"$S/top/empty-file"
find "$S" -exec touch -h -d @1600000000 {} +
(cd "$S" && tar cf "$T/src.tar" $TARD top) || fail "tar c of the real source"
export SRC_TAR="$T/src.tar"

# The tree-building snippet every scenario starts from (plain files, a symlink, modes, a big
# file, an empty dir, times pinned).
export MKTREE='
mkdir -p t/d1/d2 t/empty t/x
printf "one\n" > t/f1 && printf "two\n" > t/d1/f2 && seq 1 20000 > t/d1/d2/big
printf "#!/bin/sh\n" > t/x/tool && chmod 750 t/x/tool && chmod 640 t/f1
ln -s d1/f2 t/rel-link
find t -exec touch -h -d @1500000000 {} +
'

# tar c of a tree in the prefix, listing, extraction into the prefix, compare (tar d).
check create_extract '
eval "$MKTREE"
tar cf a.tar $TARD t 2>err; echo "tar c rc=$?"; cat err
grep -c "file changed as we read it" err
tar tf a.tar
tar tvf a.tar | awk "{print \$1, \$3, \$4, \$5, \$6, \$7, \$8}"
mkdir out && tar xf a.tar -C out; echo "tar x rc=$?"
diff -r t out/t && echo same
tar df a.tar -C out; echo "tar d rc=$?"
find out -mindepth 1 -printf "%p %y %m %s %T@\n" | sort
cat out/t/rel-link
'

# tar c under the prefix run from a cwd outside it, with -C pointing into the prefix, twice:
# the two archives must be identical (tar reads the tree consistently), and no warnings.
check c_with_C_from_outside '
eval "$MKTREE"
cd / && tar -C "$W" -cf "$W/one.tar" $TARD t 2>"$W/err1"; echo "rc=$?"
cd /tmp && tar -C "$W/t" -cf "$W/two.tar" $TARD . 2>"$W/err2"; echo "rc=$?"
cd "$W"
cat err1 err2; grep -c "file changed as we read it" err1 err2
tar tf one.tar; tar tf two.tar
tar -C "$W/t" -cf - $TARD . | cmp - two.tar && echo stream-equal
mkdir x1 x2
tar -C "$W/x1" -xf "$W/one.tar"; echo "rc=$?"
cd / && tar -xf "$W/two.tar" -C "$W/x2"; echo "rc=$?"; cd "$W"
diff -r x1/t x2 && echo same
'

# tar x into the prefix of an archive made from a real directory (outside the prefix), with
# modes, a 0700 directory, symlinks, names longer than 100 bytes, an empty file.
check extract_real_archive '
tar xf "$SRC_TAR"; echo "rc=$?"
tar df "$SRC_TAR"; echo "tar d rc=$?"
find top -printf "%p %y %m %s %T@ %l\n" | sort
sha256sum top/sub/deeper/blob.bin top/sub/numbers | awk "{print \$1}"
top/sub/run.sh
cat top/sub/up-link | wc -c
tar tvf "$SRC_TAR" | awk "{print \$1, \$3, \$6}" | sort
'

# Extract again over an existing tree (tar unlinks and replaces), --keep-old-files refusing,
# --skip-old-files, --strip-components, extracting one member, -O to stdout.
check extract_over_existing '
tar xf "$SRC_TAR"
echo changed > top/a.txt
tar xf "$SRC_TAR"; echo "rc=$?"; cat top/a.txt
echo changed > top/a.txt
tar xkf "$SRC_TAR" top/a.txt 2>&1 | sed "s/^[^:]*tar: /tar: /"; echo "k rc=${PIPESTATUS[0]}"
tar xf "$SRC_TAR" --skip-old-files top/a.txt; echo "skip rc=$?"; cat top/a.txt
mkdir stripped && tar xf "$SRC_TAR" -C stripped --strip-components=2 top/sub; echo "rc=$?"
ls -la stripped | awk "NR>1 {print \$1, \$5, \$9, \$10, \$11}"
tar xOf "$SRC_TAR" top/sub/numbers | tail -1
tar xf "$SRC_TAR" --to-stdout top/private/key
'

# czf / xzf and the j/J-less gzip pipeline; the archive bytes are compared by the tree check.
check gzip '
eval "$MKTREE"
tar cf - $TARD t | gzip -n > t.tar.gz; echo "rc=${PIPESTATUS[*]}"
tar czf t2.tgz $TARD t 2>err; echo "czf rc=$?"; cat err
gzip -dc t2.tgz | cmp - <(gzip -dc t.tar.gz) && echo same-content
tar tzf t.tar.gz
mkdir z1 z2 && tar xzf t.tar.gz -C z1 && tar -xz -f t2.tgz -C z2; echo "xzf rc=$?"
diff -r z1 z2 && diff -r t z1/t && echo same
tar -I "$GZIP_N" -cf t3.tar.gz $TARD t && cmp t3.tar.gz t.tar.gz && echo same-bytes
rm t2.tgz
'

# Pipes between two tars (copy a tree within the prefix), and from the prefix to a real
# directory and back.
check pipe_copy '
eval "$MKTREE"
mkdir copy && (cd t && tar cf - .) | (cd copy && tar xpf -); echo "rc=$?"
diff -r t copy && echo same
find copy -printf "%p %y %m %s %T@\n" | sort
R=$(mktemp -d /tmp/smshim-tar-real.XXXXXX)
tar cf - t | tar xf - -C "$R"; diff -r t "$R/t" && echo same-out
tar -C "$R" -cf - t | tar -C copy -xf -; diff -r t copy/t && echo same-back
rm -rf "$R"
find copy/t -printf "%p %y %m %s %T@\n" | sort
'

# Absolute symlinks into the work directory (their target names $W, which differs between the
# runs, so these archives are removed once listed), -h (follow links), r (append), u (update:
# compares the member's mtime with the file's) and --remove-files.
check links_append_update '
eval "$MKTREE"
ln -s "$W/t/d1/f2" t/abs-link
tar cf abs.tar $TARD t/abs-link t/rel-link && tar tvf abs.tar | awk "{print \$1, \$6, \$7, \$8}"
mkdir ax && tar xf abs.tar -C ax && readlink ax/t/abs-link && cat ax/t/abs-link
tar chf deref.tar --hard-dereference $TARD t/abs-link t/rel-link && tar tvf deref.tar | awk "{print \$1, \$3, \$6}"
mkdir dx && tar xf deref.tar -C dx && ls -l dx/t | awk "NR>1 {print \$1, \$5, \$9}"
rm abs.tar deref.tar ax/t/abs-link t/abs-link
tar cf u.tar $TARD t/f1
printf "appended\n" > extra && touch -d @1500000000 extra
tar rf u.tar extra; echo "r rc=$?"; tar tf u.tar
tar uf u.tar t/f1; echo "u rc=$?"; tar tf u.tar | wc -l
printf "newer\n" > t/f1 && touch -d @1500000100 t/f1
tar uf u.tar t/f1; echo "u rc=$?"; tar tf u.tar
mkdir ux && tar xf u.tar -C ux && cat ux/t/f1 ux/extra
tar cf rm.tar $TARD --remove-files t/d1; echo "rm rc=$?"; ls t; tar tf rm.tar
'

# Special members: a FIFO, a sparse file (-S), absolute member names (-P: the archive names $W,
# so it is removed once used), a read-only directory tar must fill before fixing its mode.
check special_members '
mkdir -p s/ro && mkfifo s/fifo && truncate -s 5M s/sparse && printf "end" >> s/sparse
printf "inside\n" > s/ro/f && chmod 555 s/ro
find s -exec touch -h -d @1500000000 {} +
tar cSf sp.tar $TARD s; echo "rc=$?"; tar tvf sp.tar | awk "{print \$1, \$3, \$6}"
mkdir x && tar xSf sp.tar -C x; echo "rc=$?"
find x -mindepth 1 -printf "%p %y %m %s %T@\n" | sort
tail -c 3 x/s/sparse; echo; cmp s/sparse x/s/sparse && echo same-sparse
tar cPf abs.tar "$W/s/ro" 2>&1; echo "rc=$?"; tar tPf abs.tar
chmod 755 s/ro && rm -r s/ro && tar xPf abs.tar; echo "rc=$?"; cat "$W/s/ro/f"; stat -c "%a" s/ro
rm abs.tar
'

# --listed-incremental: a level-1 archive holds only what changed since level 0, which needs the
# device and inode numbers tar reads back to be stable between runs of tar. The snapshot file
# records those numbers (different in every directory), and incremental archives hold each
# file's atime and ctime (which touch cannot pin), so they are removed once compared by listing
# and by restoring.
check incremental '
eval "$MKTREE"
tar cf l0.tar $TARD -g snap t; echo "l0 rc=$?"; tar tf l0.tar
cp snap snap0
tar cf same.tar $TARD -g snap t; echo "same rc=$?"; tar tf same.tar | grep -v /$
printf "changed\n" > t/d1/f2 && touch -d @1500000200 t/d1/f2 && printf "new\n" > t/d1/new && rm t/f1
tar cf l1.tar $TARD -g snap0 t; echo "l1 rc=$?"; tar tf l1.tar | grep -v /$
mkdir r && tar xf l0.tar -g /dev/null -C r && tar xf l1.tar -g /dev/null -C r; echo "restore rc=$?"
diff -r t r/t && echo same
rm snap snap0 l0.tar same.tar l1.tar
'

[ ${#FAILED[@]} = 0 ] || fail "parity failed: ${FAILED[*]}"

# tar c while the tree is under the prefix must not warn that a file or directory changed as
# it was read; checked directly here too (beyond the output comparison of parity).
shim bash -c 'mkdir -p /sm/warn/d && seq 1 100000 > /sm/warn/d/f && for i in $(seq 1 50); do echo $i > /sm/warn/d/s$i; done' \
    || fail "warn: setup"
out=$(shim tar -C /sm -cf "$T/warn.tar" warn 2>&1) || fail "warn: tar c failed: $out"
case "$out" in *"changed as we read"*|*"file changed"*) fail "warn: tar c warned: $out" ;; esac
[ -z "$out" ] || fail "warn: tar c printed: $out"
[ "$(tar tf "$T/warn.tar" | wc -l)" = 53 ] || fail "warn: archive has $(tar tf "$T/warn.tar" | wc -l) members"
echo "ok - tar c under the prefix does not warn"
