/* git_http: the git smart HTTP routes (info/refs, git-upload-pack, git-receive-pack) under
 * /{ns}/{name}[.git]/ and /datasets/{ns}/{name}[.git]/, and the git-lfs locks endpoints
 * under .../{name}.git/info/lfs/locks, and the protected branch API under
 * /api/{models|datasets}/{ns}/{name}/git/protected-branches. The daemon checks the token and the repo access
 * rules, then runs `git http-backend` (git_backend.h) on the bare repo. Pushes run under the
 * repo lock, and their hooks (git_hook.h) reject what the hub cannot accept. See
 * docs/git.md for the design. */
#ifndef GIT_HTTP_H
#define GIT_HTTP_H

struct http_router;

/** Adds the git routes and the service that writes DATA/hooks at start. Call once from
 * cmd_serve before the listener opens. */
void git_http_register(struct http_router *router);

#endif
