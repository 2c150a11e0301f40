/* hub_config: the settings of `atelier serve`, filled from defaults (hub_limits.h) and then
 * from command-line flags. Read-only once the daemon has started, so any thread may read it. */
#ifndef HUB_CONFIG_H
#define HUB_CONFIG_H

#include "hub_error.h"
#include "hub_log.h"

#include <stdbool.h>
#include <stdint.h>

struct hub_config {
    char *data_dir;       /* --data: the data directory (malloc'd) */
    char *listen_host;    /* --listen host part, such as "127.0.0.1" or "::" (malloc'd) */
    unsigned listen_port; /* --listen port part; 0 binds a free port */
    char *public_url;     /* --public-url without trailing '/', or NULL to use Host */
    unsigned threads;     /* --threads: HTTP threads in the pool */
    unsigned workers;     /* --workers: job worker processes run at once */
    enum hub_log_level log_level;

    /* Limits, each with its own flag; docs/limits.md lists them with defaults. */
    uint64_t max_json_body_bytes;   /* a JSON request body */
    uint64_t max_commit_body_bytes; /* an NDJSON commit request body */
    uint64_t max_commit_file_bytes; /* one decoded "file" line of a commit */
    uint64_t max_commit_operations; /* lines in one commit request */
    uint64_t max_upload_bytes;      /* one LFS object */
    uint64_t max_batch_objects;     /* objects in one LFS batch request */
    uint64_t max_connections;       /* open client connections */
    uint64_t connection_timeout_s;  /* idle seconds before a connection is closed */
    uint64_t max_page_items;        /* entries in one page of a listing */
    uint64_t lfs_href_ttl_s;        /* lifetime of a signed LFS upload or download URL */
    uint64_t lfs_threshold_bytes;   /* preupload classifies larger files as LFS */

    /* Job queue limits; the flag wins over its ATELIER_JOBS_* environment variable. */
    uint64_t jobs_max_queued_per_user;  /* queued jobs per user, 0 for no limit */
    uint64_t jobs_max_running_per_user; /* running jobs per user, 0 for no limit */
    uint64_t jobs_max_attempts;         /* attempts per job before it fails */
    uint64_t jobs_heartbeat_timeout_s;  /* seconds without a heartbeat before a worker is dead */
    uint64_t jobs_cancel_grace_s;       /* seconds from SIGTERM to SIGKILL for a worker */
    uint64_t jobs_max_job_s;            /* seconds an attempt may run before its cancel */
    uint64_t log_repeat_lines;          /* warn or error lines per call site and window */
    uint64_t log_repeat_window_s;       /* length of that window */
    uint64_t max_upload_rings;          /* large uploads with a 16 MiB ring at once */
};

/** Fills config with the defaults, then the job limits from the environment variables
 * ATELIER_JOBS_MAX_QUEUED_PER_USER, ATELIER_JOBS_MAX_RUNNING_PER_USER,
 * ATELIER_JOBS_MAX_ATTEMPTS, ATELIER_JOBS_HEARTBEAT_TIMEOUT_S and ATELIER_JOBS_CANCEL_GRACE_S
 * where they are set. The strings are NULL except what the defaults need. Returns 0, or
 * HUB_EINVAL naming a variable with an invalid value. */
int hub_config_init(struct hub_config *config, struct hub_error *err);

/** Parses `atelier serve` arguments (argv[0] is "serve") into config. Returns 0, 1 when
 * --help was printed, or HUB_EINVAL with err naming the flag and the accepted values. */
int hub_config_parse_args(struct hub_config *config, int argc, char **argv, struct hub_error *err);

/** Frees the strings of config. Accepts a zeroed config. */
void hub_config_dispose(struct hub_config *config);

#endif
