/* build_info: the build's git commit, written into build_commit.h by meson's vcs_tag, and the
 * newest built-in migration. */
#include "build_info.h"

#include "build_commit.h"
#include "meta.h"

const char *build_info_commit(void)
{
    return ATELIER_BUILD_COMMIT;
}

const char *build_info_newest_migration(void)
{
    size_t count = 0;
    const struct meta_migration *migrations = meta_migrations_builtin(&count);

    return count > 0 ? migrations[count - 1].name : "";
}
