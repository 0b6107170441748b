/* cache.c - the marker and stamps of deliveries (see cache.h). */
#include "cache.h"
#include "fileio.h"
#include "log.h"
#include "say.h"
#include "mpi_util.h"
#include "strutil.h"
#include "trust.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STAMPS_OLD PM_STAMPS ".old"   /* left by versions before the marker */
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
    return pm_trust_open_say(dir, PM_TRUST_MINE, NULL);
}

int pm_cache_begin(const char *dir)
{
    int fd = open_dir(dir);
    if (fd < 0)
        return -1;
    int rc = 0;
    const char *what = "cannot mark as changing";
    /* The marker first: a crash before the stamps are gone still leaves
     * a tree nobody trusts. */
    int m = openat(fd, PM_CHANGING, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (m >= 0) {
        if (close(m) != 0)
            rc = -1;
    } else if (errno == EEXIST) {
        struct stat st;   /* an earlier one of ours: still marked */
        if (fstatat(fd, PM_CHANGING, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
            errno = EEXIST;
            rc = -1;
        }
    } else {
        rc = -1;
    }
    if (rc == 0) {
        what = "cannot remove the stamps";
        static const char *const gone[] = {PM_STAMPS, STAMPS_NEW, STAMPS_OLD};
        for (size_t i = 0; rc == 0 && i < sizeof gone / sizeof gone[0]; i++)
            if (unlinkat(fd, gone[i], 0) != 0 && errno != ENOENT)
                rc = -1;
    }
    if (rc != 0) {
        char *cur = stamps_path(dir, PM_CHANGING);
        pm_error(cur ? cur : dir, "%s: %s", what, strerror(errno));
        free(cur);
    }
    close(fd);
    return rc;
}

/* The text of the regular file name in dir (never through a link, at most
 * STAMPS_MAX bytes); NULL if there is none or it cannot be read. */
static char *read_stamps(int dir, const char *name)
{
    char *text;
    size_t len;
    return pm_read_file_at(dir, name, O_NOFOLLOW, STAMPS_MAX, &text, &len, NULL) == 0 ? text : NULL;
}

/* The stamps text for n bundles; NULL if out of memory. */
static char *format_stamps(const pm_bundle_id *ids, const uint64_t *hashes, char *const *paths,
                           size_t n, size_t *len)
{
    char *text = NULL;
    FILE *mem = open_memstream(&text, len);
    if (!mem)
        return NULL;
    fprintf(mem, "%s\n", PM_STAMPS_MAGIC);
    for (size_t i = 0; i < n; i++)
        fprintf(mem, "%llu %llu %llu %llu %llu %llu %llu %016llx %s\n",
                (unsigned long long)ids[i].size, (unsigned long long)ids[i].mtime_sec,
                (unsigned long long)ids[i].mtime_nsec, (unsigned long long)ids[i].ctime_sec,
                (unsigned long long)ids[i].ctime_nsec, (unsigned long long)ids[i].ino,
                (unsigned long long)ids[i].dev, (unsigned long long)hashes[i], paths[i]);
    if (fclose(mem) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

int pm_cache_end(const char *dir, int ok, const pm_bundle_id *ids, const uint64_t *hashes,
                 char *const *paths, size_t n)
{
    if (!ok)   /* the marker stays: the tree may be partly overwritten */
        return 0;
    int fd = open_dir(dir);
    if (fd < 0)
        return -1;
    int rc = 0;
    char *cur = stamps_path(dir, PM_STAMPS);
    size_t len = 0;
    char *text = cur ? format_stamps(ids, hashes, paths, n, &len) : NULL;
    if (!text) {
        pm_error(dir, "out of memory");
        rc = -1;
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
        } else if (unlinkat(fd, PM_CHANGING, 0) != 0) {
            /* Stamps and marker both: still untrusted, as it should be. */
            pm_error(cur, "cannot remove the marker " PM_CHANGING ": %s", strerror(errno));
            rc = -1;
        }
    }
    free(text);
    free(cur);
    close(fd);
    return rc;
}

int pm_cache_interrupted(int dirfd)
{
    struct stat st;
    if (fstatat(dirfd, PM_CHANGING, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return 1;
    return errno == ENOENT ? 0 : -1;
}

/* Does line p (up to its newline) carry exactly id? */
static int line_is(const char *p, const pm_bundle_id *id)
{
    unsigned long long v[PM_BUNDLE_ID_WORDS];
    return sscanf(p, "%llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                  &v[5], &v[6]) == PM_BUNDLE_ID_WORDS &&
           v[0] == id->size && v[1] == id->mtime_sec && v[2] == id->mtime_nsec &&
           v[3] == id->ctime_sec && v[4] == id->ctime_nsec && v[5] == id->ino && v[6] == id->dev;
}

/* Does the stamps text describe exactly ids[0..n), in order? */
static int stamps_match(const char *text, const pm_bundle_id *ids, size_t n)
{
    size_t magic = strlen(PM_STAMPS_MAGIC);
    if (strncmp(text, PM_STAMPS_MAGIC, magic) != 0 || text[magic] != '\n')
        return 0;
    const char *p = text + magic + 1;
    for (size_t i = 0; i < n; i++) {
        if (!*p || !line_is(p, &ids[i]))
            return 0;
        p = strchr(p, '\n');
        if (!p)
            return 0;
        p++;
    }
    return *p == '\0';
}

int pm_cache_holds(int dirfd, const pm_bundle_id *ids, size_t n)
{
    if (pm_cache_interrupted(dirfd) != 0)
        return 0;
    char *text = read_stamps(dirfd, PM_STAMPS);
    int hit = text && stamps_match(text, ids, n);
    free(text);
    return hit;
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
        if (fd < 0 || !pm_cache_holds(fd, ids, n))
            miss = 1;
        if (fd >= 0)
            close(fd);
    }
    free(ids);
    return !pm_agree_failed(t->world, miss);
}
