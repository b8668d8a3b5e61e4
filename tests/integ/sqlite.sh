#!/bin/bash
# SQLite in the prefix behaves as in a real directory: the sqlite3 CLI creates a database,
# inserts in several transactions in rollback-journal (DELETE, TRUNCATE, PERSIST) and WAL mode,
# with the journal / -wal / -shm files visible while a transaction is open; python3's sqlite3
# module works on the same file (also concurrently with the CLI, through fcntl locks and the
# shared-memory -shm mapping); VACUUM, VACUUM INTO, .backup, ATTACH by absolute path, read-only
# URIs, integrity_check.
#
# The database bytes are compared too (by the tree check of parity): SQLite writes no time, pid
# or random value into the main database file, so the same statements give the same bytes in two
# real directories. (The WAL header holds random salts, but every scenario ends with the last
# connection closed, which checkpoints and removes -wal and -shm.)
. "$(dirname "$0")/../lib/common.sh"
need sqlite3
export PY SQLITE=/usr/bin/sqlite3
[ -x "$SQLITE" ] || skip "$SQLITE is not installed"
"$PY" -c "import sqlite3" 2>/dev/null || skip "python3 has no sqlite3 module"

FAILED=()
check() { (parity "$@") || FAILED+=("$1"); }

# The CLI in rollback-journal mode: several transactions, a rollback, the journal present while
# a write transaction is open (listed with .shell, a child of sqlite3 with its cwd in $W).
check cli_journal '
"$SQLITE" test.db <<"SQL"
PRAGMA journal_mode=DELETE;
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL, v REAL, blob BLOB);
CREATE INDEX t_name ON t(name);
BEGIN;
INSERT INTO t(name, v) VALUES ("alpha", 1.5), ("beta", 2.5);
.shell ls
COMMIT;
.shell ls
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000)
INSERT INTO t(name, v, blob) SELECT "row" || x, x * 0.25, zeroblob(x % 300) FROM c;
COMMIT;
BEGIN;
DELETE FROM t WHERE id % 3 = 0;
UPDATE t SET v = -v WHERE id % 7 = 0;
ROLLBACK;
BEGIN;
DELETE FROM t WHERE id % 5 = 0;
UPDATE t SET name = upper(name) WHERE id < 10;
COMMIT;
SELECT count(*), sum(id), sum(v), sum(length(blob)) FROM t;
SELECT * FROM t WHERE id < 8 ORDER BY id;
PRAGMA integrity_check;
PRAGMA page_count;
SQL
echo "rc=$?"
ls
"$SQLITE" test.db ".databases"; "$SQLITE" "$W/./test.db" "PRAGMA database_list;"
(cd / && "$SQLITE" "$W/test.db" ".databases")
"$SQLITE" "$W/test.db" "PRAGMA journal_mode=TRUNCATE; INSERT INTO t(name) VALUES (\"trunc\");"
ls; wc -c < test.db-journal
"$SQLITE" test.db "PRAGMA journal_mode=PERSIST; INSERT INTO t(name) VALUES (\"persist\");"
ls; wc -c < test.db-journal; cmp -n 28 test.db-journal /dev/zero && echo header-zeroed
# The persisted journal differs between two real directories (its page records are checksummed
# with a random nonce), so it is not left for the tree comparison: the next write transaction in
# DELETE mode removes it, as in a real directory.
"$SQLITE" test.db "PRAGMA journal_mode=DELETE; SELECT count(*) FROM t;"
ls
"$SQLITE" test.db "INSERT INTO t(name) VALUES (\"delete again\"); SELECT count(*) FROM t;"
ls
'

# WAL mode: -wal and -shm exist while a connection is open, another process reads the
# committed rows through the shared memory, a checkpoint, then everything closed.
check cli_wal '
"$SQLITE" wal.db <<"SQL"
PRAGMA journal_mode=WAL;
CREATE TABLE kv(k TEXT PRIMARY KEY, v INTEGER);
BEGIN; INSERT INTO kv VALUES ("a", 1), ("b", 2); COMMIT;
.shell ls
.shell "$SQLITE" wal.db "SELECT count(*) FROM kv"
BEGIN; WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000)
INSERT INTO kv SELECT "k" || x, x FROM c; COMMIT;
.shell "$SQLITE" wal.db "SELECT count(*), sum(v) FROM kv"
BEGIN; UPDATE kv SET v = v * 2 WHERE v % 2 = 0;
.shell "$SQLITE" wal.db "SELECT sum(v) FROM kv"
COMMIT;
.shell "$SQLITE" wal.db "SELECT sum(v) FROM kv"
PRAGMA wal_checkpoint(TRUNCATE);
.shell stat -c %s wal.db-wal
SELECT count(*), sum(v) FROM kv;
PRAGMA integrity_check;
SQL
echo "rc=$?"
ls
"$SQLITE" wal.db "PRAGMA journal_mode; SELECT count(*) FROM kv;"
ls
'

# python3 sqlite3 on the database the CLI made (relative and absolute path, from another cwd),
# and the CLI reading what python wrote.
check python_module '
"$SQLITE" shared.db "CREATE TABLE t(id INTEGER PRIMARY KEY, s TEXT); INSERT INTO t(s) VALUES (\"from cli\");"
"$PY" - <<"PYEOF"
import os, sqlite3
W = os.environ["W"]
con = sqlite3.connect("shared.db")
print(con.execute("select * from t").fetchall())
print([tuple(r[1:]) for r in con.execute("pragma database_list")])
with con:
    con.executemany("insert into t(s) values (?)", [("py%d" % i,) for i in range(2000)])
with con:
    con.execute("update t set s = s || \"!\" where id % 100 = 0")
try:
    with con:
        con.execute("insert into t(s) values (\"rolled back\")")
        raise RuntimeError("abort")
except RuntimeError:
    pass
print(con.execute("select count(*), max(id), sum(length(s)) from t").fetchone())
con.close()
os.chdir("/")
con = sqlite3.connect(os.path.join(W, "shared.db"))
print(con.execute("pragma journal_mode=wal").fetchone())
for i in range(3):
    with con:
        con.execute("insert into t(s) values (?)", ("wal%d" % i,))
print(sorted(n for n in os.listdir(W) if n.startswith("shared")))
ro = sqlite3.connect("file:%s/shared.db?mode=ro" % W, uri=True)
print(ro.execute("select count(*) from t").fetchone())
try:
    ro.execute("insert into t(s) values (\"x\")")
except sqlite3.OperationalError as e:
    print("ro:", e)
ro.close()
print(con.execute("pragma integrity_check").fetchone())
con.close()
print(sorted(n for n in os.listdir(W) if n.startswith("shared")))
PYEOF
echo "rc=$?"
"$SQLITE" shared.db "SELECT count(*), sum(length(s)) FROM t; PRAGMA journal_mode=DELETE;"
ls
'

# Two processes on one database: python holds a write lock, the CLI is refused (busy), then
# gets through once the lock is released; in WAL mode a reader in another process sees only
# committed data.
check locking '
"$PY" - <<"PYEOF"
import os, sqlite3, subprocess
S = os.environ["SQLITE"]
def cli(sql, wait=True):
    opts = [] if wait else ["-cmd", ".timeout 0"]
    r = subprocess.run([S, "-bail"] + opts + ["lock.db", sql], capture_output=True, text=True)
    print("cli rc=%d out=%r err=%r" % (r.returncode, r.stdout.strip(), r.stderr.strip()))
con = sqlite3.connect("lock.db", isolation_level=None)
con.execute("create table t(x)")
con.execute("begin exclusive")
con.execute("insert into t values (1)")
print(sorted(os.listdir(".")))
cli("insert into t values (2);", wait=False)
cli("select count(*) from t;", wait=False)
con.execute("commit")
cli("insert into t values (3); select count(*) from t;")
con.execute("pragma journal_mode=wal")
con.execute("begin immediate")
con.execute("insert into t values (4)")
cli("select count(*) from t;")
cli("insert into t values (5);", wait=False)
con.execute("commit")
cli("select count(*), sum(x) from t;")
con.execute("pragma journal_mode=delete")
con.close()
print(sorted(os.listdir(".")))
PYEOF
'

# VACUUM, VACUUM INTO, .backup, .dump/.read, ATTACH by absolute path into a subdirectory, a
# database reached through a symlink, and the temp files SQLite makes for big sorts.
check maintenance '
mkdir -p sub
"$SQLITE" big.db <<"SQL"
CREATE TABLE t(id INTEGER PRIMARY KEY, s TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)
INSERT INTO t(s) SELECT printf("%08d-%s", x, hex(zeroblob(20))) FROM c;
DELETE FROM t WHERE id > 5000;
PRAGMA page_count;
VACUUM;
PRAGMA page_count;
VACUUM INTO "sub/copy.db";
.backup sub/backup.db
SQL
echo "rc=$?"
"$SQLITE" sub/copy.db "SELECT count(*), sum(length(s)) FROM t;"
"$SQLITE" "$W/sub/backup.db" "SELECT count(*) FROM t;"
"$SQLITE" big.db .dump | head -5
"$SQLITE" big.db .dump > dump.sql && "$SQLITE" fromdump.db < dump.sql && "$SQLITE" fromdump.db "SELECT count(*) FROM t"
"$SQLITE" big.db "ATTACH \"$W/sub/other.db\" AS o; CREATE TABLE o.u AS SELECT id FROM t WHERE id % 2 = 0; SELECT count(*) FROM o.u;"
ln -s sub/other.db link.db && "$SQLITE" link.db "SELECT count(*) FROM u; INSERT INTO u VALUES (-1);"
"$SQLITE" link.db ".databases"
"$SQLITE" big.db "PRAGMA mmap_size=4194304; SELECT count(*), sum(length(s)) FROM t; PRAGMA mmap_size=0;"
ls sub
mkdir tmp
SQLITE_TMPDIR="$W/tmp" "$SQLITE" big.db "PRAGMA temp_store=FILE; PRAGMA cache_size=10; SELECT count(DISTINCT s), max(s) FROM (SELECT s FROM t ORDER BY random());"
SQLITE_TMPDIR="$W/tmp" "$SQLITE" big.db "VACUUM; PRAGMA integrity_check;"
ls -A tmp | wc -l
cd sub && "$SQLITE" ../big.db "SELECT count(*) FROM t;" && cd ..
"$SQLITE" sub/copy.db "PRAGMA integrity_check;"
ls
'

# A writer that dies in the middle of a transaction: the next connection rolls the hot journal
# back (and removes it); in WAL mode it recovers the committed transactions from the -wal.
check crash_recovery '
"$PY" - <<"PYEOF"
import os, sqlite3
con = sqlite3.connect("crash.db", isolation_level=None)
con.execute("pragma cache_size=5")
con.execute("create table t(x)")
con.execute("insert into t select value from json_each(\"[1,2,3,4,5,6,7,8,9,10]\")")
con.execute("begin")
for i in range(3000):
    con.execute("insert into t values (zeroblob(300))")
print(sorted(os.listdir(".")))
os._exit(0)
PYEOF
echo "rc=$?"; ls
"$SQLITE" crash.db "SELECT count(*), sum(x) FROM t; PRAGMA integrity_check;"
ls
"$PY" - <<"PYEOF"
import os, sqlite3
con = sqlite3.connect("walcrash.db", isolation_level=None)
con.execute("pragma journal_mode=wal")
con.execute("create table t(x)")
for i in range(50):
    con.execute("insert into t values (?)", (i,))
con.execute("begin")
con.execute("insert into t values (1000)")
print(sorted(os.listdir(".")))
os._exit(0)
PYEOF
echo "rc=$?"; ls
"$SQLITE" walcrash.db "SELECT count(*), sum(x) FROM t; PRAGMA integrity_check;"
ls
'

[ ${#FAILED[@]} = 0 ] || fail "parity failed: ${FAILED[*]}"
