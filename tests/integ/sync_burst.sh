#!/bin/bash
# The crawl burst: 16 workers replay a crawl (177 files in ~92 directories, mkdir -p + one whole
# write each) into the prefix with the server at 0, 200 and 1000 ms latency, as threads and as
# processes. 0 errors, the same tree and sha256 as the same replay into a real directory, and
# after `smshim sync` the server holds exactly one document per file with the same content.
# The cache's request budget holds throughout: the server never has more than 8 uploads of it in
# flight, though the crawl's processes end without waiting for their queue and `smshim sync`
# then drains it (a process that ends with uploads in flight waits for their answers, or leaves
# their slots taken until the requests' deadlines); at 1000 ms the drain fills the budget, so the
# bound is reached, not merely kept by a light load.
. "$(dirname "$0")/../lib/common.sh"
"$PY" "$SRC/tests/lib/crawl.py" --dest "$T/real" >/dev/null
manifest "$T/real" >"$T/real.man"
run=0
for lat in 0 200 1000; do
    for mode in threads procs; do
        run=$((run + 1))
        export SMSHIM_CACHE="$T/cache-$run" SMSHIM_TAG="burst$run"
        start_server --latency-ms "$lat"
        flag=""; [ "$mode" = procs ] && flag=--procs
        # the crawl's own processes do not wait for uploads at exit (smshim sync drains)
        SMSHIM_NOWAIT=1 shim "$PY" "$SRC/tests/lib/crawl.py" --dest /sm/docs $flag | tee "$T/crawl.$run"
        grep -q ", 0 errors," "$T/crawl.$run" || fail "latency $lat ms, $mode: errors in the crawl"
        left=$(srv stats inflight_uploads)
        shim "$PY" "$SRC/tests/lib/manifest.py" /sm/docs >"$T/virt.man"
        cmp -s "$T/real.man" "$T/virt.man" || fail "latency $lat ms, $mode: tree differs from the real directory"
        "$B/smshim" sync >/dev/null 2>"$T/sync.err" || { cat "$T/sync.err"; fail "latency $lat ms, $mode: smshim sync failed"; }
        # remote filepaths are the paths below the prefix (/docs/...)
        srv check "$SMSHIM_CACHE/tree" "burst$run" >"$T/check.$run" ||
            { cat "$T/check.$run"; fail "latency $lat ms, $mode: the server does not hold exactly one document per file"; }
        max=$(srv stats max_inflight_uploads)
        [ "$max" -le 8 ] || fail "latency $lat ms, $mode: $max uploads in flight at once"
        [ "$lat" != 1000 ] || [ "$max" -eq 8 ] || fail "latency $lat ms, $mode: the drain never had 8 uploads in flight ($max)"
        echo "ok - latency $lat ms, $mode: $(tail -1 "$T/check.$run"), max $max in flight ($left when the crawl ended)"
        kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true
    done
done
