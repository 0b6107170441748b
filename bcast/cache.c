/* cache.c - stamps of delivered bundles (see cache.h). */
#include "cache.h"
#include "log.h"
#include "mpi_util.h"
#include "strutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void pm_bundle_id_of(const struct stat *st, pm_bundle_id *id)
{
    id->size = (uint64_t)st->st_size;
    id->mtime_sec = (uint64_t)st->st_mtim.tv_sec;
    id->mtime_nsec = (uint64_t)st->st_mtim.tv_nsec;
    id->ino = (uint64_t)st->st_ino;
    id->dev = (uint64_t)st->st_dev;
}

static char *stamps_path(const char *dir, const char *suffix)
{
    return pm_printf_alloc("%s/%s%s", dir, PM_STAMPS, suffix);
}

void pm_cache_begin(const char *dir)
{
    char *cur = stamps_path(dir, ""), *old = stamps_path(dir, ".old");
    if (cur && old && rename(cur, old) != 0 && errno != ENOENT)
        pm_error(cur, "cannot set aside: %s", strerror(errno));
    free(cur);
    free(old);
}

int pm_cache_end(const char *dir, int ok, const pm_bundle_id *ids, const uint64_t *hashes,
                 char *const *paths, size_t n)
{
    char *cur = stamps_path(dir, ""), *old = stamps_path(dir, ".old");
    int rc = 0;
    if (!cur || !old) {
        pm_error(dir, "out of memory");
        rc = -1;
    } else if (!ok) {
        if (unlink(old) != 0 && errno != ENOENT)
            pm_error(old, "cannot remove: %s", strerror(errno));
    } else {
        if (rename(old, cur) != 0 && errno != ENOENT) {
            pm_error(cur, "cannot restore: %s", strerror(errno));
            rc = -1;
        }
        FILE *f = rc == 0 ? fopen(cur, "a") : NULL;
        if (rc == 0 && !f) {
            pm_error(cur, "cannot write: %s", strerror(errno));
            rc = -1;
        }
        for (size_t i = 0; f && i < n; i++)
            fprintf(f, "%llu %llu %llu %llu %llu %016llx %s\n",
                    (unsigned long long)ids[i].size, (unsigned long long)ids[i].mtime_sec,
                    (unsigned long long)ids[i].mtime_nsec, (unsigned long long)ids[i].ino,
                    (unsigned long long)ids[i].dev, (unsigned long long)hashes[i], paths[i]);
        if (f && fclose(f) != 0) {
            pm_error(cur, "cannot write: %s", strerror(errno));
            rc = -1;
        }
    }
    free(cur);
    free(old);
    return rc;
}

/* Does the stamps text hold a line for id? */
static int stamped(const char *text, const pm_bundle_id *id)
{
    const char *p = text;
    while (p && *p) {
        unsigned long long v[5];
        if (sscanf(p, "%llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4]) == 5 &&
            v[0] == id->size && v[1] == id->mtime_sec && v[2] == id->mtime_nsec &&
            v[3] == id->ino && v[4] == id->dev)
            return 1;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return 0;
}

static char *read_small_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&text, &cap, '\0', f);
    fclose(f);
    if (n < 0) {
        free(text);
        return NULL;
    }
    return text;
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
    if (pm_mpi_check(MPI_Bcast(ids, (int)(n * 5), MPI_UINT64_T, 0, t->world), "MPI_Bcast(bundle ids)")) {
        free(ids);
        return 0;
    }
    if (t->leaders != MPI_COMM_NULL) {
        char *path = stamps_path(dir, "");
        char *text = path ? read_small_file(path) : NULL;
        for (size_t i = 0; i < n; i++)
            if (!text || !stamped(text, &ids[i]))
                miss = 1;
        free(text);
        free(path);
    }
    free(ids);
    return !pm_agree_failed(t->world, miss);
}
