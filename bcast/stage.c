/* stage.c - naming, creating and removing the node-local job directory. */
#include "stage.h"
#include "jobdir.h"
#include "log.h"
#include "mpi_util.h"
#include "strutil.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Rank 0's string to every rank: length first, then the bytes. */
static char *bcast_string(const pm_topology *t, char *mine)
{
    unsigned long long len = mine ? strlen(mine) : 0;
    if (pm_mpi_check(MPI_Bcast(&len, 1, MPI_UNSIGNED_LONG_LONG, 0, t->world),
                     "MPI_Bcast(name length)"))
        return NULL;
    if (len == 0 || len > (1u << 20))
        return NULL;
    char *s = t->rank == 0 ? mine : malloc(len + 1);
    if (!s)
        pm_error(NULL, "out of memory");
    /* Every rank must still enter the broadcast: use a scratch byte. */
    char scratch;
    int rc = MPI_Bcast(s ? s : &scratch, s ? (int)len : 1, MPI_CHAR, 0, t->world);
    if (pm_mpi_check(rc, "MPI_Bcast(name)") || !s) {
        if (t->rank != 0)
            free(s);
        return NULL;
    }
    s[len] = '\0';
    return s;
}

/* An explicit prefix: create it if missing; it must be our own directory. */
static int ensure_prefix(const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        pm_error(dir, "cannot create directory: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(dir, &st) != 0) {
        pm_error(dir, "cannot stat: %s", strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
        pm_error(dir, "refusing to use: %s", S_ISLNK(st.st_mode) ? "it is a symbolic link"
                 : !S_ISDIR(st.st_mode) ? "not a directory" : "owned by another user");
        return -1;
    }
    return 0;
}

static char *chroot_userdir(const char *chroot)
{
    char *real = realpath(chroot, NULL);
    if (!real) {
        pm_error(chroot, "cannot use as PYTHON_MPI_CHROOT: %s", strerror(errno));
        return NULL;
    }
    char *u = pm_userdir_path(real, geteuid());
    free(real);
    if (!u)
        pm_error(NULL, "out of memory");
    return u;
}

int pm_stage_open(pm_stage *s, const pm_topology *t, const char *chroot,
                  const char *prefix)
{
    memset(s, 0, sizeof *s);
    int failed = 0;
    char *name = NULL;

    if (prefix) {
        if (prefix[0] != '/') {
            if (t->rank == 0)
                pm_error(prefix, "prefix must be an absolute path");
            failed = 1;
        } else if (!(s->dir = strdup(prefix))) {
            pm_error(NULL, "out of memory");
            failed = 1;
        }
        if (!failed && t->leaders != MPI_COMM_NULL && ensure_prefix(s->dir) != 0)
            failed = 1;
    } else {
        char *mine = t->rank == 0 ? pm_run_name() : NULL;
        if (t->rank == 0 && !mine)
            pm_error(NULL, "out of memory");
        name = bcast_string(t, mine);
        if (!name) {
            failed = 1;
        } else if (t->leaders != MPI_COMM_NULL) {
            char *userdir = chroot_userdir(chroot);
            if (!userdir || pm_userdir_ensure(userdir) != 0) {
                failed = 1;
            } else if (!(s->dir = pm_path_join(userdir, name))) {
                pm_error(NULL, "out of memory");
                failed = 1;
            } else if (pm_mkdir_private(s->dir) == 0) {
                s->owned = 1;
            } else {
                failed = 1;
            }
            free(userdir);
        }
    }
    failed = pm_agree_failed(t->world, failed);
    /* Non-leaders learn the path too: the same string on every node. */
    if (!failed && !prefix && t->leaders == MPI_COMM_NULL) {
        char *userdir = chroot_userdir(chroot);
        s->dir = userdir ? pm_path_join(userdir, name) : NULL;
        free(userdir);
        if (!s->dir)
            failed = 1;
        failed = pm_agree_failed(t->world, failed);
    } else if (!failed && !prefix) {
        failed = pm_agree_failed(t->world, 0);
    }
    free(name);
    if (failed) {
        if (s->owned)
            (void)pm_rmtree(s->dir);
        pm_stage_free(s);
        return 1;
    }
    return 0;
}

int pm_stage_remove(pm_stage *s, const pm_topology *t)
{
    int rc = 0;
    if (s->owned && t->leaders != MPI_COMM_NULL)
        rc = pm_rmtree(s->dir);
    pm_stage_free(s);
    return rc;
}

void pm_stage_free(pm_stage *s)
{
    free(s->dir);
    memset(s, 0, sizeof *s);
}
