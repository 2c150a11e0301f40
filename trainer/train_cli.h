/* train_cli: option value parsing and --out checks shared by `atelier train`, `eval` and
 * `merge`. Each
 * parser checks the whole string, the range and (for integers) a leading '-', and on a bad
 * value prints one line naming the option, the value and the valid range to stderr. */
#ifndef TRAIN_CLI_H
#define TRAIN_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Parses an integer in [min, max]. Returns false (after printing) when value is invalid. */
bool train_cli_uint(uint64_t *out, const char *cmd, const char *option, const char *value,
                    uint64_t min, uint64_t max);
/** Parses an int in [min, max] (both >= 0). */
bool train_cli_int(int *out, const char *cmd, const char *option, const char *value, int min,
                   int max);
/** Parses a finite number in [min, max], or in (min, max] when min_exclusive. */
bool train_cli_double(double *out, const char *cmd, const char *option, const char *value,
                      double min, double max, bool min_exclusive);
/** Checks that a path or name value is not empty. Returns false after printing when it is. */
bool train_cli_nonempty(const char *cmd, const char *option, const char *value);
/** Checks --seq-len against the context of the model in base_dir, read from its
 * config.json. Returns false after printing one line when seq_len is above the context. A
 * config.json that cannot be read passes, because loading the model reports that problem. */
bool train_cli_check_seq_len(const char *cmd, const char *base_dir, int seq_len);
/** Fills buf with the absolute, symlink-free form of path. A path that does not exist yet
 * is resolved through its parent folder, which is where mkdir would create it. Returns
 * false when neither resolves. */
bool train_cli_resolve_path(char *buf, size_t size, const char *path);
/** Returns true when path is dir or lies below it. Both are resolved paths. */
bool train_cli_path_within(const char *path, const char *dir);

/** Checks that --out is an existing folder, or that its parent is one, because the
 * commands create only the last component. Returns false after printing one line
 * "atelier CMD: ..." that names the path and the fix. */
bool train_cli_check_out_path(const char *cmd, const char *out);

/** Returns true when the entry name in dir is one the command writes itself. */
typedef bool (*train_cli_own_entry_fn)(const char *dir, const char *name);

/** Checks that the folder out holds only entries that own_entry accepts, so the command
 * cannot overwrite or mix with other data by mistake. Otherwise prints one line with the
 * count and the sorted names of the other entries (the first 10, then "and N more"), and
 * names what --force would do (force_effect). readme_replacement, when not NULL, names what a
 * foreign README.md would be replaced with. A missing folder passes. */
bool train_cli_check_foreign_entries(const char *cmd, const char *out,
                                     train_cli_own_entry_fn own_entry, const char *force_effect,
                                     const char *readme_replacement);

#endif
