/* envkey.c - the state key of PYTHON_MPI_ENV's cache (see envkey.h). */
#include "envkey.h"
#include "strutil.h"
#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void pm_envkey_init(pm_envkey *h)
{
    h->a = 0xcbf29ce484222325ULL;
    h->b = 0x84222325cbf29ce4ULL;
}

void pm_envkey_add(pm_envkey *h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h->a = (h->a ^ c[i]) * 0x100000001b3ULL;
        h->b = (h->b ^ c[i]) * 0x100000001b3ULL;
        h->b ^= h->b >> 29;
    }
}

void pm_envkey_str(pm_envkey *h, const char *s) { pm_envkey_add(h, s, strlen(s) + 1); }
void pm_envkey_u64(pm_envkey *h, uint64_t v) { pm_envkey_add(h, &v, sizeof v); }

char *pm_envkey_hex(const pm_envkey *h, int full)
{
    return full ? pm_printf_alloc("%016llx%016llx", (unsigned long long)h->a, (unsigned long long)h->b)
                : pm_printf_alloc("%016llx", (unsigned long long)h->a);
}

void pm_envkey_stat(pm_envkey *h, const struct stat *st)
{
    pm_envkey_u64(h, st->st_mode);
    pm_envkey_u64(h, (uint64_t)st->st_size);
    pm_envkey_u64(h, (uint64_t)st->st_mtim.tv_sec);
    pm_envkey_u64(h, (uint64_t)st->st_mtim.tv_nsec);
    pm_envkey_u64(h, (uint64_t)st->st_ctim.tv_sec);
    pm_envkey_u64(h, (uint64_t)st->st_ctim.tv_nsec);
    pm_envkey_u64(h, (uint64_t)st->st_ino);
    pm_envkey_u64(h, (uint64_t)st->st_dev);
}

int pm_envkey_is_finder(const char *name)
{
    return strncmp(name, "__editable___", 13) == 0 && pm_ends_with(name, "_finder.py");
}

/* The entries of a tree, each hashed alone and summed. */
typedef struct walk_ctx {
    pm_envkey sum;
    size_t top_len;
    pm_envkey_count n;
    const char *const *exclude;   /* paths below the top left out, or NULL */
} walk_ctx;

/* Is rel ("/a/b", below the top) one the walk leaves out? */
static int excluded(const walk_ctx *w, const char *rel)
{
    for (const char *const *x = w->exclude; x && *x; x++)
        if (rel[0] == '/' && strcmp(rel + 1, *x) == 0)
            return 1;
    return 0;
}

static void sum_entry(walk_ctx *w, const char *rel, const struct stat *st)
{
    pm_envkey e;
    pm_envkey_init(&e);
    pm_envkey_str(&e, rel);
    if (st)
        pm_envkey_stat(&e, st);
    w->sum.a += e.a;
    w->sum.b += e.b;
    w->n.entries++;
}

static int key_entry(const char *path, const struct stat *st, void *ctx)
{
    walk_ctx *w = ctx;
    const char *base = strrchr(path, '/');
    if (S_ISDIR(st->st_mode) && base && strcmp(base + 1, "__pycache__") == 0)
        return PM_WALK_SKIP;
    if (excluded(w, path + w->top_len))
        return S_ISDIR(st->st_mode) ? PM_WALK_SKIP : 0;
    sum_entry(w, path + w->top_len, st);
    w->n.stats++;
    return 0;
}

/* The dirs check (envkey.h); dfd is consumed. */
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
        int want = isdir || !known || full || pm_ends_with(name, ".pth") || pm_envkey_is_finder(name);
        if (want && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            return closedir(d), -1;
        if (want)
            w->n.stats++;
        isdir = want ? S_ISDIR(st.st_mode) : isdir;
        if (isdir && !strcmp(name, "__pycache__"))
            continue;
        char *sub = pm_printf_alloc("%s/%s", rel, name);
        if (!sub)
            return closedir(d), -1;
        if (excluded(w, sub)) {
            free(sub);
            continue;
        }
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

int pm_envkey_tree(pm_envkey *h, const char *dir, int dirs_only, pm_envkey_count *count, pm_err *err)
{
    return pm_envkey_tree_excl(h, dir, NULL, dirs_only, count, err);
}

int pm_envkey_tree_excl(pm_envkey *h, const char *dir, const char *const *exclude, int dirs_only,
                        pm_envkey_count *count, pm_err *err)
{
    struct stat st;
    if (lstat(dir, &st) != 0) {
        pm_err_set(err, dir, "PYTHON_MPI_ENV: %s", strerror(errno));
        return -1;
    }
    pm_envkey_str(h, dir);
    pm_envkey_stat(h, &st);
    for (const char *const *x = exclude; x && *x; x++)
        pm_envkey_str(h, *x);
    walk_ctx w = {{0, 0}, strlen(dir), {0, 1}, exclude};
    int rc = 0;
    if (S_ISDIR(st.st_mode) && dirs_only) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        rc = fd < 0 ? -1 : dirs_walk(&w, fd, "", 0);
    } else if (S_ISDIR(st.st_mode)) {
        rc = pm_walk(dir, key_entry, &w);
    }
    pm_envkey_u64(h, w.sum.a);
    pm_envkey_u64(h, w.sum.b);
    count->entries += w.n.entries;
    count->stats += w.n.stats;
    if (rc != 0) {
        pm_err_set(err, dir, "PYTHON_MPI_ENV: cannot walk the environment: %s", strerror(errno));
        return -1;
    }
    return 0;
}
