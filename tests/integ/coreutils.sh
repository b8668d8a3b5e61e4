#!/bin/bash
# coreutils, find and du on the prefix behave as on a real directory.
. "$(dirname "$0")/../lib/common.sh"

parity mkdir_cp_mv_rm '
mkdir -p a/b/c d && echo one > a/b/c/f1 && printf "two\n2\n" > a/f2
cp -r a e && cp -a a g && mv e/f2 e/f3 && mv g h && rm -r h/b
ls -R . && cat e/b/c/f1 e/f3
touch -d "2020-01-02 03:04:05" a/f2 && find . -newer a/f2 -type f | sort
truncate -s 10 a/f2 && wc -c a/f2 && sha256sum a/b/c/f1
ln -s b/c a/link && ls a/link/ && readlink a/link && cat a/link/f1
ln -s "$W/a/f2" abs && cat abs | wc -c && readlink abs
find . -size +0 -type f -exec wc -c {} + | sort
du -a --apparent-size . | sort -k2 | awk "{print \$2}"
ls -l a | awk "{print \$1, \$2, \$5, \$9, \$10, \$11}"
rm -r a && ls
'
