/* test_list.h: the registry of C tests (bodies in tests/unit/). */
#define TESTS(X)                                                                                   \
    X(probe_path_matches_strstr)                                                                   \
    X(probe_path_page_edges)                                                                       \
    X(path_prefix_match)                                                                           \
    X(path_resolve_absolute)                                                                       \
    X(path_resolve_dotdot)                                                                         \
    X(path_untranslate)                                                                            \
    X(path_too_long)                                                                               \
    X(path_cwd_learn_race)                                                                         \
    X(elf_list_under)                                                                              \
    X(elf_tls_need_lists)                                                                          \
    X(cache_note_write_dirty_once)                                                                 \
    X(cache_unlink_and_rename)                                                                     \
    X(cache_rename_dir)                                                                            \
    X(cache_reopen_persists)                                                                       \
    X(cache_schema_mismatch)                                                                       \
    X(cache_ids_follow_entries)                                                                    \
    X(cache_ids_built_from_entries)                                                                \
    X(cache_long_names)                                                                            \
    X(cache_long_rename_dir)                                                                       \
    X(cache_long_kv_names)                                                                         \
    X(cache_kv_typed)                                                                              \
    X(cache_key_collision_and_legacy)                                                              \
    X(cache_pending_doc_count)                                                                     \
    X(cache_too_long_to_sync)                                                                      \
    X(cache_beneath_both_paths)                                                                    \
    X(journal_guard_keeps_local)                                                                   \
    X(journal_guard_waits)                                                                         \
    X(journal_full_and_wrap)                                                                       \
    X(journal_folds_early)                                                                         \
    X(journal_folds_early_threads)                                                                 \
    X(journal_short_pad)                                                                           \
    X(journal_dead_process_records)                                                                \
    X(journal_dead_owner)                                                                          \
    X(stray_removals_pruned)                                                                       \
    X(journal_write_token)
