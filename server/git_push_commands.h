/* git_push_commands: the ref update commands at the start of a git-receive-pack request body,
 * read by the daemon before it starts receive-pack. The body is a list of pkt-lines: optional
 * "shallow <oid>" lines, then "<old-oid> <new-oid> <refname>" lines, the first of which
 * carries the client's capabilities after a NUL byte, then a flush-pkt "0000". Push options
 * and the pack follow and are not read here. */
#ifndef GIT_PUSH_COMMANDS_H
#define GIT_PUSH_COMMANDS_H

#include "git_hook.h"
#include "hub_error.h"

#include <stdbool.h>
#include <stddef.h>

/* Maximum number of commands that one parse accepts. A push of more refs is left to
 * receive-pack and the pre-receive hook. */
#define GITPUSH_MAX_COMMANDS 4096

/* Commands and client capabilities of one receive-pack request. */
struct gitpush_commands {
    struct githook_update *updates; /* malloc'd, count entries */
    size_t count;
    bool report_status; /* the client requested report-status or report-status-v2 */
    bool side_band_64k; /* the client requested side-band-64k */
};

/** Parses the command list at the start of a receive-pack request body, data[0..len), which
 * may be a prefix of the body. Returns 0 and fills *out, which the caller frees with
 * gitpush_commands_dispose. Returns HUB_EINVAL when the data is not a command list of SHA-1
 * object ids (a push certificate, a SHA-256 repo, a malformed body). Returns HUB_ETOOBIG
 * when no flush-pkt ends the list within data or the list has more than
 * GITPUSH_MAX_COMMANDS commands, and HUB_ENOMEM when allocation fails. */
int gitpush_commands_parse(struct gitpush_commands *out, const char *data, size_t len,
                           struct hub_error *err);

/** Frees the updates of cmds and empties it. Accepts an empty one. */
void gitpush_commands_dispose(struct gitpush_commands *cmds);

/** Builds the receive-pack result that rejects every command of cmds, as git prints a
 * pre-receive hook's rejection: message (one or more lines, each ending in a newline) goes
 * out on side-band channel 2 when the client requested side-band-64k, so git prints it with
 * "remote: ", and the report says "unpack ok" and "ng <ref> pre-receive hook declined". A
 * client without side-band-64k cannot show the message, so reasons[i] (one line without a
 * newline, or NULL for the default) is the reason of the ng line of update i instead.
 * Stores a malloc'd body in *out and its size in *out_len. Returns 0 or HUB_ENOMEM. */
int gitpush_rejection_build(char **out, size_t *out_len, const struct gitpush_commands *cmds,
                            const char *message, const char *const *reasons, struct hub_error *err);

#endif
