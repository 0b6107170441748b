/* envcache.c - PYTHON_MPI_ENV: rank 0 finds or makes the environment's
 * bundles in the cache (see envcache.h). */
#include "envcache.h"
#include "fileio.h"
#include "jobdir.h"
#include "log.h"
#include "mpi_util.h"
#include "phases.h"
#include "strutil.h"
#include "trust.h"
#include "walk.h"

#include <Python.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PYMPI_DEFAULT_HOME
#define PYMPI_DEFAULT_HOME "/usr"
#endif

extern char **environ;

#define KEY_FORMAT "python-mpi-env 1"
#define STATES_DEFAULT 3
#define MAX_DEFAULT ((uint64_t)8 << 30)
#define STALE_TMP_SECONDS (24 * 3600)

enum maker { MK_PYTHON, MK_VENV, MK_CONDA, MK_DIR, MK_EXT, MK_PTH };
static const char *const maker_name[] = {"python", "venv", "conda", "dir", "ext", "pth"};

typedef struct item {
    enum maker kind;
    char *path;       /* real path (MK_PTH: the site directory in the bundle) */
} item;

typedef struct piece {
    const char *what;   /* "runtime" or "environment" */
    item items[64];
    size_t n;
    const char *site;   /* DIR's site-packages (for .pth rewriting), or NULL */
    char *pth_at;       /* where the rewritten .pth files go in the bundle */
} piece;

/* Two FNV-1a hashes with different bases: 128 bits for the key. */
typedef struct hash { uint64_t a, b; } hash;

static void h_init(hash *h) { h->a = 0xcbf29ce484222325ULL; h->b = 0x84222325cbf29ce4ULL; }
static void h_add(hash *h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h->a = (h->a ^ c[i]) * 0x100000001b3ULL;
        h->b = (h->b ^ c[i]) * 0x100000001b3ULL;
        h->b ^= h->b >> 29;
    }
}
static void h_str(hash *h, const char *s) { h_add(h, s, strlen(s) + 1); }
static void h_u64(hash *h, uint64_t v) { h_add(h, &v, sizeof v); }
static char *h_hex(const hash *h, int full)
{
    return full ? pm_printf_alloc("%016llx%016llx", (unsigned long long)h->a, (unsigned long long)h->b)
                : pm_printf_alloc("%016llx", (unsigned long long)h->a);
}

static void h_stat(hash *h, const struct stat *st)
{
    h_u64(h, st->st_mode);
    h_u64(h, (uint64_t)st->st_size);
    h_u64(h, (uint64_t)st->st_mtim.tv_sec);
    h_u64(h, (uint64_t)st->st_mtim.tv_nsec);
    h_u64(h, (uint64_t)st->st_ctim.tv_sec);
    h_u64(h, (uint64_t)st->st_ctim.tv_nsec);
    h_u64(h, (uint64_t)st->st_ino);
    h_u64(h, (uint64_t)st->st_dev);
}

/* The entries of a tree, each hashed alone and summed: the key does not
 * depend on the order in which readdir lists them. */
typedef struct walk_ctx {
    hash sum;
    size_t top_len;
    uint64_t entries, stats;
} walk_ctx;

static void sum_entry(walk_ctx *w, const char *rel, const struct stat *st)
{
    hash e;
    h_init(&e);
    h_str(&e, rel);
    if (st)
        h_stat(&e, st);
    w->sum.a += e.a;
    w->sum.b += e.b;
    w->entries++;
}

/* __pycache__ is left out of the key: the makers compile bytecode afresh
 * (--pyc unchecked), so a python3 run that writes .pyc files there does
 * not make a new state. */
static int key_entry(const char *path, const struct stat *st, void *ctx)
{
    walk_ctx *w = ctx;
    const char *base = strrchr(path, '/');
    if (S_ISDIR(st->st_mode) && base && strcmp(base + 1, "__pycache__") == 0)
        return PM_WALK_SKIP;
    sum_entry(w, path + w->top_len, st);
    w->stats++;
    return 0;
}

static int is_finder(const char *name);

/* PYTHON_MPI_ENV_CHECK=dirs: every directory's metadata and every name,
 * but a file's own metadata only where a change leaves its directory as it
 * was and matters: .pth files, editable finders, and everything in
 * conda-meta/, *.dist-info/ and *.egg-info/.  One open, fstat and read per
 * directory (no lstat per file).  An in-place edit of any other file is
 * not seen. */
static int dirs_walk(walk_ctx *w, int dfd, const char *rel, int full)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return -1;
    }
    int rc = 0;
    for (struct dirent *e; rc == 0 && (errno = 0, e = readdir(d));) {
        const char *name = e->d_name;
        if (!strcmp(name, ".") || !strcmp(name, ".."))
            continue;
        struct stat st;
        int isdir = e->d_type == DT_DIR, known = e->d_type != DT_UNKNOWN;
        int want = isdir || !known || full || pm_ends_with(name, ".pth") || is_finder(name);
        if (want && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            return closedir(d), -1;
        if (want)
            w->stats++;
        isdir = want ? S_ISDIR(st.st_mode) : isdir;
        if (isdir && !strcmp(name, "__pycache__"))
            continue;
        char *sub = pm_printf_alloc("%s/%s", rel, name);
        if (!sub)
            return closedir(d), -1;
        sum_entry(w, sub, want ? &st : NULL);
        if (isdir) {
            int sfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            int subfull = full || !strcmp(name, "conda-meta") || pm_ends_with(name, ".dist-info") ||
                          pm_ends_with(name, ".egg-info");
            rc = sfd < 0 ? -1 : dirs_walk(w, sfd, sub, subfull);
        }
        free(sub);
    }
    if (rc == 0 && errno != 0)
        rc = -1;
    closedir(d);
    return rc;
}

/* Every entry below dir into h (only directories' with dirs_only, see
 * dirs_walk); -1 after printing why. */
static int hash_tree(hash *h, const char *dir, int dirs_only, uint64_t *entries, uint64_t *stats)
{
    struct stat st;
    if (lstat(dir, &st) != 0) {
        pm_error(dir, "PYTHON_MPI_ENV: %s", strerror(errno));
        return -1;
    }
    h_str(h, dir);
    h_stat(h, &st);
    walk_ctx w = {{0, 0}, strlen(dir), 0, 1};
    int rc = 0;
    if (S_ISDIR(st.st_mode) && dirs_only) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        rc = fd < 0 ? -1 : dirs_walk(&w, fd, "", 0);
    } else if (S_ISDIR(st.st_mode)) {
        rc = pm_walk(dir, key_entry, &w);
    }
    h_u64(h, w.sum.a);
    h_u64(h, w.sum.b);
    *entries += w.entries;
    *stats += w.stats;
    if (rc != 0) {
        pm_error(dir, "PYTHON_MPI_ENV: cannot walk the environment: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The environment: what DIR is, its version, its .pth directories.    */

static int is_dir_at(const char *dir, const char *name)
{
    char *p = pm_path_join(dir, name);
    struct stat st;
    int ok = p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
    free(p);
    return ok;
}

static int is_file_at(const char *dir, const char *name)
{
    char *p = pm_path_join(dir, name);
    struct stat st;
    int ok = p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
    free(p);
    return ok;
}

/* DIR/lib/pythonX.Y must be ours; another lib/python3.N is named. */
static int check_version(const char *dir)
{
    char *mine = pm_printf_alloc("lib/python%d.%d", PY_MAJOR_VERSION, PY_MINOR_VERSION);
    int ok = mine && is_dir_at(dir, mine);
    free(mine);
    if (ok)
        return 0;
    char *lib = pm_path_join(dir, "lib");
    DIR *d = lib ? opendir(lib) : NULL;
    char other[64] = "";
    for (struct dirent *e; d && (e = readdir(d));) {
        int major, minor, n = 0;
        if (sscanf(e->d_name, "python%d.%d%n", &major, &minor, &n) == 2 && !e->d_name[n])
            snprintf(other, sizeof other, "%d.%d", major, minor);
    }
    if (d)
        closedir(d);
    free(lib);
    if (*other)
        pm_error(dir, "PYTHON_MPI_ENV: an environment of Python %s (lib/python%s), but python-mpi "
                 "embeds Python %d.%d: its packages would not work", other, other, PY_MAJOR_VERSION,
                 PY_MINOR_VERSION);
    else
        pm_error(dir, "PYTHON_MPI_ENV: no lib/python%d.%d: not an environment of the Python "
                 "python-mpi embeds", PY_MAJOR_VERSION, PY_MINOR_VERSION);
    return -1;
}

static int under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0' || (n == 1 && dir[0] == '/'));
}

static int add_item(piece *p, enum maker kind, char *path)
{
    if (!path)
        return -1;
    if (p->n == sizeof p->items / sizeof p->items[0]) {
        pm_error(path, "PYTHON_MPI_ENV: more than %zu directories", p->n);
        free(path);
        return -1;
    }
    p->items[p->n].kind = kind;
    p->items[p->n++].path = path;
    return 0;
}

/* A .pth line: a directory to add, relative to the site directory or
 * absolute; real path if it is a directory outside root, else NULL. */
static char *pth_outside(const char *site, const char *line, const char *root)
{
    char *joined = line[0] == '/' ? strdup(line) : pm_path_join(site, line);
    char *why = NULL;
    char *real = joined ? pm_trust_realpath(joined, &why) : NULL;
    free(joined);
    free(why);
    struct stat st;
    if (real && (under(real, root) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode))) {
        free(real);
        real = NULL;
    }
    return real;
}

/* setuptools' editable finders (__editable___NAME_finder.py) map
 * top-level names to their source paths in one line,
 *     MAPPING: dict[str, str] = {'pkg': '/home/u/proj/src/pkg'}
 * (older ones: MAPPING = {...}), the repr of a dict of str: a value with
 * an escape other than \\, \' or \" leaves the finder as it is. */
#define MAP_MAX 64
typedef struct mapping {
    char *key[MAP_MAX], *val[MAP_MAX];
    size_t n, start, end;   /* the line: text[start, end) */
} mapping;

static int is_finder(const char *name)
{
    return strncmp(name, "__editable___", 13) == 0 && pm_ends_with(name, "_finder.py");
}

static char *py_str(const char **pp)
{
    const char *p = *pp;
    char q = *p++;
    if (q != '\'' && q != '"')
        return NULL;
    char *o = malloc(strlen(p) + 1), *w = o;
    while (o && *p && *p != q && *p != '\n') {
        if (*p == '\\') {
            p++;
            if (*p != '\\' && *p != '\'' && *p != '"')
                break;
        }
        *w++ = *p++;
    }
    if (!o || *p != q) {
        free(o);
        return NULL;
    }
    *w = '\0';
    *pp = p + 1;
    return o;
}

static void mapping_free(mapping *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->key[i]);
        free(m->val[i]);
    }
    m->n = 0;
}

/* 0 with *m filled, -1 if text has no MAPPING line this can read. */
static int parse_mapping(const char *text, mapping *m)
{
    memset(m, 0, sizeof *m);
    const char *line = text;
    while (line && strncmp(line, "MAPPING", 7) != 0) {
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    if (!line)
        return -1;
    const char *p = line + 7;
    p += strcspn(p, "=\n");
    if (*p++ != '=')
        return -1;
    p += strspn(p, " \t");
    if (*p++ != '{')
        return -1;
    for (;;) {
        p += strspn(p, " \t");
        if (*p == '}')
            break;
        if (m->n == MAP_MAX)
            goto bad;
        char *k = py_str(&p), *v = NULL;
        p += strspn(p, " \t");
        if (k && *p == ':') {
            p++;
            p += strspn(p, " \t");
            v = py_str(&p);
        }
        if (!v) {
            free(k);
            goto bad;
        }
        m->key[m->n] = k;
        m->val[m->n++] = v;
        p += strspn(p, " \t");
        if (*p == ',')
            p++;
        else if (*p != '}')
            goto bad;
    }
    p++;
    p += strspn(p, " \t\r");
    if (*p != '\n' && *p)
        goto bad;
    m->start = (size_t)(line - text);
    m->end = (size_t)(p - text) + (*p == '\n');
    return 0;
bad:
    mapping_free(m);
    return -1;
}

/* A MK_EXT item for the directory real, unless there is one. */
static int add_ext(piece *p, char *real)
{
    for (size_t i = 0; i < p->n; i++) {
        if (p->items[i].kind == MK_EXT && strcmp(p->items[i].path, real) == 0) {
            free(real);
            return 0;
        }
    }
    return add_item(p, MK_EXT, real);
}

/* Its number among the MK_EXT items, +1; 0 if none. */
static size_t ext_index(const piece *p, const char *real)
{
    size_t k = 0;
    for (size_t i = 0; real && i < p->n; i++) {
        if (p->items[i].kind != MK_EXT)
            continue;
        k++;
        if (strcmp(p->items[i].path, real) == 0)
            return k;
    }
    return 0;
}

/* Each .pth of site (and editable finder): its directories outside root
 * become MK_EXT items. */
static int find_ext(piece *p, const char *site, const char *root)
{
    DIR *d = opendir(site);
    if (!d)
        return 0;   /* no site-packages: nothing to find */
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d));) {
        int finder = is_finder(e->d_name);
        if (!finder && !pm_ends_with(e->d_name, ".pth"))
            continue;
        char *text = NULL;
        size_t len = 0;
        if (pm_read_file_at(dirfd(d), e->d_name, 0, 1 << 20, &text, &len, NULL) != 0)
            continue;
        mapping m;
        if (finder && parse_mapping(text, &m) == 0) {
            for (size_t i = 0; rc == 0 && i < m.n; i++) {
                char *real = pth_outside(site, m.val[i], root);
                if (real)
                    rc = add_ext(p, real);
            }
            mapping_free(&m);
        }
        for (char *line = finder ? NULL : text, *next; rc == 0 && line && *line; line = next) {
            next = strchr(line, '\n');
            if (next)
                *next++ = '\0';
            size_t n = strlen(line);
            while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
                line[--n] = '\0';
            if (!n || line[0] == '#' || strncmp(line, "import ", 7) == 0 || strncmp(line, "import\t", 7) == 0)
                continue;
            char *real = pth_outside(site, line, root);
            if (real)
                rc = add_ext(p, real);
        }
        free(text);
    }
    closedir(d);
    return rc;
}

/* ------------------------------------------------------------------ */
/* pkgroot, beside python-mpi.                                        */

static char *pkgroot_path(void)
{
    char *self = pm_readlink("/proc/self/exe");
    char *slash = self ? strrchr(self, '/') : NULL;
    char *pk = NULL;
    if (slash) {
        *slash = '\0';
        pk = pm_path_join(self, "pkgroot");
    }
    free(self);
    if (pk && access(pk, X_OK) != 0) {
        pm_error(pk, "PYTHON_MPI_ENV: cannot make the bundles: no pkgroot beside python-mpi: %s",
                 strerror(errno));
        free(pk);
        return NULL;
    }
    if (!pk)
        pm_error("/proc/self/exe", "PYTHON_MPI_ENV: cannot find python-mpi's own directory");
    return pk;
}

/* Run argv (argv[0] an absolute path), stdout to /dev/null; 0 if it
 * exited 0, else -1 after printing why. */
static int run(char *const argv[], const char *about)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) {
        pm_error(about, "PYTHON_MPI_ENV: out of memory");
        return -1;
    }
    pid_t pid;
    int rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (rc == 0)
        rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        pm_error(argv[0], "PYTHON_MPI_ENV: cannot start: %s", strerror(rc));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            pm_error(argv[0], "PYTHON_MPI_ENV: waitpid: %s", strerror(errno));
            return -1;
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        pm_error(about, "PYTHON_MPI_ENV: pkgroot %s failed (exit %d)", argv[1], WEXITSTATUS(status));
    else
        pm_error(about, "PYTHON_MPI_ENV: pkgroot %s killed by signal %d", argv[1], WTERMSIG(status));
    return -1;
}

/* ------------------------------------------------------------------ */
/* The cache.                                                         */

typedef struct cache {
    char *root;       /* resolved, trusted, private */
    char *pkgroot;
    struct stat pk_st, self_st;
    unsigned states;
    uint64_t max;
    int check_dirs;   /* PYTHON_MPI_ENV_CHECK=dirs */
} cache;

/* mkdir -p with 0700, then trusted: ours, private, nobody else above. */
static int cache_open(cache *c)
{
    const char *set = getenv("PYTHON_MPI_CACHE");
    const char *home = getenv("HOME");
    char *path = set && *set ? strdup(set)
               : home && *home ? pm_path_join(home, ".cache/python-mpi") : NULL;
    if (!path) {
        pm_error(NULL, "PYTHON_MPI_ENV: no cache directory: set PYTHON_MPI_CACHE (HOME is unset)");
        return -1;
    }
    for (char *s = path + 1;; s++) {
        if (*s == '/' || !*s) {
            char keep = *s;
            *s = '\0';
            (void)mkdir(path, 0700);   /* failures show in the check below */
            *s = keep;
            if (!keep)
                break;
        }
    }
    char *why = NULL;
    int fd = pm_trust_open(path, PM_TRUST_RESOLVE | PM_TRUST_MINE | PM_TRUST_PRIVATE, NULL, &c->root, &why);
    if (fd < 0) {
        pm_error(path, "PYTHON_MPI_CACHE: refusing to use the cache: %s", why ? why : "out of memory");
        free(why);
        free(path);
        return -1;
    }
    close(fd);
    free(path);
    if (strchr(c->root, '\n')) {
        pm_error(c->root, "PYTHON_MPI_CACHE: a newline in the path");
        return -1;
    }
    const char *s = getenv("PYTHON_MPI_CACHE_STATES");
    c->states = STATES_DEFAULT;
    if (s && *s) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (*end || v < 1 || v > 1000) {
            pm_error(NULL, "PYTHON_MPI_CACHE_STATES: '%s' is not a number from 1 to 1000", s);
            return -1;
        }
        c->states = (unsigned)v;
    }
    const char *chk = getenv("PYTHON_MPI_ENV_CHECK");
    if (chk && *chk && strcmp(chk, "all") != 0 && strcmp(chk, "dirs") != 0) {
        pm_error(NULL, "PYTHON_MPI_ENV_CHECK: '%s' is not all or dirs", chk);
        return -1;
    }
    c->check_dirs = chk && strcmp(chk, "dirs") == 0;
    const char *m = getenv("PYTHON_MPI_CACHE_MAX");
    size_t max = MAX_DEFAULT;
    if (m && *m && pm_parse_size(m, SIZE_MAX, &max) != 0) {
        pm_error(NULL, "PYTHON_MPI_CACHE_MAX: '%s' is not a size (512M, 16G)", m);
        return -1;
    }
    c->max = max;
    if (!(c->pkgroot = pkgroot_path()))
        return -1;
    if (stat(c->pkgroot, &c->pk_st) != 0 || stat("/proc/self/exe", &c->self_st) != 0) {
        pm_error(c->pkgroot, "PYTHON_MPI_ENV: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* A directory of the cache: ours, private, a real directory. */
static int cache_dir_ok(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        pm_error(path, "PYTHON_MPI_CACHE: %s", strerror(errno));
        return 0;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
        pm_error(path, "PYTHON_MPI_CACHE: refusing to use: not a private directory of ours "
                 "(uid %u, mode %04o)", (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        return 0;
    }
    return 1;
}

typedef struct state_ent { char *name; struct timespec mtime; uint64_t bytes; } state_ent;

static int by_newest(const void *a, const void *b)
{
    const state_ent *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? 1 : -1;
    return x->mtime.tv_nsec < y->mtime.tv_nsec ? 1 : x->mtime.tv_nsec > y->mtime.tv_nsec ? -1 : 0;
}

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

/* Keep the newest states (keep: the one in use, never removed) within the
 * caps; temporaries a crash left over a day ago go too. */
static void cache_prune(const cache *c, const char *envdir, const char *keep)
{
    DIR *d = opendir(envdir);
    if (!d)
        return;
    state_ent *v = NULL;
    size_t n = 0, cap = 0;
    struct stat st;
    time_t now = time(NULL);
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
            continue;
        if (e->d_name[0] == '.') {
            if (strncmp(e->d_name, ".tmp-", 5) == 0 && now - st.st_mtim.tv_sec > STALE_TMP_SECONDS)
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
        if (others + 1 < c->states && total + v[i].bytes <= c->max) {
            total += v[i].bytes;
            others++;
        } else {
            /* Renamed away first: a job that lists it now finds it whole
             * or not at all. */
            char *gone = pm_printf_alloc(".tmp-gone-%s-%ld", v[i].name, (long)getpid());
            if (gone && renameat(dirfd(d), v[i].name, dirfd(d), gone) == 0) {
                pm_info(1, "PYTHON_MPI_CACHE: removing the old state %s/%s", envdir, v[i].name);
                (void)pm_rmtree_at(dirfd(d), gone, gone, NULL);
            }
            free(gone);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
    closedir(d);
}

/* The bundles of a complete state, appended to *list ("PATH\n" each);
 * 0, 1 if the state is not there, -1 after printing why. */
static int state_read(const char *state, char **list)
{
    struct stat st;
    if (lstat(state, &st) != 0)
        return errno == ENOENT ? 1 : (pm_error(state, "PYTHON_MPI_CACHE: %s", strerror(errno)), -1);
    if (!cache_dir_ok(state))
        return -1;
    int dfd = open(state, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    char *text = NULL;
    size_t len = 0;
    if (dfd < 0 || pm_read_file_at(dfd, "bundles", O_NOFOLLOW, 1 << 16, &text, &len, &st) != 0) {
        pm_error(state, "PYTHON_MPI_CACHE: a state without its list of bundles: %s", strerror(errno));
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
            pm_error(state, "PYTHON_MPI_CACHE: refusing the cached state: bundle '%s' missing or not ours",
                     line);
            rc = -1;
            break;
        }
        char *more = pm_printf_alloc("%s%s/%s\n", *list ? *list : "", state, line);
        if (!more) {
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

static int write_file(const char *path, const char *data, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0 || pm_write_full(fd, data, strlen(data)) != 0 || fsync(fd) != 0) {
        pm_error(path, "PYTHON_MPI_CACHE: cannot write: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (close(fd) != 0) {
        pm_error(path, "PYTHON_MPI_CACHE: cannot write: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* s as Python's repr writes it (single quotes), or NULL. */
static char *py_repr(const char *s)
{
    char *o = malloc(2 * strlen(s) + 3), *w = o;
    if (!o)
        return NULL;
    *w++ = '\'';
    for (; *s; s++) {
        if (*s == '\\' || *s == '\'')
            *w++ = '\\';
        *w++ = *s;
    }
    *w++ = '\'';
    *w = '\0';
    return o;
}

/* A finder's text with the MAPPING values delivered made relative to the
 * finder's own directory (the bundle's site directory) and resolved when
 * it is imported; NULL if out of memory.  *changed: any value was. */
static char *rewrite_finder(const piece *p, const char *site, const char *root, const char *text, int *changed)
{
    mapping m;
    *changed = 0;
    if (parse_mapping(text, &m) != 0)
        return strdup(text);
    char *pairs = strdup("");
    for (size_t i = 0; pairs && i < m.n; i++) {
        char *real = pth_outside(site, m.val[i], root);
        size_t idx = ext_index(p, real);
        free(real);
        char *rel = idx ? pm_printf_alloc("../../python-mpi-ext/%zu", idx - 1) : NULL;
        char *k = py_repr(m.key[i]), *v = py_repr(rel ? rel : m.val[i]);
        char *more = k && v && (rel || !idx) ? pm_printf_alloc("%s%s%s: %s", pairs, i ? ", " : "", k, v) : NULL;
        *changed |= idx != 0;
        free(rel);
        free(k);
        free(v);
        free(pairs);
        pairs = more;
    }
    char *res = pairs ? pm_printf_alloc("%.*sMAPPING = {%s}\n"
                                        "import os as _pm_os  # python-mpi: MAPPING relative to this file\n"
                                        "MAPPING = {_k: _pm_os.path.normpath(_pm_os.path.join("
                                        "_pm_os.path.dirname(__file__), _v)) for _k, _v in MAPPING.items()}\n"
                                        "del _pm_os\n%s", (int)m.start, text, pairs, text + m.end) : NULL;
    free(pairs);
    mapping_free(&m);
    return res;
}

/* The .pth files of site that name a directory outside root, each such
 * line made relative to the bundle's site directory: ../../python-mpi-ext/N
 * (lib/python3/dist-packages and lib/pythonX.Y/site-packages are as deep). */
static int write_pth(const piece *p, const char *site, const char *root, const char *out, int *any)
{
    DIR *d = opendir(site);
    *any = 0;
    if (!d)
        return 0;
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d));) {
        int finder = is_finder(e->d_name);
        if (!finder && !pm_ends_with(e->d_name, ".pth"))
            continue;
        char *text = NULL, *res = strdup("");
        size_t len = 0;
        int changed = 0;
        if (pm_read_file_at(dirfd(d), e->d_name, 0, 1 << 20, &text, &len, NULL) != 0) {
            free(res);
            continue;
        }
        if (finder) {
            free(res);
            res = rewrite_finder(p, site, root, text, &changed);
        }
        for (char *line = finder ? NULL : text, *next; res && line && *line; line = next) {
            next = strchr(line, '\n');
            if (next)
                *next++ = '\0';
            char *trim = strdup(line);
            size_t n = trim ? strlen(trim) : 0;
            while (n && (trim[n - 1] == '\r' || trim[n - 1] == ' ' || trim[n - 1] == '\t'))
                trim[--n] = '\0';
            char *real = n && trim[0] != '#' && strncmp(trim, "import", 6) != 0 ? pth_outside(site, trim, root) : NULL;
            size_t idx = ext_index(p, real);
            char *more = idx ? pm_printf_alloc("%s../../python-mpi-ext/%zu\n", res, idx - 1)
                             : pm_printf_alloc("%s%s\n", res, line);
            changed |= idx != 0;
            free(real);
            free(trim);
            free(res);
            res = more;
        }
        if (!res) {
            pm_error(NULL, "out of memory");
            rc = -1;
        } else if (changed) {
            char *path = pm_path_join(out, e->d_name);
            rc = path ? write_file(path, res, 0644) : -1;   /* as in the tree they replace */
            free(path);
            *any = 1;
        }
        free(res);
        free(text);
    }
    closedir(d);
    return rc;
}

/* Make the piece's bundles into tmp; names appended to *names. */
static int make_state(const cache *c, const piece *p, const char *tmp, const char *root, char **names)
{
    size_t ext = 0;
    for (size_t i = 0; i < p->n; i++) {
        const item *it = &p->items[i];
        const char *suffix = it->kind == MK_PTH ? "tar" : "ptar";
        char *name = pm_printf_alloc("%02zu-%s.%s", i, maker_name[it->kind], suffix);
        char *out = name ? pm_path_join(tmp, name) : NULL;
        char *at = it->kind == MK_EXT ? pm_printf_alloc("lib/python-mpi-ext/%zu", ext++) : NULL;
        char *pthdir = it->kind == MK_PTH ? pm_path_join(tmp, "pth") : NULL;
        int rc = out && (it->kind != MK_EXT || at) && (it->kind != MK_PTH || pthdir) ? 0 : -1;
        int any = 1;
        if (rc == 0 && it->kind == MK_PTH) {
            /* The rewritten files, mode as in the tree (the temporary
             * directory above is private). */
            rc = mkdir(pthdir, 0755) == 0 && chmod(pthdir, 0755) == 0 ? write_pth(p, p->site, root, pthdir, &any)
                                          : (pm_error(pthdir, "PYTHON_MPI_CACHE: %s", strerror(errno)), -1);
        }
        if (rc == 0 && any) {
            char *argv[10];
            size_t a = 0;
            argv[a++] = c->pkgroot;
            /* Fresh bytecode: the venv's bundle holds the unchecked .pyc
             * of a finder that the overlay (MK_PTH) replaces. */
            if (it->kind == MK_DIR || it->kind == MK_EXT || it->kind == MK_PTH) {
                argv[a++] = "--pyc";
                argv[a++] = "unchecked";
            }
            argv[a++] = (char *)(it->kind == MK_EXT || it->kind == MK_PTH ? "dir" : maker_name[it->kind]);
            argv[a++] = out;
            if (it->kind != MK_PYTHON)
                argv[a++] = it->kind == MK_PTH ? pthdir : it->path;
            if (at || it->kind == MK_PTH) {
                argv[a++] = "--at";
                argv[a++] = at ? at : p->pth_at;
            }
            argv[a] = NULL;
            pm_info(1, "PYTHON_MPI_ENV: making %s", out);
            rc = run(argv, it->kind == MK_PYTHON ? p->items[i].path : it->path);
            if (rc == 0 && chmod(out, 0600) != 0)
                rc = (pm_error(out, "PYTHON_MPI_CACHE: chmod: %s", strerror(errno)), -1);
            if (rc == 0) {
                char *more = pm_printf_alloc("%s%s\n", *names ? *names : "", name);
                free(*names);
                *names = more;
                rc = more ? 0 : -1;
            }
        }
        if (pthdir)
            (void)pm_rmtree(pthdir, NULL);
        free(pthdir);
        free(at);
        free(out);
        free(name);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* States made by this job, committed or discarded by pm_env_commit. */
static struct pending {
    char *tmp, *state, *envdir, *keys;
    cache c;   /* its caps; its pointers are not used */
} pending[2];
static size_t npending;

void pm_env_commit(int rank, int delivered)
{
    for (size_t i = 0; rank == 0 && i < npending; i++) {
        struct pending *q = &pending[i];
        if (delivered && rename(q->tmp, q->state) == 0) {
            cache_prune(&q->c, q->envdir, q->keys);
        } else if (delivered && errno != EEXIST && errno != ENOTEMPTY) {
            /* The job ran; only the next one pays for this. */
            pm_info(0, "PYTHON_MPI_CACHE: %s: cannot rename into place: %s", q->state, strerror(errno));
        } else if (delivered) {
            pm_info(1, "PYTHON_MPI_ENV: %s was made by another job meanwhile", q->state);
        }
        (void)pm_rmtree(q->tmp, NULL);   /* gone already when renamed */
        free(q->tmp);
        free(q->state);
        free(q->envdir);
        free(q->keys);
    }
    npending = 0;
}

/* One piece: its key, then its state found or made.  Appends its bundle
 * paths to *list. */
static int do_piece(const cache *c, piece *p, const char *root, char **list)
{
    hash id, key;
    h_init(&id);
    h_init(&key);
    h_str(&key, KEY_FORMAT);
    h_str(&key, Py_GetVersion());
    h_stat(&key, &c->pk_st);   /* another pkgroot, or python-mpi, may make other bundles */
    h_stat(&key, &c->self_st);
    uint64_t entries = 0, stats = 0;
    double t0 = pm_now();
    for (size_t i = 0; i < p->n; i++) {
        /* The environment is what the user named: an editable install
         * added or gone is a new state of it, not another one. */
        if (p->items[i].kind != MK_EXT && p->items[i].kind != MK_PTH) {
            h_str(&id, maker_name[p->items[i].kind]);
            h_str(&id, p->items[i].path);
        }
        h_str(&key, maker_name[p->items[i].kind]);
        /* The cheap check for the environment's own tree; source and
         * editable directories, edited in place, are always walked whole. */
        int dirs_only = c->check_dirs && (p->items[i].kind == MK_VENV || p->items[i].kind == MK_CONDA ||
                                          p->items[i].kind == MK_PYTHON);
        h_u64(&key, (uint64_t)dirs_only);
        if (p->items[i].kind != MK_PTH && hash_tree(&key, p->items[i].path, dirs_only, &entries, &stats) != 0)
            return -1;
    }
    double t_key = pm_now() - t0;
    char *ids = h_hex(&id, 0), *keys = h_hex(&key, 1);
    char *envdir = ids ? pm_path_join(c->root, ids) : NULL;
    char *state = envdir && keys ? pm_path_join(envdir, keys) : NULL;
    char *tmp = state ? pm_printf_alloc("%s/.tmp-%s-%s-%ld", envdir, keys, pm_log_node(), (long)getpid()) : NULL;
    char *names = NULL, *statelist = NULL;
    int rc = -1;
    if (!tmp) {
        pm_error(NULL, "out of memory");
        goto done;
    }
    if (mkdir(envdir, 0700) != 0 && errno != EEXIST) {
        pm_error(envdir, "PYTHON_MPI_CACHE: %s", strerror(errno));
        goto done;
    }
    if (!cache_dir_ok(envdir))
        goto done;
    int found = state_read(state, list);
    if (found < 0)
        goto done;
    if (found == 0) {
        pm_info(1, "PYTHON_MPI_ENV: %s %s: cached state %s (%llu entries checked in %.3f s, %llu stat)", p->what,
                p->items[0].path, state, (unsigned long long)entries, t_key,
                (unsigned long long)stats);
        rc = 0;
        goto done;
    }
    pm_info(1, "PYTHON_MPI_ENV: %s %s: making state %s (%llu entries checked in %.3f s, %llu stat)", p->what,
            p->items[0].path, state, (unsigned long long)entries, t_key,
            (unsigned long long)stats);
    if (mkdir(tmp, 0700) != 0) {
        pm_error(tmp, "PYTHON_MPI_CACHE: %s", strerror(errno));
        goto done;
    }
    char *bl = pm_path_join(tmp, "bundles");
    int made = bl && make_state(c, p, tmp, root, &names) == 0 && names && write_file(bl, names, 0600) == 0;
    free(bl);
    /* Delivered from the temporary directory; renamed into place once
     * every node unpacked it (pm_env_commit). */
    if (made && npending < sizeof pending / sizeof pending[0] && state_read(tmp, &statelist) == 0) {
        char *more = pm_printf_alloc("%s%s", *list ? *list : "", statelist);
        free(*list);
        *list = more;
        if (more) {
            pending[npending++] = (struct pending){tmp, state, envdir, keys, *c};
            tmp = state = envdir = keys = NULL;
            rc = 0;
        }
    }
    if (tmp)
        (void)pm_rmtree(tmp, NULL);
done:
    if (rc != 0 && envdir)
        (void)rmdir(envdir);   /* made for this state alone: nothing half-made stays */
    free(statelist);
    free(names);
    free(tmp);
    free(state);
    free(envdir);
    free(ids);
    free(keys);
    return rc;
}

/* ------------------------------------------------------------------ */

static void piece_free(piece *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i].path);
    free(p->pth_at);
    p->n = 0;
}

/* Rank 0: the newline-separated bundle list, or NULL after saying why. */
static char *env_prepare(const char *spec)
{
    cache c = {0};
    piece rt = {.what = "runtime"}, env = {.what = "environment"};
    char *list = NULL, *copy = strdup(spec), *dir = NULL, *home = NULL, *site = NULL, *why = NULL;
    int ok = 0;
    if (!copy)
        goto done;
    char *save = NULL;
    char *first = strtok_r(copy, ":", &save);
    if (!first) {
        pm_error(NULL, "PYTHON_MPI_ENV: no directory");
        goto done;
    }
    if (!(dir = pm_trust_realpath(first, &why))) {
        pm_error(first, "PYTHON_MPI_ENV: %s", why ? why : "out of memory");
        goto done;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        pm_error(dir, "PYTHON_MPI_ENV: not a directory");
        goto done;
    }
    home = pm_trust_realpath(PYMPI_DEFAULT_HOME, &why);
    int is_runtime = home && strcmp(home, dir) == 0;
    int is_venv = !is_runtime && is_file_at(dir, "pyvenv.cfg");
    int is_conda = !is_runtime && !is_venv && is_dir_at(dir, "conda-meta");
    if (!is_runtime && !is_venv && !is_conda) {
        pm_error(dir, "PYTHON_MPI_ENV: not a Python environment (no pyvenv.cfg, no conda-meta/, "
                 "and not %s, the Python python-mpi embeds)", PYMPI_DEFAULT_HOME);
        goto done;
    }
    if (!is_runtime && check_version(dir) != 0)
        goto done;
    char *stdlib_rel = pm_printf_alloc("lib/python%d.%d/os.py", PY_MAJOR_VERSION, PY_MINOR_VERSION);
    int own_stdlib = is_conda && stdlib_rel && is_file_at(dir, stdlib_rel);
    free(stdlib_rel);
    /* The runtime: the embedded Python's standard library, unless the
     * conda prefix carries one of its own. */
    if (!own_stdlib &&
        add_item(&rt, MK_PYTHON, pm_printf_alloc("%s/lib/python%d.%d", home ? home : PYMPI_DEFAULT_HOME,
                                                   PY_MAJOR_VERSION, PY_MINOR_VERSION)) != 0)
        goto done;
    if ((is_venv || is_conda) && add_item(&env, is_venv ? MK_VENV : MK_CONDA, strdup(dir)) != 0)
        goto done;
    for (char *src; (src = strtok_r(NULL, ":", &save));) {
        free(why);
        why = NULL;
        char *real = pm_trust_realpath(src, &why);
        if (!real || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
            pm_error(src, "PYTHON_MPI_ENV: the source directory: %s", real ? "not a directory" : why ? why : "out of memory");
            free(real);
            goto done;
        }
        if (add_item(&env, MK_DIR, real) != 0)
            goto done;
    }
    if (is_venv || is_conda) {
        site = pm_printf_alloc("%s/lib/python%d.%d/site-packages", dir, PY_MAJOR_VERSION, PY_MINOR_VERSION);
        size_t before = env.n;
        if (!site || find_ext(&env, site, dir) != 0)
            goto done;
        if (env.n > before) {
            env.site = site;
            env.pth_at = own_stdlib ? pm_printf_alloc("lib/python%d.%d/site-packages", PY_MAJOR_VERSION,
                                                      PY_MINOR_VERSION)
                                    : strdup("lib/python3/dist-packages");
            if (add_item(&env, MK_PTH, strdup(env.pth_at ? env.pth_at : "")) != 0)
                goto done;
        }
    }
    if (cache_open(&c) != 0)
        goto done;
    if (rt.n && do_piece(&c, &rt, dir, &list) != 0)
        goto done;
    if (env.n && do_piece(&c, &env, dir, &list) != 0)
        goto done;
    ok = 1;
done:
    if (!copy)
        pm_error(NULL, "out of memory");
    piece_free(&rt);
    piece_free(&env);
    free(c.root);
    free(c.pkgroot);
    free(copy);
    free(dir);
    free(home);
    free(site);
    free(why);
    if (!ok) {
        free(list);
        return NULL;
    }
    return list;
}

int pm_env_bundles(const pm_topology *t, const char *spec, pm_pkglist *out)
{
    if (!spec || !*spec)
        return 0;
    char *list = NULL;
    int failed = 0;
    if (t->rank == 0) {
        list = env_prepare(spec);
        failed = list == NULL || !*list;
        if (!list)
            list = strdup("");
    }
    if (pm_agree_failed(t->world, failed) != 0) {
        free(list);
        return 1;
    }
    char *got = pm_bcast_string(t->world, t->rank, list);
    char *err = NULL;
    int bad = !got || pm_pkglist_parse_lines(out, got, NULL, &err) != 0;
    if (bad)
        pm_error(NULL, "PYTHON_MPI_ENV: %s", err ? err : "the bundle list did not arrive");
    free(err);
    if (got != list)
        free(got);
    free(list);
    return pm_agree_failed(t->world, bad) != 0;
}
