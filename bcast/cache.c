/* cache.c - stamps of delivered bundles (see cache.h). */
#include "cache.h"
#include "fileio.h"
#include "log.h"
#include "mpi_util.h"
#include "strutil.h"
#include "trust.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STAMPS_OLD PM_STAMPS ".old"
#define STAMPS_NEW PM_STAMPS ".new"
#define STAMPS_MAX ((size_t)1 << 20)   /* far more lines than any job has bundles */

void pm_bundle_id_of(const struct stat *st, pm_bundle_id *id)
{
    id->size = (uint64_t)st->st_size;
    id->mtime_sec = (uint64_t)st->st_mtim.tv_sec;
    id->mtime_nsec = (uint64_t)st->st_mtim.tv_nsec;
    id->ctime_sec = (uint64_t)st->st_ctim.tv_sec;
    id->ctime_nsec = (uint64_t)st->st_ctim.tv_nsec;
    id->ino = (uint64_t)st->st_ino;
    id->dev = (uint64_t)st->st_dev;
}

static char *stamps_path(const char *dir, const char *name)
{
    return pm_path_join(dir, name);
}

/* dir, checked and opened (trust.h); -1 after printing why. */
static int open_dir(const char *dir)
{
    return pm_trust_open_or_say(dir, PM_TRUST_MINE, NULL);
}

void pm_cache_begin(const char *dir)
{
    int fd = open_dir(dir);
    if (fd < 0)
        return;
    if (renameat(fd, PM_STAMPS, fd, STAMPS_OLD) != 0 && errno != ENOENT) {
        char *cur = stamps_path(dir, PM_STAMPS);
        pm_error(cur ? cur : dir, "cannot set aside: %s", strerror(errno));
        free(cur);
    }
    close(fd);
}

/* The text of the regular file name in dir (never through a link, at most
 * STAMPS_MAX bytes); NULL if there is none or it cannot be read. */
static char *read_stamps(int dir, const char *name)
{
    char *text;
    size_t len;
    return pm_read_file_at(dir, name, O_NOFOLLOW, STAMPS_MAX, &text, &len, NULL) == 0 ? text : NULL;
}

int pm_cache_end(const char *dir, int ok, const pm_bundle_id *ids, const uint64_t *hashes,
                 char *const *paths, size_t n)
{
    int fd = open_dir(dir);
    if (fd < 0)
        return -1;
    int rc = 0;
    char *cur = stamps_path(dir, PM_STAMPS);
    if (!cur) {
        pm_error(dir, "out of memory");
        close(fd);
        return -1;
    }
    if (!ok) {
        if (unlinkat(fd, STAMPS_OLD, 0) != 0 && errno != ENOENT)
            pm_error(cur, "cannot remove the old stamps: %s", strerror(errno));
        free(cur);
        close(fd);
        return 0;
    }
    char *old = read_stamps(fd, STAMPS_OLD);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) {
        rc = -1;
    } else {
        if (old)
            fputs(old, mem);
        for (size_t i = 0; i < n; i++)
            fprintf(mem, "%llu %llu %llu %llu %llu %llu %llu %016llx %s\n",
                    (unsigned long long)ids[i].size, (unsigned long long)ids[i].mtime_sec,
                    (unsigned long long)ids[i].mtime_nsec, (unsigned long long)ids[i].ctime_sec,
                    (unsigned long long)ids[i].ctime_nsec, (unsigned long long)ids[i].ino,
                    (unsigned long long)ids[i].dev, (unsigned long long)hashes[i], paths[i]);
        if (fclose(mem) != 0)
            rc = -1;
    }
    free(old);
    if (rc != 0) {
        pm_error(cur, "out of memory");
    } else {
        /* A fresh file, never one somebody put there (nobody else can
         * write in dir; a leftover of ours from a crash goes first). */
        (void)unlinkat(fd, STAMPS_NEW, 0);
        int out = openat(fd, STAMPS_NEW, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0 || pm_write_full(out, text, len) != 0 || close(out) != 0 ||
            renameat(fd, STAMPS_NEW, fd, PM_STAMPS) != 0) {
            pm_error(cur, "cannot write: %s", strerror(errno));
            (void)unlinkat(fd, STAMPS_NEW, 0);
            rc = -1;
        }
        if (unlinkat(fd, STAMPS_OLD, 0) != 0 && errno != ENOENT)
            pm_error(cur, "cannot remove the old stamps: %s", strerror(errno));
    }
    free(text);
    free(cur);
    close(fd);
    return rc;
}

/* Does the stamps text hold a line for id? */
static int stamped(const char *text, const pm_bundle_id *id)
{
    const char *p = text;
    while (p && *p) {
        unsigned long long v[PM_BUNDLE_ID_WORDS];
        if (sscanf(p, "%llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                   &v[5], &v[6]) == PM_BUNDLE_ID_WORDS &&
            v[0] == id->size && v[1] == id->mtime_sec && v[2] == id->mtime_nsec &&
            v[3] == id->ctime_sec && v[4] == id->ctime_nsec && v[5] == id->ino && v[6] == id->dev)
            return 1;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return 0;
}

int pm_cache_lookup(const pm_topology *t, const pm_pkglist *bundles, const char *dir)
{
    size_t n = bundles->n;
    pm_bundle_id *ids = calloc(n ? n : 1, sizeof *ids);
    int miss = !ids;
    if (t->rank == 0) {
        for (size_t i = 0; !miss && i < n; i++) {
            struct stat st;
            if (stat(bundles->paths[i], &st) != 0)
                miss = 1;   /* the delivery will report it */
            else
                pm_bundle_id_of(&st, &ids[i]);
        }
    }
    if (pm_agree_failed(t->world, miss)) {
        free(ids);
        return 0;
    }
    if (pm_mpi_check(MPI_Bcast(ids, (int)(n * PM_BUNDLE_ID_WORDS), MPI_UINT64_T, 0, t->world),
                     "MPI_Bcast(bundle ids)")) {
        free(ids);
        return 0;
    }
    if (t->leaders != MPI_COMM_NULL) {
        char *why = NULL;
        int fd = pm_trust_open(dir, PM_TRUST_MINE, NULL, NULL, &why);
        free(why);   /* a miss: the delivery that follows says why */
        char *text = fd >= 0 ? read_stamps(fd, PM_STAMPS) : NULL;
        if (fd >= 0)
            close(fd);
        for (size_t i = 0; i < n; i++)
            if (!text || !stamped(text, &ids[i]))
                miss = 1;
        free(text);
    }
    free(ids);
    return !pm_agree_failed(t->world, miss);
}
