/* makers.c - the makers' shared options and their site/bin directories
 * (see makers.h). */
#include "makers.h"
#include "log.h"
#include "shebang.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* "--name VALUE" or "--name=VALUE" (also "-r VALUE", "-rVALUE"): the
 * value, advancing *i past it; NULL if a is not this option. */
static const char *opt_value(char **args, int n, int *i, const char *a, const char *name,
                             int *missing)
{
    size_t len = strlen(name);
    if (strncmp(a, name, len) != 0)
        return NULL;
    if (a[len] == '\0') {
        if (*i + 1 >= n) {
            *missing = 1;
            return NULL;
        }
        return args[++*i];
    }
    if (a[len] == '=' && name[1] == '-')
        return a + len + 1;
    if (name[1] != '-')   /* short option with the value attached */
        return a + len;
    return NULL;
}

int pk_make_args(char **args, int n, int which, pk_make_opts *o)
{
    memset(o, 0, sizeof *o);
    /* At most n values: room enough, whatever the mix. */
    o->reqs = calloc((size_t)n + 1, sizeof *o->reqs);
    o->links = calloc((size_t)n + 1, sizeof *o->links);
    if (!o->reqs || !o->links) {
        pm_error(NULL, "out of memory");
        return PK_USAGE_SAID;
    }
    struct { const char *name; int *flag; int which; } flags[] = {
        {"--keep-caches", &o->x.keep_caches, 0},
        {"--keep-tests", &o->x.keep_tests, 0},
        {"--keep-docs", &o->x.keep_docs, 0},
        {"--keep-installers", &o->keep_installers, PK_OPT_VENV},
        {"--keep-static", &o->keep_static, PK_OPT_CONDA},
        {"--keep-include", &o->keep_include, PK_OPT_CONDA},
        {"--keep-conda-meta", &o->keep_conda_meta, PK_OPT_CONDA},
        {"--full-stdlib", &o->full_stdlib, PK_OPT_CONDA},
    };
    int k = 0, opts = 1;
    for (int i = 0; i < n; i++) {
        const char *a = args[i], *v;
        int missing = 0, known = 0;
        if (!opts || a[0] != '-' || a[1] == '\0') {
            args[k++] = args[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            opts = 0;
            continue;
        }
        if (strcmp(a, "-v") == 0) {
            o->verbose = o->x.verbose = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            o->help = 1;
            continue;
        }
        for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++)
            if (strcmp(a, flags[f].name) == 0 && (!flags[f].which || (which & flags[f].which))) {
                *flags[f].flag = 1;
                known = 1;
            }
        if (known)
            continue;
        if (which & PK_OPT_PIP) {
            if ((v = opt_value(args, n, &i, a, "--requirement", &missing)) ||
                (!missing && (v = opt_value(args, n, &i, a, "-r", &missing)))) {
                o->reqs[o->nreqs++] = (char *)v;
                continue;
            }
            if (!missing && ((v = opt_value(args, n, &i, a, "--find-links", &missing)) ||
                             (!missing && (v = opt_value(args, n, &i, a, "-f", &missing))))) {
                o->links[o->nlinks++] = (char *)v;
                continue;
            }
            if (missing) {
                pm_error(NULL, "%s needs an argument", a);
                return PK_USAGE_SAID;
            }
        }
        return -1;
    }
    return k;
}

void pk_make_opts_free(pk_make_opts *o)
{
    free(o->reqs);
    free(o->links);
    o->reqs = o->links = NULL;
}

int pk_name_matches(const char *name, const char *const *patterns)
{
    for (; patterns && *patterns; patterns++) {
        size_t n = strlen(*patterns);
        if (n && (*patterns)[n - 1] == '*' ? strncasecmp(name, *patterns, n - 1) == 0
                                           : strcasecmp(name, *patterns) == 0)
            return 1;
    }
    return 0;
}

static const char *base_name(const char *rel)
{
    const char *s = strrchr(rel, '/');
    return s ? s + 1 : rel;
}

/* A distribution's normalised project name from "Name-1.0.dist-info". */
static int project_is(const char *entry, const char *const *names)
{
    size_t n = strcspn(entry, "-");
    for (; *names; names++) {
        size_t m = strlen(*names);
        if (n != m)
            continue;
        size_t i = 0;
        for (; i < n; i++) {
            char c = (char)tolower((unsigned char)entry[i]);
            if (c == '.' || c == '-')
                c = '_';
            if (c != (*names)[i])
                break;
        }
        if (i == n)
            return 1;
    }
    return 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t ls = strlen(s), lf = strlen(suf);
    return ls >= lf && strcmp(s + ls - lf, suf) == 0;
}

/* What a venv holds only to install things: pip, setuptools, wheel, their
 * import-time helpers (setuptools' distutils-precedence.pth imports
 * _distutils_hack: it must go with it) and metadata. */
static int is_installer(const char *rel)
{
    static const char *const tops[] = {
        "pip", "setuptools", "wheel", "_distutils_hack", "pkg_resources",
        "distutils-precedence.pth", NULL,
    };
    static const char *const projects[] = {"pip", "setuptools", "wheel", NULL};
    if (strchr(rel, '/'))
        return 0;
    for (const char *const *t = tops; *t; t++)
        if (strcmp(rel, *t) == 0)
            return 1;
    return (ends_with(rel, ".dist-info") || ends_with(rel, ".egg-info") || ends_with(rel, ".virtualenv")) &&
           project_is(rel, projects);
}

typedef struct site_ctx {
    pk_make_opts *o;
    int installers;
} site_ctx;

static int site_entry(void *ctx, pk_entry *e)
{
    site_ctx *c = ctx;
    int is_dir = S_ISDIR(e->st->st_mode);
    pk_ex_kind kind = pk_exclude_kind(&c->o->x, base_name(e->rel), is_dir, e->rel, NULL);
    if (kind == PK_EX_NONE && c->installers && is_installer(e->rel))
        kind = PK_EX_INSTALLER;
    if (kind == PK_EX_NONE)
        return PK_ADD;
    pk_exclude_note(&c->o->x, kind, e->src, e->st);
    return PK_SKIP;
}

int pk_add_site(pk_writer *w, const char *src, pk_make_opts *o, int installers)
{
    site_ctx c = {o, installers};
    return pk_writer_add_tree_with(w, src, PK_SITE_DEST, NULL, site_entry, &c);
}

typedef struct bin_ctx {
    pk_make_opts *o;
    const char *const *venv_own, *const *installers;
} bin_ctx;

static int bin_entry(void *ctx, pk_entry *e)
{
    bin_ctx *c = ctx;
    const char *base = base_name(e->rel);
    int top = strchr(e->rel, '/') == NULL;
    pk_ex_kind kind = top && pk_name_matches(base, c->venv_own) ? PK_EX_VENV
                    : top && pk_name_matches(base, c->installers) ? PK_EX_INSTALLER
                    : pk_exclude_kind(&c->o->x, base, S_ISDIR(e->st->st_mode), NULL, NULL);
    if (kind != PK_EX_NONE) {
        pk_exclude_note(&c->o->x, kind, e->src, e->st);
        return PK_SKIP;
    }
    if (S_ISREG(e->st->st_mode) && pk_shebang_rewrite(e->src, e->st, NULL, &e->data, &e->len) < 0)
        return -1;
    return PK_ADD;
}

int pk_add_bin(pk_writer *w, const char *src, pk_make_opts *o, const char *const *venv_own,
               const char *const *installers)
{
    bin_ctx c = {o, venv_own, installers};
    return pk_writer_add_tree_with(w, src, "bin", NULL, bin_entry, &c);
}
