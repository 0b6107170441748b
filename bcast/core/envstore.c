/* envstore.c - PYTHON_MPI_ENV's cache directory (see envstore.h). */
#include "envstore.h"
#include "fileio.h"
#include "jobdir.h"
#include "strutil.h"
#include "trust.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The settings after the directory, in the order they are checked. */
static int read_settings(pm_envstore *s, pm_err *err)
{
    const char *v = getenv("PYTHON_MPI_CACHE_STATES");
    s->states = PM_ENVSTORE_STATES_DEFAULT;
    if (v && *v) {
        char *end;
        unsigned long n = strtoul(v, &end, 10);
        if (*end || n < 1 || n > 1000) {
            pm_err_set(err, NULL, "PYTHON_MPI_CACHE_STATES: '%s' is not a number from 1 to 1000", v);
            return -1;
        }
        s->states = (unsigned)n;
    }
    const char *chk = getenv("PYTHON_MPI_ENV_CHECK");
    if (chk && *chk && strcmp(chk, "all") != 0 && strcmp(chk, "dirs") != 0) {
        pm_err_set(err, NULL, "PYTHON_MPI_ENV_CHECK: '%s' is not all or dirs", chk);
        return -1;
    }
    s->check_dirs = chk && strcmp(chk, "dirs") == 0;
    const char *m = getenv("PYTHON_MPI_CACHE_MAX");
    size_t max = PM_ENVSTORE_MAX_DEFAULT;
    if (m && *m && pm_parse_size(m, SIZE_MAX, &max) != 0) {
        pm_err_set(err, NULL, "PYTHON_MPI_CACHE_MAX: '%s' is not a size (512M, 16G)", m);
        return -1;
    }
    s->max = max;
    return 0;
}

int pm_envstore_open(pm_envstore *s, pm_err *err)
{
    memset(s, 0, sizeof *s);
    const char *set = getenv("PYTHON_MPI_CACHE");
    const char *home = getenv("HOME");
    char *path = set && *set ? strdup(set)
               : home && *home ? pm_path_join(home, ".cache/python-mpi") : NULL;
    if (!path) {
        pm_err_set(err, NULL, "PYTHON_MPI_ENV: no cache directory: set PYTHON_MPI_CACHE (HOME is unset)");
        return -1;
    }
    for (char *c = path + 1;; c++) {
        if (*c == '/' || !*c) {
            char keep = *c;
            *c = '\0';
            (void)mkdir(path, 0700);   /* failures show in the check below */
            *c = keep;
            if (!keep)
                break;
        }
    }
    char *why = NULL;
    int fd = pm_trust_open(path, PM_TRUST_RESOLVE | PM_TRUST_MINE | PM_TRUST_PRIVATE, NULL, &s->root, &why);
    if (fd < 0) {
        pm_err_set(err, path, "PYTHON_MPI_CACHE: refusing to use the cache: %s", why ? why : "out of memory");
        free(why);
        free(path);
        return -1;
    }
    close(fd);
    free(path);
    if (strchr(s->root, '\n')) {
        pm_err_set(err, s->root, "PYTHON_MPI_CACHE: a newline in the path");
        return -1;
    }
    return read_settings(s, err);
}

void pm_envstore_close(pm_envstore *s)
{
    free(s->root);
    s->root = NULL;
}

int pm_envstore_dir_ok(const char *path, pm_err *err)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        pm_err_set(err, path, "PYTHON_MPI_CACHE: %s", strerror(errno));
        return 0;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
        pm_err_set(err, path, "PYTHON_MPI_CACHE: refusing to use: not a private directory of ours "
                   "(uid %u, mode %04o)", (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        return 0;
    }
    return 1;
}

int pm_envstore_mkdir(const char *path, pm_err *err)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        pm_err_set(err, path, "PYTHON_MPI_CACHE: %s", strerror(errno));
        return 0;
    }
    return pm_envstore_dir_ok(path, err);
}

int pm_envstore_read(const char *state, char **list, pm_err *err)
{
    struct stat st;
    if (lstat(state, &st) != 0) {
        if (errno == ENOENT)
            return 1;
        pm_err_set(err, state, "PYTHON_MPI_CACHE: %s", strerror(errno));
        return -1;
    }
    if (!pm_envstore_dir_ok(state, err))
        return -1;
    int dfd = open(state, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    char *text = NULL;
    size_t len = 0;
    if (dfd < 0 || pm_read_file_at(dfd, "bundles", O_NOFOLLOW, 1 << 16, &text, &len, &st) != 0) {
        pm_err_set(err, state, "PYTHON_MPI_CACHE: a state without its list of bundles: %s", strerror(errno));
        if (dfd >= 0)
            close(dfd);
        return -1;
    }
    int rc = 0;
    for (char *line = text, *next; rc == 0 && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        struct stat bst;
        if (strchr(line, '/') || line[0] == '.' || fstatat(dfd, line, &bst, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(bst.st_mode) || bst.st_uid != geteuid()) {
            pm_err_set(err, state, "PYTHON_MPI_CACHE: refusing the cached state: bundle '%s' missing or not ours",
                       line);
            rc = -1;
            break;
        }
        char *more = pm_printf_alloc("%s%s/%s\n", *list ? *list : "", state, line);
        if (!more) {
            pm_err_set(err, NULL, "out of memory");
            rc = -1;
            break;
        }
        free(*list);
        *list = more;
    }
    free(text);
    /* Used now: the newest, the last to be removed. */
    (void)utimensat(AT_FDCWD, state, NULL, 0);
    close(dfd);
    return rc;
}

int pm_envstore_write_new(const char *path, const char *data, mode_t mode, pm_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0 || pm_write_full(fd, data, strlen(data)) != 0 || fsync(fd) != 0) {
        pm_err_set(err, path, "PYTHON_MPI_CACHE: cannot write: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (close(fd) != 0) {
        pm_err_set(err, path, "PYTHON_MPI_CACHE: cannot write: %s", strerror(errno));
        return -1;
    }
    return 0;
}

char *pm_envstore_tmp_name(const char *envdir, const char *key, const char *node, long pid)
{
    return pm_printf_alloc("%s/.tmp-%s-%s-%ld", envdir, key, node, pid);
}

typedef struct state_ent { char *name; struct timespec mtime; uint64_t bytes; } state_ent;

static int by_newest(const void *a, const void *b)
{
    const state_ent *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? 1 : -1;
    return x->mtime.tv_nsec < y->mtime.tv_nsec ? 1 : x->mtime.tv_nsec > y->mtime.tv_nsec ? -1 : 0;
}

/* The blocks of a state's regular files (a state has no subdirectory). */
static uint64_t dir_bytes(int dfd, const char *name)
{
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    uint64_t total = 0;
    struct stat st;
    for (struct dirent *e; d && (e = readdir(d));)
        if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            total += (uint64_t)st.st_blocks * 512;
    if (d)
        closedir(d);
    else if (fd >= 0)
        close(fd);
    return total;
}

size_t pm_envstore_prune(const char *envdir, const char *keep, unsigned states, uint64_t max,
                         pm_envstore_removed_fn removed, void *ctx)
{
    DIR *d = opendir(envdir);
    if (!d)
        return 0;
    state_ent *v = NULL;
    size_t n = 0, cap = 0, gone_n = 0;
    struct stat st;
    time_t now = time(NULL);
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
            continue;
        if (e->d_name[0] == '.') {
            if (strncmp(e->d_name, ".tmp-", 5) == 0 && now - st.st_mtim.tv_sec > PM_ENVSTORE_STALE_TMP_SECONDS)
                (void)pm_rmtree_at(dirfd(d), e->d_name, e->d_name, NULL);
            continue;
        }
        if (n == cap) {
            state_ent *nv = realloc(v, (cap = cap ? 2 * cap : 8) * sizeof *v);
            if (!nv)
                break;
            v = nv;
        }
        v[n].name = strdup(e->d_name);
        v[n].mtime = st.st_mtim;
        v[n].bytes = dir_bytes(dirfd(d), e->d_name);
        if (v[n].name)
            n++;
    }
    if (n)
        qsort(v, n, sizeof *v, by_newest);
    /* The one in use first: it counts against the caps, and stays. */
    uint64_t total = 0;
    unsigned others = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, keep) == 0)
            total += v[i].bytes;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].name, keep) == 0)
            continue;
        if (others + 1 < states && total + v[i].bytes <= max) {
            total += v[i].bytes;
            others++;
            continue;
        }
        char *gone = pm_printf_alloc(".tmp-gone-%s-%ld", v[i].name, (long)getpid());
        if (gone && renameat(dirfd(d), v[i].name, dirfd(d), gone) == 0) {
            if (removed)
                removed(envdir, v[i].name, ctx);
            (void)pm_rmtree_at(dirfd(d), gone, gone, NULL);
            gone_n++;
        }
        free(gone);
    }
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
    closedir(d);
    return gone_n;
}

int pm_envstore_commit(const char *tmp, const char *state, int delivered, pm_err *err)
{
    int rc = 2;
    if (delivered && rename(tmp, state) == 0) {
        rc = 0;
    } else if (delivered && errno != EEXIST && errno != ENOTEMPTY) {
        pm_err_set(err, NULL, "PYTHON_MPI_CACHE: %s: cannot rename into place: %s", state, strerror(errno));
        rc = -1;
    } else if (delivered) {
        rc = 1;
    }
    (void)pm_rmtree(tmp, NULL);   /* gone already when renamed */
    return rc;
}
