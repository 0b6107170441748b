/* treewrite.c - descriptor-based writing into a tree (see treewrite.h). */
#include "treewrite.h"

#include "trust.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pm_unpack_force_no_proc;
void (*pm_tree_test_before_link)(const char *target);

/* Deeper than any real tree: a hostile path must not take every
 * descriptor of the process (two per level at most). */
#define MAX_DEPTH 128
/* Tries at a name that another writer keeps refilling. */
#define MAX_TRIES 8

typedef struct dirfix {
    char *rel;
    struct timespec ts[2];
} dirfix;

struct pm_tree {
    int root;
    mode_t umask;
    /* The open parent: cur ("" is the root) and a descriptor per
     * component, fds[0] the root; ends[i]: cur's length up to component i. */
    char *cur;
    size_t curcap;
    int fds[MAX_DEPTH + 1];
    size_t ends[MAX_DEPTH + 1];
    size_t depth;
    /* The last directory left at each level, kept open: pkgroot writes
     * "d/x.py" then "d/__pycache__/x.pyc", then "d/y.py" ..., so the
     * child just left is usually the next one entered again. */
    int kept[MAX_DEPTH + 1];
    char *kept_name[MAX_DEPTH + 1];
    size_t kept_cap[MAX_DEPTH + 1];
    dirfix *fix;
    size_t nfix, fixcap;
    /* fix[] indexes by name hash (open addressing, 0 empty, else index
     * + 1): a directory repeated in a bundle is recorded once. */
    size_t *slot, nslot;
    size_t fixbytes;   /* the recorded names' bytes */
    const char *why;
    int err;
};

/* Without /proc (seen once): hard links by name, then checked. */
static int no_proc;

static int fail(pm_tree *t, const char *why, int err)
{
    t->why = why;
    t->err = err;
    errno = err ? err : EINVAL;
    return -1;
}

const char *pm_tree_why(const pm_tree *t, int *err)
{
    *err = t->err;
    return t->why ? t->why : "failed";
}

pm_tree *pm_tree_open(const char *destdir, char **why)
{
    pm_tree *t = calloc(1, sizeof *t);
    if (!t || !(t->cur = malloc(t->curcap = 256))) {
        free(t);
        *why = NULL;
        return NULL;
    }
    t->cur[0] = '\0';
    t->root = pm_trust_open(destdir, PM_TRUST_MINE, NULL, NULL, why);
    if (t->root < 0) {
        free(t->cur);
        free(t);
        return NULL;
    }
    t->fds[0] = t->root;
    for (size_t i = 0; i <= MAX_DEPTH; i++)
        t->kept[i] = -1;
    /* Modes are applied exactly (fchmod where the umask took bits away). */
    t->umask = umask(077);
    umask(t->umask);
    return t;
}

int pm_tree_root(const pm_tree *t)
{
    return t->root;
}

static void drop_kept(pm_tree *t, size_t level)
{
    if (t->kept[level] >= 0)
        close(t->kept[level]);
    t->kept[level] = -1;
}

/* Leave the open directories below level k; the one left at each level
 * is kept (its name copied: no allocation once the buffer fits). */
static void pop_to(pm_tree *t, size_t k)
{
    while (t->depth > k) {
        size_t d = t->depth--, up = d - 1;
        drop_kept(t, d);   /* relative to the directory being left */
        drop_kept(t, up);
        const char *name = t->cur + t->ends[up] + (up > 0);
        size_t len = t->ends[d] - (size_t)(name - t->cur);
        if (len + 1 > t->kept_cap[up]) {
            char *b = realloc(t->kept_name[up], len + 1);
            if (!b) {
                close(t->fds[d]);
                continue;
            }
            t->kept_name[up] = b;
            t->kept_cap[up] = len + 1;
        }
        memcpy(t->kept_name[up], name, len);
        t->kept_name[up][len] = '\0';
        t->kept[up] = t->fds[d];
    }
    t->cur[t->ends[k]] = '\0';
}

void pm_tree_close(pm_tree *t)
{
    if (!t)
        return;
    pop_to(t, 0);
    for (size_t i = 0; i <= MAX_DEPTH; i++) {
        drop_kept(t, i);
        free(t->kept_name[i]);
    }
    close(t->root);
    for (size_t i = 0; i < t->nfix; i++)
        free(t->fix[i].rel);
    free(t->fix);
    free(t->slot);
    free(t->cur);
    free(t);
}

char *pm_path_normal(const char *path)
{
    size_t n = strlen(path);
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = path; *p;) {
        p += strspn(p, "/");
        size_t len = strcspn(p, "/");
        if (len && !(len == 1 && p[0] == '.')) {
            if (o != out)
                *o++ = '/';
            memcpy(o, p, len);
            o += len;
        }
        p += len;
    }
    *o = '\0';
    return out;
}

/* Append comp[0..len) to cur and make room; the component is then the
 * NUL-terminated string at the returned pointer. */
static char *cur_append(pm_tree *t, const char *comp, size_t len)
{
    size_t at = t->ends[t->depth], need = at + 1 + len + 1;
    if (need > t->curcap) {
        size_t cap = t->curcap;
        while (cap < need)
            cap *= 2;
        char *c = realloc(t->cur, cap);
        if (!c)
            return NULL;
        t->cur = c;
        t->curcap = cap;
    }
    if (at)
        t->cur[at++] = '/';
    memcpy(t->cur + at, comp, len);
    t->cur[at + len] = '\0';
    return t->cur + at;
}

static void push_fd(pm_tree *t, int fd)
{
    t->depth++;
    t->fds[t->depth] = fd;
    t->ends[t->depth] = strlen(t->cur);
}

static int open_dir(int dir, const char *name)
{
    return openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Why openat(dir, name, O_DIRECTORY|O_NOFOLLOW) failed with e: a link
 * there gives ENOTDIR as a file does, so look (on this error path only). */
static int is_link(int dir, const char *name, int e)
{
    struct stat st;
    return e == ELOOP ||
           (e == ENOTDIR && fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode));
}

/* Enter comp (a directory below the current one), making it if create. */
static int push(pm_tree *t, const char *comp, size_t len, int create)
{
    if (t->depth == MAX_DEPTH)
        return fail(t, "its path is too deep", ENAMETOOLONG);
    size_t at = t->ends[t->depth];
    char *name = cur_append(t, comp, len);
    if (!name)
        return fail(t, "out of memory", ENOMEM);
    int top = t->fds[t->depth], fd;
    if (t->kept[t->depth] >= 0 && strcmp(t->kept_name[t->depth], name) == 0) {
        fd = t->kept[t->depth];   /* entered again: no system call */
        t->kept[t->depth] = -1;
        push_fd(t, fd);
        return 0;
    }
    fd = open_dir(top, name);
    if (fd < 0 && errno == ENOENT && create && (mkdirat(top, name, 0755) == 0 || errno == EEXIST))
        fd = open_dir(top, name);
    if (fd < 0) {
        int e = errno;
        int link = is_link(top, name, e);
        t->cur[at] = '\0';
        if (link || e == ENOTDIR) {   /* errno kept for links.c's message */
            fail(t, link ? "a directory above it is a symbolic link"
                         : "a directory above it is not a directory", 0);
            errno = link ? ELOOP : ENOTDIR;
            return -1;
        }
        return fail(t, "cannot open a directory above it", e);
    }
    push_fd(t, fd);
    return 0;
}

/* Make the open parent the directory rel[0..dlen), reusing the common
 * leading components. */
static int enter(pm_tree *t, const char *rel, size_t dlen, int create)
{
    size_t k = 0;
    while (k < t->depth) {
        size_t e = t->ends[k + 1];
        if (e > dlen || memcmp(t->cur, rel, e) != 0 || (e < dlen && rel[e] != '/'))
            break;
        k++;
    }
    pop_to(t, k);
    const char *p = rel + t->ends[k];
    const char *end = rel + dlen;
    while (p < end) {
        if (*p == '/') {
            p++;
            continue;
        }
        size_t len = strcspn(p, "/");
        if (p + len > end)
            len = (size_t)(end - p);
        if (push(t, p, len, create) != 0)
            return -1;
        p += len;
    }
    return 0;
}

static int parent(pm_tree *t, const char *rel, const char **base, int create)
{
    const char *slash = strrchr(rel, '/');
    if (!slash) {   /* at the top: the root, the open parent left as is */
        *base = rel;
        return t->root;
    }
    *base = slash + 1;
    size_t dlen = (size_t)(slash - rel);
    if (!(t->ends[t->depth] == dlen && memcmp(t->cur, rel, dlen) == 0) &&
        enter(t, rel, dlen, create) != 0)
        return -1;
    return t->fds[t->depth];
}

int pm_tree_parent(pm_tree *t, const char *rel, const char **base)
{
    return parent(t, rel, base, 1);
}

/* Remove the non-directory at dir/base, which is in the way of an entry. */
static int clear(pm_tree *t, int dir, const char *base)
{
    if (unlinkat(dir, base, 0) == 0 || errno == ENOENT)
        return 0;
    return errno == EISDIR || errno == EPERM ? fail(t, "a directory is in the way", 0)
                                             : fail(t, "cannot remove what is in the way", errno);
}

static int record_dir(pm_tree *t, const char *rel, const struct timespec *mtime);

int pm_tree_mkdir(pm_tree *t, const char *rel, mode_t mode, const struct timespec *mtime)
{
    const char *base;
    if (parent(t, rel, &base, 1) < 0)
        return -1;
    if (!strchr(rel, '/'))
        pop_to(t, 0);   /* the open parent is now the root: base goes on it */
    if (t->depth == MAX_DEPTH)
        return fail(t, "its path is too deep", ENAMETOOLONG);
    int dir = t->fds[t->depth], fd = -1, created = 0;
    for (int tries = 0; fd < 0; tries++) {
        created = mkdirat(dir, base, mode) == 0;
        if (!created && errno != EEXIST)
            return fail(t, "cannot create", errno);
        fd = open_dir(dir, base);
        int e = errno;
        if (fd >= 0)
            break;
        if (is_link(dir, base, e))
            return fail(t, "a symbolic link is in the way", 0);
        if (e != ENOTDIR && e != ENOENT)
            return fail(t, "cannot open", e);
        if (tries == MAX_TRIES)
            return fail(t, "cannot create", EEXIST);
        if (e == ENOTDIR && clear(t, dir, base) != 0)   /* a file there: replaced */
            return -1;
    }
    /* An existing directory takes the bundle's mode too. */
    if ((!created || (mode & ~t->umask) != mode) && fchmod(fd, mode) != 0) {
        int e = errno;
        close(fd);
        return fail(t, "cannot set its mode", e);
    }
    if (!cur_append(t, base, strlen(base))) {
        close(fd);
        return fail(t, "out of memory", ENOMEM);
    }
    push_fd(t, fd);   /* its entries come next in tar order */
    if (!mtime)
        return 0;
    return record_dir(t, rel, mtime);
}

static size_t name_hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 32));
}

/* The slot of rel in t->slot: its entry, or the empty one it would take. */
static size_t *find_slot(const pm_tree *t, const char *rel)
{
    size_t i = name_hash(rel) & (t->nslot - 1);
    while (t->slot[i] && strcmp(t->fix[t->slot[i] - 1].rel, rel) != 0)
        i = (i + 1) & (t->nslot - 1);
    return &t->slot[i];
}

/* Keep room for one more record: table at most half full. */
static int grow_slots(pm_tree *t)
{
    if (2 * (t->nfix + 1) <= t->nslot)
        return 0;
    size_t n = t->nslot ? 2 * t->nslot : 128;
    size_t *old = t->slot, oldn = t->nslot;
    if (!(t->slot = calloc(n, sizeof *t->slot))) {
        t->slot = old;
        return -1;
    }
    t->nslot = n;
    for (size_t i = 0; i < oldn; i++)
        if (old[i])
            *find_slot(t, t->fix[old[i] - 1].rel) = old[i];
    free(old);
    return 0;
}

/* rel's mtime for pm_tree_finish_dirs: a repeat takes the later time
 * (tar's order) and no memory. */
static int record_dir(pm_tree *t, const char *rel, const struct timespec *mtime)
{
    if (grow_slots(t) != 0)
        return fail(t, "out of memory", ENOMEM);
    size_t *s = find_slot(t, rel);
    if (*s) {
        t->fix[*s - 1].ts[1] = *mtime;
        return 0;
    }
    if (t->nfix == t->fixcap) {
        size_t cap = t->fixcap ? 2 * t->fixcap : 64;
        dirfix *f = realloc(t->fix, cap * sizeof *f);
        if (!f)
            return fail(t, "out of memory", ENOMEM);
        t->fix = f;
        t->fixcap = cap;
    }
    dirfix *f = &t->fix[t->nfix];
    if (!(f->rel = strdup(rel)))
        return fail(t, "out of memory", ENOMEM);
    f->ts[0].tv_sec = 0;
    f->ts[0].tv_nsec = UTIME_OMIT;
    f->ts[1] = *mtime;
    t->nfix++;
    *s = t->nfix;
    t->fixbytes += strlen(rel) + 1;
    return 0;
}

size_t pm_tree_dir_bytes(const pm_tree *t)
{
    return t->fixbytes;
}

int pm_tree_create(pm_tree *t, const char *rel, mode_t mode)
{
    const char *base;
    int dir = parent(t, rel, &base, 1);
    if (dir < 0)
        return -1;
    for (int tries = 0;; tries++) {
        int fd = openat(dir, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd >= 0)
            return fd;
        if (errno != EEXIST)
            return fail(t, "cannot create", errno);
        if (tries == MAX_TRIES)
            return fail(t, "cannot create", EEXIST);
        if (clear(t, dir, base) != 0)
            return -1;
    }
}

int pm_tree_write(pm_tree *t, int fd, const void *buf, size_t len, off_t offset)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return fail(t, "Write failed", n < 0 ? errno : EIO);
        p += n;
        len -= (size_t)n;
        offset += n;
    }
    return 0;
}

int pm_tree_finish_file(pm_tree *t, int fd, off_t end, off_t size, mode_t mode,
                        const struct timespec ts[2])
{
    int rc = 0;
    if (end < size && ftruncate(fd, size) != 0)   /* a sparse file's last hole */
        rc = fail(t, "cannot set its size", errno);
    else if ((mode & ~t->umask) != mode && fchmod(fd, mode) != 0)
        rc = fail(t, "cannot set its mode", errno);
    else if (ts && futimens(fd, ts) != 0)
        rc = fail(t, "cannot set its time", errno);
    if (close(fd) != 0 && rc == 0)
        rc = fail(t, "Write failed", errno);
    return rc;
}

int pm_tree_symlink(pm_tree *t, const char *rel, const char *target)
{
    const char *base;
    int dir = parent(t, rel, &base, 1);
    if (dir < 0)
        return -1;
    for (int tries = 0;; tries++) {
        if (symlinkat(target, dir, base) == 0)
            return 0;
        if (errno != EEXIST)
            return fail(t, "cannot create the symbolic link", errno);
        if (tries == MAX_TRIES)
            return fail(t, "cannot create the symbolic link", EEXIST);
        if (clear(t, dir, base) != 0)
            return -1;
    }
}

static int same_inode(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Is dir/base (not followed) the inode st? */
static int is_inode(int dir, const char *base, const struct stat *st)
{
    struct stat now;
    return fstatat(dir, base, &now, AT_SYMLINK_NOFOLLOW) == 0 && same_inode(&now, st);
}

/* Link dir/base to the inode open as fd (st its fstat): through /proc, or
 * (tpar >= 0) by the name tpar/tbase, checked after.  1 if /proc turned
 * out to be missing, 0 done, -1/-2 failed. */
static int link_inode(pm_tree *t, int fd, const struct stat *st, int tpar, const char *tbase,
                      int dir, const char *base)
{
    char proc[48];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    for (int tries = 0;; tries++) {
        int r = tpar < 0 ? linkat(AT_FDCWD, proc, dir, base, AT_SYMLINK_FOLLOW)
                         : linkat(tpar, tbase, dir, base, 0);
        if (r == 0)
            break;
        if (errno == ENOENT) {
            if (tpar < 0 && faccessat(AT_FDCWD, "/proc/self/fd", F_OK, 0) != 0)
                return 1;
            t->why = "which was removed while being linked";
            t->err = 0;
            return -2;
        }
        if (errno != EEXIST)
            return fail(t, "cannot create the hard link", errno);
        if (is_inode(dir, base, st))   /* linked already (a name linked to itself) */
            return 0;
        if (tries == MAX_TRIES)
            return fail(t, "cannot create the hard link", EEXIST);
        if (clear(t, dir, base) != 0)
            return -1;
    }
    /* By name, what was linked is whatever tpar/tbase was by then: it must
     * be the inode that was checked. */
    if (tpar >= 0 && !is_inode(dir, base, st)) {
        if (unlinkat(dir, base, 0) != 0 && errno != ENOENT)
            return fail(t, "cannot remove a wrong hard link", errno);
        t->why = "which was replaced while being linked";
        t->err = 0;
        return -2;
    }
    return 0;
}

/* Open the hard link's target without following links: -1/-2 as
 * pm_tree_hardlink.  *tpar (if tpar): its directory, for links by name. */
static int open_target(pm_tree *t, const char *target, int *tpar, const char **tbase, struct stat *st)
{
    int fd;
    if (tpar) {
        *tpar = pm_openat_parent_beneath(t->root, target, tbase);
        fd = *tpar < 0 ? -1 : openat(*tpar, *tbase, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    } else {
        fd = pm_openat_beneath(t->root, target, O_PATH | O_NOFOLLOW, 0);
    }
    t->err = 0;
    if (fd < 0) {
        t->why = errno == ELOOP || errno == ENOTDIR ? "which lies under a symbolic link"
                                                    : "which is not in the tree";
        return -2;
    }
    if (fstat(fd, st) != 0) {
        int e = errno;
        close(fd);
        return fail(t, "cannot examine the hard link's target", e);
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        t->why = S_ISLNK(st->st_mode) ? "which is a symbolic link" : "which is not a regular file";
        return -2;
    }
    return fd;
}

int pm_tree_hardlink(pm_tree *t, const char *rel, const char *target)
{
    int by_name = no_proc || pm_unpack_force_no_proc;
    int tpar = -1;
    const char *tbase = NULL;
    struct stat st;
    int fd = open_target(t, target, by_name ? &tpar : NULL, &tbase, &st);
    if (fd < 0) {
        if (tpar >= 0)
            close(tpar);
        return fd;
    }
    if (pm_tree_test_before_link)
        pm_tree_test_before_link(target);
    const char *base;
    int dir = parent(t, rel, &base, 1);
    int rc = dir < 0 ? -1 : link_inode(t, fd, &st, tpar, tbase, dir, base);
    if (rc == 1) {   /* no /proc: by name from now on, from the same parent */
        no_proc = 1;
        tpar = pm_openat_parent_beneath(t->root, target, &tbase);
        if (tpar < 0)
            rc = fail(t, "cannot open the hard link's target directory", errno);
        else if (!is_inode(tpar, tbase, &st))
            rc = (t->why = "which was replaced while being linked", t->err = 0, -2);
        else
            rc = link_inode(t, fd, &st, tpar, tbase, dir, base);
    }
    close(fd);
    if (tpar >= 0)
        close(tpar);
    return rc;
}

int pm_tree_finish_dirs(pm_tree *t, const char **name)
{
    for (size_t i = 0; i < t->nfix; i++) {
        const char *base;
        dirfix *f = &t->fix[i];
        int dir = parent(t, f->rel, &base, 0);
        if (dir < 0 || utimensat(dir, base, f->ts, AT_SYMLINK_NOFOLLOW) != 0) {
            if (dir >= 0)
                fail(t, "cannot set its time", errno);
            *name = f->rel;
            return -1;
        }
    }
    return 0;
}
