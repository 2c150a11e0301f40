/* build_info: what identifies this build of atelier, for `atelier --version` and the daemon's
 * start line, so an admin can tell which binary runs and which schema it brings. */
#ifndef BUILD_INFO_H
#define BUILD_INFO_H

/** Returns the git commit the binary was built from (12 hex digits, with "-dirty" when the
 * work tree had uncommitted changes), or "" for a build outside a git checkout. Static. */
const char *build_info_commit(void);

/** Returns the name of the newest migration built into the binary ("0014_pr_target_before_merge"),
 * or "" when it has none. Static. */
const char *build_info_newest_migration(void);

#endif
