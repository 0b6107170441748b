/* envscan.c - an environment's editable installs (see envscan.h). */
#include "envscan.h"
#include "envdir.h"
#include "envkey.h"
#include "envstore.h"
#include "fileio.h"
#include "strutil.h"
#include "trust.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TEXT_MAX (1 << 20)

char *pm_envscan_outside(const char *site, const char *line, const char *root)
{
    char *joined = line[0] == '/' ? strdup(line) : pm_path_join(site, line);
    char *why = NULL;
    char *real = joined ? pm_trust_realpath(joined, &why) : NULL;
    free(joined);
    free(why);
    struct stat st;
    if (real && (pm_envdir_under(real, root) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode))) {
        free(real);
        real = NULL;
    }
    return real;
}

/* ------------------------------------------------------------------ */
/* MAPPING                                                            */

/* A str literal at *pp ('...' or "..."; \\, \' and \" the only escapes),
 * *pp moved past it; malloc'd, NULL if not one. */
static char *py_str(const char **pp)
{
    const char *p = *pp;
    char q = *p++;
    if (q != '\'' && q != '"')
        return NULL;
    char *o = malloc(strlen(p) + 1), *w = o;
    while (o && *p && *p != q && *p != '\n') {
        if (*p == '\\') {
            p++;
            if (*p != '\\' && *p != '\'' && *p != '"')
                break;
        }
        *w++ = *p++;
    }
    if (!o || *p != q) {
        free(o);
        return NULL;
    }
    *w = '\0';
    *pp = p + 1;
    return o;
}

void pm_envmap_free(pm_envmap *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->key[i]);
        free(m->val[i]);
    }
    m->n = 0;
}

int pm_envmap_parse(const char *text, pm_envmap *m)
{
    memset(m, 0, sizeof *m);
    const char *line = text;
    while (line && strncmp(line, "MAPPING", 7) != 0) {
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    if (!line)
        return -1;
    const char *p = line + 7;
    p += strcspn(p, "=\n");
    if (*p++ != '=')
        return -1;
    p += strspn(p, " \t");
    if (*p++ != '{')
        return -1;
    for (;;) {
        p += strspn(p, " \t");
        if (*p == '}')
            break;
        if (m->n == PM_ENVMAP_MAX)
            goto bad;
        char *k = py_str(&p), *v = NULL;
        p += strspn(p, " \t");
        if (k && *p == ':') {
            p++;
            p += strspn(p, " \t");
            v = py_str(&p);
        }
        if (!v) {
            free(k);
            goto bad;
        }
        m->key[m->n] = k;
        m->val[m->n++] = v;
        p += strspn(p, " \t");
        if (*p == ',')
            p++;
        else if (*p != '}')
            goto bad;
    }
    p++;
    p += strspn(p, " \t\r");
    if (*p != '\n' && *p)
        goto bad;
    m->start = (size_t)(line - text);
    m->end = (size_t)(p - text) + (*p == '\n');
    return 0;
bad:
    pm_envmap_free(m);
    return -1;
}

char *pm_envscan_repr(const char *s)
{
    char *o = malloc(2 * strlen(s) + 3), *w = o;
    if (!o)
        return NULL;
    *w++ = '\'';
    for (; *s; s++) {
        if (*s == '\\' || *s == '\'')
            *w++ = '\\';
        *w++ = *s;
    }
    *w++ = '\'';
    *w = '\0';
    return o;
}

/* ------------------------------------------------------------------ */
/* The directories found                                              */

int pm_envexts_add(pm_envexts *x, char *dir)
{
    if (!dir)
        return -1;
    if (pm_envexts_index(x, dir)) {
        free(dir);
        return 0;
    }
    if (x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 8;
        char **nd = realloc(x->dir, cap * sizeof *nd);
        if (!nd) {
            free(dir);
            return -1;
        }
        x->dir = nd;
        x->cap = cap;
    }
    x->dir[x->n++] = dir;
    return 0;
}

size_t pm_envexts_index(const pm_envexts *x, const char *dir)
{
    for (size_t i = 0; dir && i < x->n; i++)
        if (strcmp(x->dir[i], dir) == 0)
            return i + 1;
    return 0;
}

void pm_envexts_free(pm_envexts *x)
{
    for (size_t i = 0; i < x->n; i++)
        free(x->dir[i]);
    free(x->dir);
    memset(x, 0, sizeof *x);
}

/* ------------------------------------------------------------------ */
/* Finding them                                                       */

static int is_candidate(const char *name)
{
    return pm_envkey_is_finder(name) || pm_ends_with(name, ".pth");
}

/* A .pth line that site.py runs rather than adds to sys.path: exactly
 * those starting "import " or "import\t" (site.addpackage); any other
 * line, "importlib_dir" included, names a directory. */
static int pth_runs(const char *line)
{
    return strncmp(line, "import ", 7) == 0 || strncmp(line, "import\t", 7) == 0;
}

/* Strip trailing blanks (and \r) in place; the length left. */
static size_t rtrim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return n;
}

/* One directory a .pth line or MAPPING value (line) of the file name
 * names: appended to *x if it is a directory outside root.  A directory
 * another user could have filled, or a path through a link another user
 * could have planted, is refused (trust.h: pm_trust_input_check); a name
 * that is no directory is skipped, as site.py does.  0, or -1 with the
 * reason in *err. */
static int found_dir(const char *site, const char *name, const char *line, const char *root, pm_envexts *x,
                     pm_err *err)
{
    char *joined = line[0] == '/' ? strdup(line) : pm_path_join(site, line);
    char *why = NULL;
    char *real = joined ? pm_trust_realpath(joined, &why) : NULL;
    int rc = 0;
    if (!joined || (!real && errno == ENOMEM && !why)) {
        pm_err_set(err, site, "PYTHON_MPI_ENV: out of memory");
        rc = -1;
    } else if (!real && errno == EPERM) {
        pm_err_set(err, joined, "PYTHON_MPI_ENV: refusing the editable directory %s/%s names: %s", site, name,
                   why ? why : "out of memory");
        rc = -1;
    } else if (real && !pm_envdir_under(real, root)) {
        free(why);
        why = NULL;
        if (pm_trust_input_check(real, &why) == 0) {
            rc = pm_envexts_add(x, real);
            real = NULL;
            if (rc != 0)
                pm_err_set(err, site, "PYTHON_MPI_ENV: out of memory");
        } else if (errno == EPERM || !why) {
            pm_err_set(err, real, "PYTHON_MPI_ENV: refusing the editable directory %s/%s names: %s", site, name,
                       why ? why : "out of memory");
            rc = -1;
        }
    }
    free(real);
    free(why);
    free(joined);
    return rc;
}

int pm_envscan_find(const char *site, const char *root, pm_envexts *x, pm_err *err)
{
    DIR *d = opendir(site);
    if (!d)
        return 0;   /* no site-packages: nothing to find */
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d));) {
        int finder = pm_envkey_is_finder(e->d_name);
        if (!is_candidate(e->d_name))
            continue;
        char *text = NULL;
        size_t len = 0;
        if (pm_read_file_at(dirfd(d), e->d_name, 0, TEXT_MAX, &text, &len, NULL) != 0)
            continue;
        pm_envmap m;
        if (finder && pm_envmap_parse(text, &m) == 0) {
            for (size_t i = 0; rc == 0 && i < m.n; i++)
                rc = found_dir(site, e->d_name, m.val[i], root, x, err);
            pm_envmap_free(&m);
        }
        for (char *line = finder ? NULL : text, *next; rc == 0 && line && *line; line = next) {
            next = strchr(line, '\n');
            if (next)
                *next++ = '\0';
            size_t n = rtrim(line);
            if (!n || line[0] == '#' || pth_runs(line))
                continue;
            rc = found_dir(site, e->d_name, line, root, x, err);
        }
        free(text);
    }
    closedir(d);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Rewriting them                                                     */

char *pm_envscan_rewrite_finder(const pm_envexts *x, const char *site, const char *root, const char *text,
                                int *changed)
{
    pm_envmap m;
    *changed = 0;
    if (pm_envmap_parse(text, &m) != 0)
        return strdup(text);
    char *pairs = strdup("");
    for (size_t i = 0; pairs && i < m.n; i++) {
        char *real = pm_envscan_outside(site, m.val[i], root);
        size_t idx = pm_envexts_index(x, real);
        free(real);
        char *rel = idx ? pm_printf_alloc("../../python-mpi-ext/%zu", idx - 1) : NULL;
        char *k = pm_envscan_repr(m.key[i]), *v = pm_envscan_repr(rel ? rel : m.val[i]);
        char *more = k && v && (rel || !idx) ? pm_printf_alloc("%s%s%s: %s", pairs, i ? ", " : "", k, v) : NULL;
        *changed |= idx != 0;
        free(rel);
        free(k);
        free(v);
        free(pairs);
        pairs = more;
    }
    char *res = pairs ? pm_printf_alloc("%.*sMAPPING = {%s}\n"
                                        "import os as _pm_os  # python-mpi: MAPPING relative to this file\n"
                                        "MAPPING = {_k: _pm_os.path.normpath(_pm_os.path.join("
                                        "_pm_os.path.dirname(__file__), _v)) for _k, _v in MAPPING.items()}\n"
                                        "del _pm_os\n%s", (int)m.start, text, pairs, text + m.end) : NULL;
    free(pairs);
    pm_envmap_free(&m);
    return res;
}

char *pm_envscan_rewrite_pth(const pm_envexts *x, const char *site, const char *root, char *text,
                             int *changed)
{
    char *res = strdup("");
    *changed = 0;
    for (char *line = text, *next; res && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *trim = strdup(line);
        size_t n = trim ? rtrim(trim) : 0;
        char *real = n && trim[0] != '#' && !pth_runs(trim) ? pm_envscan_outside(site, trim, root) : NULL;
        size_t idx = pm_envexts_index(x, real);
        char *more = idx ? pm_printf_alloc("%s../../python-mpi-ext/%zu\n", res, idx - 1)
                         : pm_printf_alloc("%s%s\n", res, line);
        *changed |= idx != 0;
        free(real);
        free(trim);
        free(res);
        res = more;
    }
    return res;
}

int pm_envscan_overlay(const pm_envexts *x, const char *site, const char *root, const char *out, int *any,
                       pm_err *err)
{
    DIR *d = opendir(site);
    *any = 0;
    if (!d)
        return 0;
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d));) {
        if (!is_candidate(e->d_name))
            continue;
        char *text = NULL, *res;
        size_t len = 0;
        int changed = 0;
        if (pm_read_file_at(dirfd(d), e->d_name, 0, TEXT_MAX, &text, &len, NULL) != 0)
            continue;
        if (pm_envkey_is_finder(e->d_name))
            res = pm_envscan_rewrite_finder(x, site, root, text, &changed);
        else
            res = pm_envscan_rewrite_pth(x, site, root, text, &changed);
        if (!res) {
            pm_err_set(err, NULL, "out of memory");
            rc = -1;
        } else if (changed) {
            char *path = pm_path_join(out, e->d_name);
            rc = path ? pm_envstore_write_new(path, res, 0644, err) : -1;
            if (!path)
                pm_err_set(err, NULL, "out of memory");
            free(path);
            *any = 1;
        }
        free(res);
        free(text);
    }
    closedir(d);
    return rc;
}
