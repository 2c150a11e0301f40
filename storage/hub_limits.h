/* hub_limits: every input size limit of the hub, with its unit. Each is the default of a
 * setting in struct hub_config (see docs/limits.md), so an operator can change it. */
#ifndef HUB_LIMITS_H
#define HUB_LIMITS_H

#define HUB_MAX_REPO_NAME_BYTES 96        /* one of namespace or name in "namespace/name" */
#define HUB_MAX_PATH_BYTES      1024      /* a file path inside a repo */
#define HUB_MAX_REVISION_BYTES  255       /* a branch, tag or commit id */
#define HUB_MAX_JSON_BODY_BYTES (1u << 20) /* a JSON request body */

#endif
