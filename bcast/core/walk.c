/* walk.c - visiting a directory tree (see walk.h). */
#include "walk.h"

#include "strutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The first failure, kept while the walk goes on. */
static void note(int *failed, int *first_errno)
{
    if (!*failed) {
        *failed = 1;
        *first_errno = errno ? errno : ENOMEM;
    }
}

static int walk(const char *dir, pm_walk_fn fn, void *ctx, int *failed, int *first_errno)
{
    DIR *d = opendir(dir);
    if (!d) {
        note(failed, first_errno);
        return 0;
    }
    int stop = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno)
                note(failed, first_errno);
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = pm_path_join(dir, e->d_name);
        struct stat st;
        if (!p || lstat(p, &st) != 0) {
            if (!p)
                errno = ENOMEM;
            note(failed, first_errno);
        } else {
            int r = fn(p, &st, ctx);
            if (r == 0 && S_ISDIR(st.st_mode))
                r = walk(p, fn, ctx, failed, first_errno);
            if (r != 0 && r != PM_WALK_SKIP)
                stop = r;
        }
        free(p);
        if (stop)
            break;
    }
    closedir(d);
    return stop;
}

int pm_walk(const char *dir, pm_walk_fn fn, void *ctx)
{
    int failed = 0, first_errno = 0;
    int r = walk(dir, fn, ctx, &failed, &first_errno);
    if (r != 0)
        return r;
    if (failed) {
        errno = first_errno;
        return -1;
    }
    return 0;
}
