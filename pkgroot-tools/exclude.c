/* exclude.c - the makers' default exclusions (see exclude.h). */
#include "exclude.h"
#include "log.h"
#include "strutil.h"
#include "walk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const pk_stdlib_skip[] = {
    "test", "idlelib", "tkinter", "turtledemo", "turtle.py", "ensurepip",
    "lib2to3/tests", "distutils/tests", "unittest/test", "ctypes/test",
    "sqlite3/test", "site-packages", "dist-packages", "config-*", NULL,
};

int pk_stdlib_trimmed(const char *rel)
{
    for (const char *const *p = pk_stdlib_skip; *p; p++) {
        size_t n = strlen(*p);
        if (strcmp(*p, "site-packages") == 0 || strcmp(*p, "dist-packages") == 0)
            continue;
        if (n && (*p)[n - 1] == '*' ? strncmp(rel, *p, n - 1) == 0 : strcmp(rel, *p) == 0)
            return 1;
    }
    return 0;
}

static int one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

pk_ex_kind pk_exclude_kind(const pk_exclude *x, const char *base, int is_dir,
                           const char *pkg_rel, const char *prefix_rel)
{
    static const char *const cache_dirs[] = {
        "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache",
        ".cache", /* pip's cache lives in .cache/pip */
        NULL,
    };
    static const char *const test_dirs[] = {"test", "tests", NULL};
    static const char *const doc_dirs[] = {"doc", "docs", NULL};
    static const char *const prefix_docs[] = {"share/doc", "share/man", "share/info", NULL};
    if (!x->keep_caches) {
        if (is_dir ? one_of(base, cache_dirs) : pm_ends_with(base, ".pyc") || pm_ends_with(base, ".pyo"))
            return PK_EX_CACHE;
    }
    /* Inside a package: a name that is not a top-level one (a top-level
     * package called "test" is somebody's code). */
    int in_package = pkg_rel && strchr(pkg_rel, '/') != NULL;
    if (!x->keep_tests && is_dir && in_package && one_of(base, test_dirs))
        return PK_EX_TEST;
    if (!x->keep_docs && is_dir &&
        ((in_package && one_of(base, doc_dirs)) || (prefix_rel && one_of(prefix_rel, prefix_docs))))
        return PK_EX_DOC;
    return PK_EX_NONE;
}

/* Files and bytes below a left-out directory, for -v's summary only. */
static int count_entry(const char *path, const struct stat *st, void *ctx)
{
    (void)path;
    pk_exclude *x = ctx;
    if (!S_ISDIR(st->st_mode)) {
        x->files++;
        x->bytes += S_ISREG(st->st_mode) ? (unsigned long long)st->st_size : 0;
    }
    return 0;
}

void pk_exclude_note(pk_exclude *x, pk_ex_kind kind, const char *src, const struct stat *st)
{
    if (kind <= PK_EX_NONE || kind >= PK_EX_KINDS)
        return;
    x->entries[kind]++;
    if (!x->verbose)
        return;
    if (S_ISDIR(st->st_mode))
        pm_walk(src, count_entry, x);   /* what cannot be read is not counted */
    else {
        x->files++;
        x->bytes += S_ISREG(st->st_mode) ? (unsigned long long)st->st_size : 0;
    }
}

int pk_exclude_summary(const pk_exclude *x)
{
    static const char *const what[PK_EX_KINDS][2] = {
        [PK_EX_CACHE] = {"caches", "--keep-caches"},
        [PK_EX_TEST] = {"tests", "--keep-tests"},
        [PK_EX_DOC] = {"docs", "--keep-docs"},
        [PK_EX_INSTALLER] = {"installers", "--keep-installers"},
        [PK_EX_CONDA] = {"conda's own", "--keep-conda-meta keeps conda-meta/"},
        [PK_EX_STATIC] = {"static libraries", "--keep-static"},
        [PK_EX_INCLUDE] = {"headers", "--keep-include"},
        [PK_EX_STDLIB] = {"stdlib tests and GUIs", "--full-stdlib"},
        [PK_EX_VENV] = {"venv's python, pip and activate scripts", "never bundled"},
        [PK_EX_OTHER] = {"other installed data", "not bundled"},
    };
    /* Entries: a left-out directory counts once; files and bytes below. */
    int n = printf("left out %llu files, %llu bytes:", x->files, x->bytes);
    int any = 0;
    for (int k = PK_EX_NONE + 1; n >= 0 && k < PK_EX_KINDS; k++)
        if (x->entries[k]) {
            n = printf("%s %s %llu (%s)", any ? "," : "", what[k][0], x->entries[k], what[k][1]);
            any = 1;
        }
    if (n >= 0)
        n = printf("%s\n", any ? "" : " nothing");
    if (n < 0 || fflush(stdout) != 0) {
        pm_error(NULL, "stdout: %s", strerror(errno));
        return -1;
    }
    return 0;
}
