/* web_diff: line diffs of two text files, written as HTML for the commit page. */
#ifndef WEB_DIFF_H
#define WEB_DIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "web_buf.h"

#define WEB_DIFF_MAX_CELLS (4u << 20) /* changed lines old x new that one diff may compare */
#define WEB_DIFF_CONTEXT   3          /* unchanged lines shown around each change */

/** Appends a unified diff of old_text and new_text as HTML lines inside a <pre>, with each
 * added line in <span class="add"> and each removed line in <span class="del">. Counts the
 * added and removed lines into *added and *removed. Returns false, appending nothing, when the
 * changed middle of the files is over WEB_DIFF_MAX_CELLS or memory runs out. */
bool web_diff_lines(struct web_buf *out, size_t *added, size_t *removed, const char *old_text,
                    size_t old_len, const char *new_text, size_t new_len);

#endif
