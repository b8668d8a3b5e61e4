/* entrybind.c: leave a cache as a version without the document -> files index left it after a
 * server answered a create with another file's document: the entry of KEY is bound to the
 * document ID (its remote id, SMC_E_REMOTE), and the schema number is that version's, so the
 * next opening builds the index from the entries. Usage: entrybind META KEY ID (KEY at most
 * SMC_KEY_DIRECT bytes). Prints "bound". */
#include "lmdbprog.h"

#include "../../cache/schema.h"

#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 4 || strlen(argv[2]) > SMC_KEY_DIRECT || strlen(argv[3]) > SMC_ID_MAX)
        return 2;
    struct lmdb l;
    int rc = lmdb_open(&l, argv[1], (size_t)16 << 30);
    if (rc)
        return rc;
    MDB_txn *t;
    MDB_dbi entries, kv;
    if (l.begin(l.env, NULL, 0, &t) || l.dbi_open(t, SMC_DB_ENTRIES, 0, &entries) ||
        l.dbi_open(t, SMC_DB_KV, 0, &kv))
        return 1;
    MDB_val k = {strlen(argv[2]), argv[2]}, v;
    struct smc_entry e;
    if (l.get(t, entries, &k, &v) || v.mv_size < sizeof e) {
        puts("no entry");
        return 1;
    }
    memcpy(&e, v.mv_data, sizeof e);
    memset(e.remote_id, 0, sizeof e.remote_id);
    memcpy(e.remote_id, argv[3], strlen(argv[3]));
    e.flags |= SMC_E_REMOTE;
    MDB_val nv = {sizeof e, &e};
    char schema[16];
    snprintf(schema, sizeof schema, "%d", SMC_SCHEMA_NO_IDS);
    MDB_val sk = {strlen(SMC_KV_SCHEMA), SMC_KV_SCHEMA}, sv = {strlen(schema), schema};
    if (l.put(t, entries, &k, &nv, 0) || l.put(t, kv, &sk, &sv, 0) || l.commit(t))
        return 1;
    puts("bound");
    return 0;
}
