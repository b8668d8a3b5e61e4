#!/bin/bash
# The exec and spawn wrappers work for any environment size the kernel takes and on a thread of
# the smallest stack (PTHREAD_STACK_MIN, 16 KiB): an environment of 5,000 more variables reaches
# the programs of posix_spawn, posix_spawnp and execve (from fork and vfork children) whole, with
# the shim's own; execs from vfork children leave nothing mapped in their parent; a 16 KiB thread
# spawns (posix_spawn, posix_spawnp) and execs from a fork child, and spawns with LD_LIBRARY_PATH
# under the prefix (the child gets the loader's audit module, and the spawn reads the static TLS
# the program's libraries take), also of a program under the prefix. tests/prog/spawnenv.c.
. "$(dirname "$0")/../lib/common.sh"
shim mkdir -p /sm/se
shim cp "$(command -v env)" /sm/se/env
out=$(shim "$B/tests/spawnenv" "$(command -v env)" /sm/se/env 2>&1) || fail "$out"
echo "$out"
