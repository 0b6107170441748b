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
#include <sys/file.h>
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

/* The longest leading part of path (absolute) that exists, resolved by
 * trust.h's rules, joined with the missing rest: the cache to create by
 * pm_trust_open's walk (no link followed, each parent checked before a
 * child is made in it).  malloc'd, or NULL with errno and *why as
 * pm_trust_realpath's (a refusal of the existing part stops here: nothing
 * is made where another user's link leads). */
static char *resolve_to_make(const char *path, char **why)
{
    char *head = strdup(path);
    if (!head)
        return NULL;
    for (;;) {
        char *real = pm_trust_realpath(head, why);
        if (!real && errno != ENOENT && *why && strcmp(*why, strerror(errno)) == 0) {
            int e = errno;   /* the bare errno of the whole path: name it */
            char *plain = *why;
            *why = pm_printf_alloc("cannot resolve %s: %s", head, plain);
            free(plain);
            errno = e;
        }
        if (real || errno != ENOENT) {
            const char *rest = path + strlen(head);   /* "" or "/missing/..." */
            char *full = real && *rest ? pm_printf_alloc("%s%s", strcmp(real, "/") ? real : "", rest) : real;
            if (full != real)
                free(real);
            if (real && !full)
                errno = ENOMEM;
            free(head);
            return full;
        }
        free(*why);
        *why = NULL;
        char *slash = strrchr(head, '/');
        if (!slash || slash == head) {   /* "/" itself is missing? */
            errno = ENOENT;
            *why = strdup(strerror(ENOENT));
            free(head);
            return NULL;
        }
        *slash = '\0';
    }
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
    if (path[0] != '/') {   /* from the working directory, as the resolver takes it */
        char *cwd = getcwd(NULL, 0);
        char *abs = cwd ? pm_path_join(cwd, path) : NULL;
        free(cwd);
        if (!abs) {
            pm_err_set(err, path, "PYTHON_MPI_CACHE: cannot learn the working directory: %s", strerror(errno));
            free(path);
            return -1;
        }
        free(path);
        path = abs;
    }
    /* Made (mkdir -p, 0700) only by the trust walk: never through a link,
     * never in a directory another user can write or owns. */
    char *why = NULL;
    char *real = resolve_to_make(path, &why);
    int fd = real ? pm_trust_open(real, PM_TRUST_CREATE_ALL | PM_TRUST_MINE | PM_TRUST_PRIVATE, NULL, NULL, &why)
                  : -1;
    if (fd < 0) {
        pm_err_set(err, path, "PYTHON_MPI_CACHE: refusing to use the cache: %s", why ? why : "out of memory");
        free(why);
        free(real);
        free(path);
        return -1;
    }
    close(fd);
    free(path);
    s->root = real;
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

/* The lists this process holds locked shared (pm_envstore_release). */
static int *held;
static size_t nheld, capheld;

void pm_envstore_release(void)
{
    for (size_t i = 0; i < nheld; i++)
        (void)close(held[i]);   /* the lock goes with the descriptor */
    free(held);
    held = NULL;
    nheld = capheld = 0;
}

static int hold(int fd)
{
    if (nheld == capheld) {
        size_t cap = capheld ? 2 * capheld : 4;
        int *nv = realloc(held, cap * sizeof *nv);
        if (!nv)
            return -1;
        held = nv;
        capheld = cap;
    }
    held[nheld++] = fd;
    return 0;
}

/* Is name (not followed) still the directory st describes? */
static int same_dir_at(int dir, const char *name, const struct stat *st)
{
    struct stat now;
    return fstatat(dir, name, &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_dev == st->st_dev &&
           now.st_ino == st->st_ino;
}

/* The state's bundle names appended to *list: 0, or -1 with the reason. */
static int list_bundles(int dfd, const char *state, char *text, char **list, pm_err *err)
{
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        struct stat bst;
        if (strchr(line, '/') || line[0] == '.' || fstatat(dfd, line, &bst, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(bst.st_mode) || bst.st_uid != geteuid()) {
            pm_err_set(err, state, "PYTHON_MPI_CACHE: refusing the cached state: bundle '%s' missing or not ours",
                       line);
            return -1;
        }
        char *more = pm_printf_alloc("%s%s/%s\n", *list ? *list : "", state, line);
        if (!more) {
            pm_err_set(err, NULL, "out of memory");
            return -1;
        }
        free(*list);
        *list = more;
    }
    return 0;
}

/* One try of pm_envstore_read: 2 when the state was pruned between our
 * look and our lock (try again). */
static int read_once(const char *state, char **list, pm_err *err)
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
    if (dfd < 0 && errno == ENOENT)
        return 2;
    int lfd = dfd >= 0 ? pm_open_regular_at(dfd, "bundles", O_NOFOLLOW, NULL) : -1;
    if (lfd < 0) {
        pm_err_set(err, state, "PYTHON_MPI_CACHE: a state without its list of bundles: %s", strerror(errno));
        if (dfd >= 0)
            close(dfd);
        return -1;
    }
    /* Shared: a prune (exclusive) skips it while we hold it; we wait out
     * one that is removing it now, and then find it gone. */
    int rc = -1;
    char *text = NULL;
    size_t len = 0;
    struct stat dst;
    int locked;
    while ((locked = flock(lfd, LOCK_SH)) != 0 && errno == EINTR)
        ;
    if (locked != 0) {
        pm_err_set(err, state, "PYTHON_MPI_CACHE: cannot lock the state: %s", strerror(errno));
    } else if (fstat(dfd, &dst) != 0 || !same_dir_at(AT_FDCWD, state, &dst)) {
        rc = 2;   /* pruned (renamed away) before we locked it */
    } else if (pm_read_fd(lfd, 1 << 16, 0, &text, &len) != 0) {
        pm_err_set(err, state, "PYTHON_MPI_CACHE: a state without its list of bundles: %s", strerror(errno));
    } else {
        rc = list_bundles(dfd, state, text, list, err);
    }
    free(text);
    if (rc == 0 && hold(lfd) != 0) {
        pm_err_set(err, NULL, "out of memory");
        rc = -1;
    }
    if (rc != 0)
        close(lfd);
    /* Used now: the newest, the last to be removed. */
    if (rc == 0)
        (void)futimens(dfd, NULL);
    close(dfd);
    return rc;
}

int pm_envstore_read(const char *state, char **list, pm_err *err)
{
    size_t had = *list ? strlen(*list) : 0;
    for (int tries = 0; tries < 8; tries++) {
        int rc = read_once(state, list, err);
        if (rc != 2) {
            if (rc < 0 && *list)   /* nothing of a refused state added */
                (*list)[had] = '\0';
            return rc;
        }
    }
    return 1;   /* pruned each time: made anew by this job */
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

typedef struct state_ent {
    char *name;
    size_t env;             /* pm_envstore_prune_cache: which environment */
    struct timespec mtime;
    uint64_t bytes;
} state_ent;

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

/* Remove the state name of dir unless a job holds it: its list locked
 * exclusively (never waiting), then renamed away and removed while
 * locked, so a job that locks it after us finds the name gone.  0 if
 * removed, -1 if kept. */
static int remove_state(int dir, const char *envdir, const char *name, pm_envstore_removed_fn removed, void *ctx)
{
    int sfd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0)
        return -1;
    /* Written to for NFS's sake: it emulates an exclusive flock with a
     * POSIX write lock.  Our own 0400 list: read-only, a local lock. */
    int lfd = openat(sfd, "bundles", O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (lfd < 0 && errno == EACCES)
        lfd = openat(sfd, "bundles", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    /* No list (or not a file): no job can use it (pm_envstore_read
     * refuses it), so nobody holds it. */
    int unusable = lfd < 0 && (errno == ENOENT || errno == ELOOP);
    struct stat st;
    int rc = -1;
    char *gone = NULL;
    if ((lfd < 0 && !unusable) || (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) != 0))
        goto out;   /* a job holds it (or cannot tell): kept */
    if (fstat(sfd, &st) != 0 || !same_dir_at(dir, name, &st))
        goto out;   /* another prune took it, or a new one is there: not ours to judge */
    gone = pm_printf_alloc(".tmp-gone-%s-%ld", name, (long)getpid());
    if (!gone || renameat(dir, name, dir, gone) != 0)
        goto out;
    if (removed)
        removed(envdir, name, ctx);
    (void)pm_rmtree_at(dir, gone, gone, NULL);
    rc = 0;
out:
    free(gone);
    if (lfd >= 0)
        close(lfd);   /* unlocked only now: the name is gone already */
    close(sfd);
    return rc;
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
        if ((others + 1 < states && total + v[i].bytes <= max) || remove_state(dirfd(d), envdir, v[i].name,
                                                                                   removed, ctx) != 0) {
            total += v[i].bytes;   /* kept: within the caps, or in use by another job */
            others++;
            continue;
        }
        gone_n++;
    }
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
    closedir(d);
    return gone_n;
}

/* The states of the environment directory d (an entry of the cache
 * numbered env) appended to *v. */
static void collect(DIR *d, size_t env, state_ent **v, size_t *n, size_t *cap)
{
    struct stat st;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISDIR(st.st_mode))
            continue;
        if (*n == *cap) {
            state_ent *nv = realloc(*v, (*cap = *cap ? 2 * *cap : 8) * sizeof **v);
            if (!nv)
                return;
            *v = nv;
        }
        state_ent *x = &(*v)[*n];
        x->name = strdup(e->d_name);
        x->env = env;
        x->mtime = st.st_mtim;
        x->bytes = dir_bytes(dirfd(d), e->d_name);
        if (x->name)
            (*n)++;
    }
}

size_t pm_envstore_prune_cache(const char *root, uint64_t max, pm_envstore_removed_fn removed, void *ctx)
{
    DIR *top = opendir(root);
    if (!top)
        return 0;
    DIR **envs = NULL;
    char **names = NULL;
    size_t nenv = 0, n = 0, cap = 0, gone_n = 0;
    state_ent *v = NULL;
    struct stat st;
    for (struct dirent *e; (e = readdir(top));) {
        if (e->d_name[0] == '.' || fstatat(dirfd(top), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISDIR(st.st_mode))
            continue;
        int fd = openat(dirfd(top), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        DIR **ne = d ? realloc(envs, (nenv + 1) * sizeof *envs) : NULL;
        char **nn = ne ? realloc(names, (nenv + 1) * sizeof *names) : NULL;
        if (ne)
            envs = ne;
        if (nn)
            names = nn;
        char *name = nn ? pm_path_join(root, e->d_name) : NULL;
        if (!name) {
            if (d)
                closedir(d);
            else if (fd >= 0)
                close(fd);
            continue;
        }
        envs[nenv] = d;
        names[nenv] = name;
        collect(d, nenv++, &v, &n, &cap);
    }
    if (n)
        qsort(v, n, sizeof *v, by_newest);
    /* Newest first; what does not fit goes, unless a job holds it (this
     * job's own states among them: it holds them until its delivery is
     * done), and then it counts. */
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (total + v[i].bytes <= max ||
            remove_state(dirfd(envs[v[i].env]), names[v[i].env], v[i].name, removed, ctx) != 0)
            total += v[i].bytes;
        else
            gone_n++;
    }
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
    for (size_t i = 0; i < nenv; i++) {
        closedir(envs[i]);
        free(names[i]);
    }
    free(envs);
    free(names);
    closedir(top);
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
