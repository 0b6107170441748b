/* shebang.c - rewriting scripts' interpreter lines (see shebang.h). */
#include "shebang.h"
#include "fileio.h"
#include "log.h"
#include "strutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Scripts are small; a bigger file starting with "#!" is left alone
 * rather than read into memory. */
#define MAX_SCRIPT ((size_t)64 << 20)

static int is_python(const char *name, size_t n)
{
    return n >= 6 && strncmp(name, "python", 6) == 0;
}

/* The newline ending the line that starts at s, or NULL. */
static const char *line_end(const char *s, const char *end)
{
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    return nl;
}

int pk_shebang_rewrite(const char *path, const struct stat *st, const char *prefix,
                       char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    if (!S_ISREG(st->st_mode) || st->st_size < 3 || (size_t)st->st_size > MAX_SCRIPT)
        return 0;
    char *buf;
    size_t n;
    if (pm_read_file_at(AT_FDCWD, path, 0, MAX_SCRIPT, &buf, &n, NULL) != 0) {
        pm_error(path, "cannot read: %s", errno == ENOMEM ? "out of memory" : strerror(errno));
        return -1;
    }
    const char *end = buf + n;
    const char *l1 = buf[0] == '#' && buf[1] == '!' ? line_end(buf, end) : NULL;
    if (!l1) {
        free(buf);
        return 0;
    }
    const char *rest = l1 + 1;        /* what follows the replaced lines */
    char *name = NULL, *opts = NULL;  /* the new interpreter and options */
    /* distlib's wrapper when the interpreter path is too long or has
     * spaces: #!/bin/sh, '''exec' "PY" "$0" "$@", ' ''' */
    const char *l2 = rest < end ? line_end(rest, end) : NULL;
    const char *l3 = l2 && l2 + 1 < end ? line_end(l2 + 1, end) : NULL;
    if ((size_t)(l1 - buf) == 9 && memcmp(buf, "#!/bin/sh", 9) == 0 && l3 &&
        strncmp(rest, "'''exec' ", 9) == 0 && (size_t)(l3 - (l2 + 1)) == 5 &&
        memcmp(l2 + 1, "' '''", 5) == 0) {
        if (!(name = strdup("python3")))
            goto oom;
        rest = l3 + 1;
    } else {
        const char *p = buf + 2, *eol = l1;
        if (eol > p && eol[-1] == '\r')
            eol--;
        while (p < eol && (*p == ' ' || *p == '\t'))
            p++;
        const char *interp = p;
        while (p < eol && *p != ' ' && *p != '\t')
            p++;
        size_t ilen = (size_t)(p - interp);
        const char *base = interp + ilen;
        while (base > interp && base[-1] != '/')
            base--;
        size_t blen = (size_t)(interp + ilen - base);
        while (p < eol && (*p == ' ' || *p == '\t'))
            p++;
        if (blen == 3 && memcmp(base, "env", 3) == 0) {
            /* "#!/usr/bin/env python": normalise to python3 (Debian has no
             * "python"); another program through env is left alone. */
            const char *prog = p;
            while (p < eol && *p != ' ' && *p != '\t')
                p++;
            if (is_python(prog, (size_t)(p - prog)) && !(name = strdup("python3")))
                goto oom;
        } else if (is_python(base, blen)) {
            if (!(name = strdup("python3")))
                goto oom;
        } else if (prefix && ilen > strlen(prefix) && strncmp(interp, prefix, strlen(prefix)) == 0 &&
                   interp[strlen(prefix)] == '/') {
            if (!(name = strndup(base, blen)))
                goto oom;
        }
        while (name && p < eol && (*p == ' ' || *p == '\t'))
            p++;
        if (name && p < eol && !(opts = strndup(p, (size_t)(eol - p)))) {
            free(name);
            name = NULL;
            goto oom;
        }
    }
    if (!name) {
        free(buf);
        return 0;
    }
    /* Linux hands everything after the interpreter to it as one argument:
     * options need env's -S to be split. */
    char *line = opts ? pm_printf_alloc("#!/usr/bin/env -S %s %s\n", name, opts)
                      : pm_printf_alloc("#!/usr/bin/env %s\n", name);
    free(name);
    free(opts);
    if (!line)
        goto oom;
    size_t llen = strlen(line), tail = (size_t)(end - rest);
    char *out = malloc(llen + tail + 1);
    if (!out) {
        free(line);
        goto oom;
    }
    memcpy(out, line, llen);
    memcpy(out + llen, rest, tail);
    out[llen + tail] = '\0';
    free(line);
    free(buf);
    *data = out;
    *len = llen + tail;
    return 1;
oom:
    free(buf);
    pm_error(path, "out of memory");
    return -1;
}
