#!/bin/bash
# The test server (tests/server/smserver.py) follows api.md, faults included.
. "$(dirname "$0")/../lib/common.sh"
"$PY" "$SRC/tests/server/selftest.py"
