/* git_push_commands: see git_push_commands.h. A pkt-line starts with its length in 4 hex
 * digits, the header included, and the length "0000" is the flush-pkt. */
#include "git_push_commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PKT_HEADER_BYTES  4
#define PKT_MAX_BYTES     65520 /* a pkt-line with its 4-byte length header */
#define SIDEBAND_MAX_DATA (PKT_MAX_BYTES - PKT_HEADER_BYTES - 1)
#define DEFAULT_NG_REASON "pre-receive hook declined"

/* Reads the 4 hex digits of a pkt-line length header. Returns the length, or -1 when the
 * digits are not lowercase or uppercase hex. */
static long pkt_length_read(const char *header)
{
    long value = 0;

    for (int i = 0; i < PKT_HEADER_BYTES; i++) {
        char c = header[i];
        int digit;

        if (c >= '0' && c <= '9')
            digit = c - '0';
        else if (c >= 'a' && c <= 'f')
            digit = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            digit = c - 'A' + 10;
        else
            return -1;
        value = value * 16 + digit;
    }
    return value;
}

/* Returns whether the space-separated capability list caps[0..len) contains name. */
static bool capability_is_listed(const char *caps, size_t len, const char *name)
{
    size_t name_len = strlen(name);
    size_t start = 0;

    while (start < len) {
        const char *space = memchr(caps + start, ' ', len - start);
        size_t word = space != NULL ? (size_t)(space - (caps + start)) : len - start;

        if (word == name_len && memcmp(caps + start, name, name_len) == 0)
            return true;
        start += word + 1;
    }
    return false;
}

/* Adds the command line[0..len) (without its newline) to out. The first command carries the
 * capabilities after a NUL byte. */
static int command_add(struct gitpush_commands *out, const char *line, size_t len,
                       struct hub_error *err)
{
    const char *nul = memchr(line, '\0', len);
    size_t command_len = nul != NULL ? (size_t)(nul - line) : len;
    struct githook_update *update;

    if (nul != NULL && out->count > 0)
        return hub_error_set(err, HUB_EINVAL,
                             "invalid push command: capabilities after the first command");
    if (out->count == GITPUSH_MAX_COMMANDS)
        return hub_error_set(err, HUB_ETOOBIG, "push of more than %d refs", GITPUSH_MAX_COMMANDS);
    if (out->count == 0) {
        out->updates = calloc(GITPUSH_MAX_COMMANDS, sizeof(*out->updates));
        if (out->updates == NULL)
            return hub_error_set(err, HUB_ENOMEM, "cannot allocate the push commands");
    }
    update = &out->updates[out->count];
    if (githook_update_parse(update, line, command_len, err) < 0)
        return HUB_EINVAL;
    if (update->ref[0] == '\0')
        return hub_error_set(err, HUB_EINVAL, "invalid push command: empty ref name");
    if (nul != NULL) {
        const char *caps = nul + 1;
        size_t caps_len = len - command_len - 1;

        out->report_status = capability_is_listed(caps, caps_len, "report-status") ||
                             capability_is_listed(caps, caps_len, "report-status-v2");
        out->side_band_64k = capability_is_listed(caps, caps_len, "side-band-64k");
    }
    out->count++;
    return 0;
}

int gitpush_commands_parse(struct gitpush_commands *out, const char *data, size_t len,
                           struct hub_error *err)
{
    size_t pos = 0;
    bool commands_started = false;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    for (;;) {
        long pkt_len;
        const char *line;
        size_t line_len;

        if (len - pos < PKT_HEADER_BYTES) {
            rc = hub_error_set(err, HUB_ETOOBIG, "push command list does not end within %zu bytes",
                               len);
            break;
        }
        pkt_len = pkt_length_read(data + pos);
        if (pkt_len < 0 || (pkt_len > 0 && pkt_len <= PKT_HEADER_BYTES)) {
            rc = hub_error_set(err, HUB_EINVAL, "invalid pkt-line length at byte %zu", pos);
            break;
        }
        if (pkt_len == 0) {
            if (!commands_started)
                rc = hub_error_set(err, HUB_EINVAL, "push request without commands");
            break;
        }
        if ((size_t)pkt_len > len - pos) {
            rc = hub_error_set(err, HUB_ETOOBIG, "push command list does not end within %zu bytes",
                               len);
            break;
        }
        line = data + pos + PKT_HEADER_BYTES;
        line_len = (size_t)pkt_len - PKT_HEADER_BYTES;
        pos += (size_t)pkt_len;
        if (line[line_len - 1] == '\n')
            line_len--;
        if (!commands_started && line_len >= 8 && memcmp(line, "shallow ", 8) == 0)
            continue;
        commands_started = true;
        rc = command_add(out, line, line_len, err);
        if (rc < 0)
            break;
    }
    if (rc < 0)
        gitpush_commands_dispose(out);
    return rc;
}

void gitpush_commands_dispose(struct gitpush_commands *cmds)
{
    free(cmds->updates);
    memset(cmds, 0, sizeof(*cmds));
}

/* Appends len bytes of data to the growing buffer. */
static int buffer_append(char **buf, size_t *used, size_t *cap, const char *data, size_t len,
                         struct hub_error *err)
{
    if (*cap - *used < len) {
        size_t next = *cap > 0 ? *cap : 256;
        char *grown;

        while (next - *used < len)
            next *= 2;
        grown = realloc(*buf, next);
        if (grown == NULL)
            return hub_error_set(err, HUB_ENOMEM, "cannot allocate the push result");
        *buf = grown;
        *cap = next;
    }
    memcpy(*buf + *used, data, len);
    *used += len;
    return 0;
}

/* Appends one pkt-line of len bytes (at most SIDEBAND_MAX_DATA), in side-band channel band
 * when band is 1 or 2. */
static int pkt_append(char **buf, size_t *used, size_t *cap, int band, const char *data, size_t len,
                      struct hub_error *err)
{
    char header[PKT_HEADER_BYTES + 2];
    size_t header_len = PKT_HEADER_BYTES;

    snprintf(header, sizeof(header), "%04zx", len + PKT_HEADER_BYTES + (band > 0 ? 1 : 0));
    if (band > 0)
        header[header_len++] = (char)band;
    if (buffer_append(buf, used, cap, header, header_len, err) < 0)
        return HUB_ENOMEM;
    return buffer_append(buf, used, cap, data, len, err);
}

/* Appends the report-status lines for cmds, ending in a flush-pkt. */
static int report_build(char **buf, size_t *used, size_t *cap, const struct gitpush_commands *cmds,
                        const char *const *reasons, struct hub_error *err)
{
    char line[GITHOOK_MAX_REF_BYTES + 1024];
    int rc = pkt_append(buf, used, cap, 0, "unpack ok\n", 10, err);

    for (size_t i = 0; rc == 0 && i < cmds->count; i++) {
        const char *reason = reasons != NULL && reasons[i] != NULL ? reasons[i] : DEFAULT_NG_REASON;
        int n = snprintf(line, sizeof(line), "ng %s %s\n", cmds->updates[i].ref, reason);

        /* A reason too long for the line is cut, and the newline kept. */
        if (n < 0 || (size_t)n >= sizeof(line)) {
            n = (int)sizeof(line) - 1;
            line[n - 1] = '\n';
        }
        rc = pkt_append(buf, used, cap, 0, line, (size_t)n, err);
    }
    if (rc == 0)
        rc = buffer_append(buf, used, cap, "0000", PKT_HEADER_BYTES, err);
    return rc;
}

int gitpush_rejection_build(char **out, size_t *out_len, const struct gitpush_commands *cmds,
                            const char *message, const char *const *reasons, struct hub_error *err)
{
    char *buf = NULL;
    size_t used = 0;
    size_t cap = 0;
    int rc = 0;

    if (cmds->side_band_64k) {
        size_t message_len = message != NULL ? strlen(message) : 0;
        char *report = NULL;
        size_t report_len = 0;
        size_t report_cap = 0;

        for (size_t pos = 0; rc == 0 && pos < message_len; pos += SIDEBAND_MAX_DATA) {
            size_t chunk = message_len - pos;

            if (chunk > SIDEBAND_MAX_DATA)
                chunk = SIDEBAND_MAX_DATA;
            rc = pkt_append(&buf, &used, &cap, 2, message + pos, chunk, err);
        }
        /* With side-band-64k the report is itself a pkt-line stream carried in channel 1. */
        if (rc == 0 && cmds->report_status)
            rc = report_build(&report, &report_len, &report_cap, cmds, NULL, err);
        for (size_t pos = 0; rc == 0 && pos < report_len; pos += SIDEBAND_MAX_DATA) {
            size_t chunk = report_len - pos;

            if (chunk > SIDEBAND_MAX_DATA)
                chunk = SIDEBAND_MAX_DATA;
            rc = pkt_append(&buf, &used, &cap, 1, report + pos, chunk, err);
        }
        free(report);
        if (rc == 0)
            rc = buffer_append(&buf, &used, &cap, "0000", PKT_HEADER_BYTES, err);
    } else if (cmds->report_status) {
        rc = report_build(&buf, &used, &cap, cmds, reasons, err);
    }
    if (rc == 0 && buf == NULL) {
        buf = malloc(1);
        if (buf == NULL)
            rc = hub_error_set(err, HUB_ENOMEM, "cannot allocate the push result");
    }
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = used;
    return 0;
}
