#!/bin/bash
# git in the prefix behaves as in a real directory: init, add, commit, status, log, branch,
# checkout, diff, merge, stash, detached checkout of an earlier commit, gc/repack, fsck; clones
# from a real directory into the prefix, prefix to prefix (local path, file://, --shared, bare,
# push/pull), prefix to a real directory; worktrees, clean, archive, bundle and submodules.
#
# What is compared: every command's output (the parity harness) and the resulting trees. Inside
# .git a few files legitimately differ between two runs and are normalised before the trees are
# compared (see gitnorm below); everything else in .git (objects, packs, refs, reflogs, config,
# hooks) must be byte-identical, and the working trees must match exactly.
. "$(dirname "$0")/../lib/common.sh"
need git tar sha256sum

# Reproducible commits: fixed identity and dates, no user or system configuration.
mkdir -p "$T/home"
export HOME="$T/home" XDG_CONFIG_HOME="$T/home/.config" GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=Tester GIT_AUTHOR_EMAIL=tester@example.com
export GIT_COMMITTER_NAME=Tester GIT_COMMITTER_EMAIL=tester@example.com
export GIT_AUTHOR_DATE="2021-02-03T04:05:06Z" GIT_COMMITTER_DATE="2021-02-03T04:05:06Z"
export TZ=UTC LC_ALL=C GIT_PAGER=cat PAGER=cat
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE

# A source repository in a real directory (outside the prefix) for the "real -> prefix" clone.
SRCREPO="$T/src-repo"
git init -q -b main "$SRCREPO"
(cd "$SRCREPO" && mkdir -p lib && echo "source readme" >README && echo "x = 1" >lib/x.py &&
    git add . && git commit -q -m "source: first" && echo "y = 2" >lib/y.py && git add . &&
    git commit -q -m "source: second" && git tag v1)
export SRCREPO

# Common helpers for both runs (exported as a file the scenario sources).
cat >"$T/gitlib.sh" <<'LIB'
# gitstate DIR: what a repository holds, independent of stat data: refs, the index's entries
# (mode, object, stage, path), status, HEAD, an fsck of every object, and the object count.
gitstate() {
    echo "== state of $1"
    git -C "$1" rev-parse HEAD
    git -C "$1" symbolic-ref -q HEAD || echo "(detached)"
    git -C "$1" for-each-ref --format='%(refname) %(objectname) %(objecttype)'
    git -C "$1" ls-files -s
    git -C "$1" status --porcelain=v1 --untracked-files=all
    git -C "$1" fsck --full --strict --no-dangling 2>&1
    echo "fsck exit $?"
    git -C "$1" count-objects -v | grep -E '^(count|in-pack|packs|garbage)'
}
# gitnorm DIR: after gitstate has printed what they mean, normalise the files of DIR's git
# directory that legitimately differ between the real run and the shim run:
#  - the index caches stat data (ctime, mtime, inode, device) of the working files, which differ
#    between any two directories: it is removed (its entries were compared by `ls-files -s`);
#  - config, reflogs and FETCH_HEAD name other repositories by absolute path ("clone: from $W/x",
#    url = $W/x), and $W is a different string in the two runs: each file is printed first (the
#    harness maps both work directories to $W, so a cache-tree path leaking in would differ),
#    then $W is replaced by a placeholder so the files compare byte for byte;
#  - a local clone hard-links loose objects (mode 0444, shared with the source); hard links
#    under the prefix fail with EXDEV (README, Limits) and git falls back to copying them with
#    mode 0666 & ~umask, as it does across file systems. Object modes are set to 0444 in both.
gitnorm() {
    local g="$1/.git" f
    [ -d "$g" ] || g="$1"
    rm -f "$g/index"
    for f in config FETCH_HEAD packed-refs $(cd "$g" && find logs -type f 2>/dev/null | sort); do
        [ -f "$g/$f" ] || continue
        echo "-- $1: $f"
        cat "$g/$f"
        sed -i "s#$W#@W@#g" "$g/$f"
    done
    find "$g/objects" -type f -exec chmod 0444 {} +
}
LIB
export GITLIB="$T/gitlib.sh"

# Both runs failing the same way would still be "parity": every scenario ends by printing
# SCENARIO-END, and the real run must have printed it (the whole scenario ran).
completed() {
    grep -qx "SCENARIO-END" "$T/$1.real.out" || fail "$1: the scenario did not run to its end"
}

parity git_basic '
. "$GITLIB"
git init -q -b main repo && cd repo
git config --local --list
git rev-parse --show-toplevel --git-dir --absolute-git-dir
mkdir -p src/pkg docs
printf "line 1\nline 2\nline 3\n" > src/pkg/mod.c
printf "# title\n" > docs/README.md
printf "bin\n*.o\n" > .gitignore
echo obj > src/pkg/mod.o
chmod +x docs/README.md
git status --porcelain=v1 --untracked-files=all
git add -A && git status --porcelain
git commit -q -m "first commit" && git log --oneline
git status --porcelain && echo "clean: $?"
git checkout -q -b feature
printf "line 1\nline two\nline 3\nline 4\n" > src/pkg/mod.c
echo new > src/new.txt
git diff
git diff --stat
git status --porcelain=v1 --untracked-files=all
git add src/new.txt && git commit -q -am "second commit"
git log --oneline --all
git diff HEAD~1 HEAD --stat
git show --stat --format="%H %an <%ae> %ad %s" HEAD
git checkout -q main && ls -R src && cat src/pkg/mod.c
git branch -a
git merge -q --no-ff -m "merge feature" feature && git log --oneline --graph --all
git mv docs/README.md docs/INDEX.md && git rm -q src/new.txt && git commit -q -m "third commit"
git tag -a -m "release 1" v1 && git describe
git checkout -q HEAD~2 && git status --porcelain=v2 --branch | head -1
ls -R . | grep -v "^$" && cat src/pkg/mod.c && test ! -e src/new.txt && echo "earlier tree ok"
git checkout -q main && test -f docs/INDEX.md && echo "back on main"
echo stash-me >> src/pkg/mod.c && git stash -q && git diff --stat && git stash pop -q && git diff --stat
git checkout -- src/pkg/mod.c && git status --porcelain
git gc -q && ls .git/objects/pack | sed "s/pack-[0-9a-f]*/pack-H/" | sort
git count-objects -v | grep -E "^(count|in-pack|packs)"
git verify-pack -v .git/objects/pack/*.idx | grep -c -E "commit|tree|blob|tag"
git repack -q -a -d && git prune && git fsck --full --strict
cd ..
gitstate repo
gitnorm repo
echo SCENARIO-END
'
completed git_basic

parity git_clone '
. "$GITLIB"
# real directory -> here (git tries hard links first; in the prefix they fail with EXDEV and
# git falls back to copying, which must give the same repository)
git clone -q "$SRCREPO" from-real
git -C from-real log --oneline --decorate
git -C from-real config remote.origin.url
cat from-real/lib/y.py
gitstate from-real
# here -> here, by local path (hard link or copy of .git/objects)
git clone -q from-real copy-local
git -C copy-local config remote.origin.url
git -C copy-local log --oneline
# here -> here through the file:// transport (pack-objects | index-pack)
git clone -q --no-local "file://$W/from-real" copy-url
git -C copy-url config remote.origin.url
git -C copy-url log --oneline
# --shared: the clone borrows the objects of the source through an absolute path in
# objects/info/alternates, which git writes and later opens itself
git clone -q --shared from-real shared && cat shared/.git/objects/info/alternates
git -C shared count-objects -v | grep -E "^(count|in-pack)" && git -C shared cat-file -p HEAD:lib/y.py
git -C shared fsck --strict && git -C shared repack -q -a -d && rm shared/.git/objects/info/alternates
git -C shared fsck --strict && git -C shared log --oneline && echo "shared clone ok"
# work in a clone, push back to a bare clone, fetch from it
git clone -q --bare from-real bare.git
cd copy-local && echo "z = 3" > lib/z.py && git add lib/z.py && git commit -q -m "clone: third"
git push -q ../bare.git HEAD:main && cd ..
git -C bare.git log --oneline main
git -C from-real pull -q --ff-only "$W/bare.git" main && git -C from-real log --oneline
cd "$W"
for r in from-real copy-local copy-url; do gitstate $r; done
git -C bare.git fsck --full --strict && echo "bare fsck ok"
# here -> a real directory outside the prefix (the source is read through the shim)
OUT=$(mktemp -d "$T/out-clone.XXXXXX")
git clone -q "$W/copy-local" "$OUT/c" && git -C "$OUT/c" config remote.origin.url
(cd "$OUT" && gitstate c) && cat "$OUT/c/lib/z.py" && rm -rf "$OUT"
for r in from-real copy-local copy-url bare.git shared; do gitnorm $r; done
echo SCENARIO-END
'
completed git_clone

parity git_worktree '
. "$GITLIB"
git init -q -b main wt-repo && cd wt-repo
echo a > a && mkdir d && echo b > d/b && git add . && git commit -q -m base && git branch side
# a linked worktree stores absolute paths both ways: they must name $W, not the cache
git worktree add -q ../wt side && git worktree list --porcelain
cat ../wt/.git .git/worktrees/wt/gitdir
cd ../wt && echo c > c && git add c && git commit -q -m "on side"
git rev-parse --show-toplevel --git-common-dir --absolute-git-dir && cd ../wt-repo
git log --oneline side && git worktree remove ../wt && git worktree list | wc -l && ls ..
# clean removes untracked and ignored files and directories
echo junk > junk && mkdir -p build/x && echo o > build/x/o && echo "build/" > .git/info/exclude
git clean -n -d && git clean -q -fdx && git status --porcelain --ignored && ls
# archive and bundle: byte-identical outputs for fixed dates
git archive --format=tar --prefix=p/ -o ../a.tar side && tar tf ../a.tar && sha256sum ../a.tar | cut -c1-16
git bundle create -q ../r.bundle --all && git bundle verify -q ../r.bundle && echo "bundle ok"
git clone -q ../r.bundle ../from-bundle && git -C ../from-bundle log --oneline --all
# a submodule: its .git is a file naming the module directory inside the superproject
git init -q -b main ../subrepo && git -C ../subrepo commit -q --allow-empty -m "sub: init"
echo s > ../subrepo/s.txt && git -C ../subrepo add s.txt && git -C ../subrepo commit -q -m "sub: file"
git -c protocol.file.allow=always submodule add -q ../subrepo mods/sub && cat .gitmodules mods/sub/.git
git commit -q -m "add submodule" && git submodule status && cat mods/sub/s.txt
git -C mods/sub rev-parse --show-toplevel --git-dir --show-superproject-working-tree
cd .. && rm -rf sm-clone && git -c protocol.file.allow=always clone -q --recurse-submodules wt-repo sm-clone
git -C sm-clone submodule status && cat sm-clone/mods/sub/s.txt && git -C sm-clone/mods/sub log --oneline
gitstate wt-repo && gitstate from-bundle && gitstate sm-clone && gitstate subrepo
for r in wt-repo from-bundle sm-clone subrepo wt-repo/.git/modules/mods/sub sm-clone/.git/modules/mods/sub; do gitnorm $r; done
echo SCENARIO-END
'
completed git_worktree
