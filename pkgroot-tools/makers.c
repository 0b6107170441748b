/* makers.c - the makers' site and bin directories (see makers.h). */
#include "makers.h"
#include "log.h"
#include "shebang.h"
#include "strutil.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    return (pm_ends_with(rel, ".dist-info") || pm_ends_with(rel, ".egg-info") || pm_ends_with(rel, ".virtualenv")) &&
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
