/* test_unpack.c - safe streaming extraction, on archives made in memory
 * with libarchive's writer: what is extracted (content, links, times,
 * sanitised modes), what is refused, and that a refused entry leaves
 * nothing outside the destination. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jobdir.h"
#include "log.h"
#include "strutil.h"
#include "treewrite.h"
#include "trust.h"
#include "unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { END, REG, DIR_, SYM, HARD, FIFO, CHR, BLK };
typedef struct ent {
    const char *path;
    int kind;
    const char *data;   /* REG: content; SYM/HARD: target */
    int mode;           /* 0: 0644 */
} ent;

#define MTIME 1000000000L

static char *base, *dest;

/* The options every call below passes (unpack.h): PYTHON_MPI_MAX_UNPACKED
 * and PYTHON_MPI_MAX_ENTRIES (0: the defaults), and the node's budget of
 * a delivery when a test makes one (NULL: each call its own). */
static uint64_t limit_bytes, limit_entries;
static pm_budget *node_budget;

/* The core prints nothing: a refusal (-1) comes back with its reason,
 * naming the bundle; success and a failed source (-2) with none.  The
 * reason is printed here, as the delivery prints it. */
static int reasoned(int rc, pm_err *err, const char *label)
{
    assert_int_equal(err->set, rc == -1);
    if (err->set) {
        assert_non_null(err->text);
        assert_string_equal(err->file, label);
    }
    pm_err_print(err);
    return rc;
}

static int unpack_with(const char *to, const char *label, pm_pull_fn pullf, void *ctx,
                       pm_links *links, pm_unpack_stats *st)
{
    pm_unpack_opts o = {.label = label, .links = links, .budget = node_budget,
                        .max_bytes = limit_bytes, .max_entries = limit_entries};
    pm_err err = PM_ERR_INIT;
    return reasoned(pm_unpack(to, pullf, ctx, &o, st, &err), &err, label);
}

static int unpack_mem(const char *to, const char *label, const void *data, size_t len,
                      pm_unpack_stats *st)
{
    pm_unpack_opts o = {.label = label, .budget = node_budget,
                        .max_bytes = limit_bytes, .max_entries = limit_entries};
    pm_err err = PM_ERR_INIT;
    return reasoned(pm_unpack_memory(to, data, len, &o, st, &err), &err, label);
}

static int unpack_mem_links(const char *to, const char *label, const void *data, size_t len,
                            pm_links *links)
{
    pm_unpack_opts o = {.label = label, .links = links, .budget = node_budget,
                        .max_bytes = limit_bytes, .max_entries = limit_entries};
    pm_err err = PM_ERR_INIT;
    return reasoned(pm_unpack_memory(to, data, len, &o, NULL, &err), &err, label);
}
static unsigned char buf[1 << 20];

static int setup(void **state)
{
    (void)state;
    pm_log_init("test_unpack");
    char tmpl[] = "/tmp/test-unpack.XXXXXX";
    if (!mkdtemp(tmpl))
        return -1;
    base = strdup(tmpl);
    dest = pm_path_join(base, "dest");
    return base && dest && mkdir(dest, 0700) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = pm_rmtree(base, NULL);
    free(base);
    free(dest);
    return rc;
}

/* Each test starts from an empty destination. */
static int fresh(void **state)
{
    (void)state;
    return pm_rmtree(dest, NULL) == 0 && mkdir(dest, 0700) == 0 ? 0 : -1;
}

static size_t count(const ent *es)
{
    size_t n = 0;
    while (es[n].kind != END)
        n++;
    return n;
}

/* Write es (terminated by an END entry) as a pax archive into buf,
 * optionally through a filter ('g' gzip, 'z' zstd, 'n' none). */
static size_t make(const ent *es, int filter)
{
    struct archive *a = archive_write_new();
    assert_non_null(a);
    assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    if (filter == 'z')
        assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
    else if (filter == 'g')
        assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    else
        assert_int_equal(filter, 'n');
    size_t used = 0;
    assert_int_equal(archive_write_open_memory(a, buf, sizeof buf, &used), ARCHIVE_OK);
    for (size_t i = 0; es && es[i].kind != END; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, es[i].path);
        archive_entry_set_mtime(e, MTIME + (time_t)i, 0);
        archive_entry_set_perm(e, es[i].mode ? (mode_t)es[i].mode : 0644);
        size_t len = 0;
        switch (es[i].kind) {
        case REG:
            len = es[i].data ? strlen(es[i].data) : 0;
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_size(e, (la_int64_t)len);
            break;
        case DIR_: archive_entry_set_filetype(e, AE_IFDIR); break;
        case SYM:
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_symlink(e, es[i].data);
            break;
        case HARD:
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_hardlink(e, es[i].data);
            break;
        case FIFO: archive_entry_set_filetype(e, AE_IFIFO); break;
        case CHR:
            archive_entry_set_filetype(e, AE_IFCHR);
            archive_entry_set_rdev(e, 0x0103);   /* /dev/null's numbers */
            break;
        case BLK:
            archive_entry_set_filetype(e, AE_IFBLK);
            archive_entry_set_rdev(e, 0x0700);
            break;
        default: fail();
        }
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (len)
            assert_int_equal(archive_write_data(a, es[i].data, len), (la_ssize_t)len);
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    assert_true(used > 0);
    return used;
}

static char *in_dest(const char *rel)
{
    char *p = pm_path_join(dest, rel);
    assert_non_null(p);
    return p;
}

static int exists(const char *rel)
{
    char *p = in_dest(rel);
    struct stat st;
    int r = lstat(p, &st) == 0;
    free(p);
    return r;
}

static struct stat stat_of(const char *rel)
{
    char *p = in_dest(rel);
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    free(p);
    return st;
}

static void content_is(const char *rel, const char *want)
{
    char *p = in_dest(rel);
    char got[256] = {0};
    int fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, got, sizeof got - 1);
    close(fd);
    free(p);
    assert_int_equal(n, (ssize_t)strlen(want));
    assert_string_equal(got, want);
}

/* Nothing but dest (and what the test itself put there) next to dest. */
static void nothing_outside(const char *allowed)
{
    DIR *d = opendir(base);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, "dest") == 0 || (allowed && strcmp(e->d_name, allowed) == 0))
            continue;
        fail_msg("unexpected '%s' outside the destination", e->d_name);
    }
    closedir(d);
}

static size_t dest_entries(void)
{
    DIR *d = opendir(dest);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void extracts_tree(void **state)
{
    (void)state;
    const ent es[] = {
        {"lib", DIR_, NULL, 0755},
        {"lib/a.py", REG, "x = 1\n", 0644},
        {"lib/l.py", SYM, "a.py", 0},
        {"lib/h.py", HARD, "lib/a.py", 0},
        {"./lib/sub/deep.txt", REG, "deep", 0600},   /* parent made implicitly */
        {"lib/up.py", SYM, "../top.py", 0},
        {"top.py", REG, "print('top')\n", 0755},
        {"lib/empty", REG, NULL, 0644},
        {NULL, END, NULL, 0},
    };
    const char filters[] = {'n', 'g', 'z'};
    for (size_t f = 0; f < sizeof filters; f++) {
        assert_int_equal(fresh(NULL), 0);
        size_t n = make(es, filters[f]);
        pm_unpack_stats st = {99, 99};
        assert_int_equal(unpack_mem(dest, "t.tar", buf, n, &st), 0);
        assert_int_equal(st.entries, count(es));
        assert_int_equal(st.bytes, 6 + 4 + 13);
        content_is("lib/a.py", "x = 1\n");
        content_is("lib/l.py", "x = 1\n");          /* through the link */
        content_is("lib/sub/deep.txt", "deep");
        content_is("lib/up.py", "print('top')\n");
        content_is("lib/empty", "");
        assert_true(S_ISDIR(stat_of("lib").st_mode));
        assert_true(S_ISDIR(stat_of("lib/sub").st_mode));
        struct stat ls = stat_of("lib/l.py");
        assert_true(S_ISLNK(ls.st_mode));
        char *lp = in_dest("lib/l.py");
        char *target = pm_readlink(lp);
        assert_string_equal(target, "a.py");         /* kept relative */
        free(target);
        free(lp);
        struct stat a = stat_of("lib/a.py"), h = stat_of("lib/h.py");
        assert_true(S_ISREG(h.st_mode));
        assert_int_equal(a.st_ino, h.st_ino);        /* a real hard link */
        /* times kept (.pyc validation depends on them), dirs included */
        assert_int_equal(stat_of("lib/sub/deep.txt").st_mtime, MTIME + 4);
        assert_int_equal(stat_of("top.py").st_mtime, MTIME + 6);
        assert_int_equal(stat_of("lib").st_mtime, MTIME + 0);
        assert_int_equal(stat_of("top.py").st_mode & 07777, 0755);
        assert_int_equal(stat_of("lib/sub/deep.txt").st_mode & 07777, 0600);
        nothing_outside(NULL);
    }
}

static void modes_sanitised(void **state)
{
    (void)state;
    const ent es[] = {
        {"d", DIR_, NULL, 0777},
        {"d/suid", REG, "#!", 06777},
        {"d/gw", REG, "x", 0666},
        {"d/ro", REG, "x", 0444},
        {"d/none", REG, "x", 0400},
        {"sticky", DIR_, NULL, 01777},
        {"sgid", DIR_, NULL, 02775},
        {"ro", DIR_, NULL, 0500},
        {"ro/f", REG, "x", 0644},
        {"locked", DIR_, NULL, 0111},
        {NULL, END, NULL, 0},
    };
    size_t n = make(es, 'n');
    assert_int_equal(unpack_mem(dest, "m.tar", buf, n, NULL), 0);
    assert_int_equal(stat_of("d").st_mode & 07777, 0755);
    assert_int_equal(stat_of("d/suid").st_mode & 07777, 0755);
    assert_int_equal(stat_of("d/gw").st_mode & 07777, 0644);
    assert_int_equal(stat_of("d/ro").st_mode & 07777, 0644);     /* owner keeps rw */
    assert_int_equal(stat_of("d/none").st_mode & 07777, 0600);
    assert_int_equal(stat_of("sticky").st_mode & 07777, 0755);
    assert_int_equal(stat_of("sgid").st_mode & 07777, 0755);
    assert_int_equal(stat_of("ro").st_mode & 07777, 0700);       /* owner rwx */
    assert_int_equal(stat_of("locked").st_mode & 07777, 0711);
    content_is("ro/f", "x");
    /* and so the tree can always be removed */
    assert_int_equal(pm_rmtree(dest, NULL), 0);
    assert_int_equal(mkdir(dest, 0700), 0);
}

/* Refusals: each archive must fail with -1 and leave nothing outside. */
typedef struct bad_case {
    const char *why;
    ent es[4];
} bad_case;

/* Set by the *_deferred tests: extract with links made last (links.h). */
static int deferred;

static void refuses(const bad_case *c, const char *allowed_outside)
{
    assert_int_equal(fresh(NULL), 0);
    size_t n = make(c->es, 'n');
    print_message("refusal%s: %s\n", deferred ? " (links deferred)" : "", c->why);
    if (deferred) {
        /* refused while reading, or when the links are made */
        pm_links *l = pm_links_new();
        assert_non_null(l);
        int rc = unpack_mem_links(dest, c->why, buf, n, l);
        assert_true(rc == -1 || (rc == 0 && pm_links_create(l, dest, NULL) == -1));
        pm_links_free(l);
    } else {
        assert_int_equal(unpack_mem(dest, c->why, buf, n, NULL), -1);
    }
    nothing_outside(allowed_outside);
}

static void refuses_escapes(void **state)
{
    (void)state;
    char *abs_in_base = pm_path_join(base, "abs-escape");
    char tmp_abs[64];
    snprintf(tmp_abs, sizeof tmp_abs, "/tmp/pm-unpack-abs-%ld", (long)getpid());
    const bad_case cases[] = {
        {"absolute path", {{tmp_abs, REG, "x", 0}, {NULL, END, NULL, 0}}},
        {"absolute path into base", {{abs_in_base, REG, "x", 0}, {NULL, END, NULL, 0}}},
        {"dot-dot", {{"a/../../x", REG, "x", 0}, {NULL, END, NULL, 0}}},
        {"bare dot-dot dir", {{"..", DIR_, NULL, 0}, {NULL, END, NULL, 0}}},
        {"dot-dot after a good entry",
         {{"ok.txt", REG, "fine", 0}, {"../x", REG, "x", 0}, {NULL, END, NULL, 0}}},
        {"symlink escapes",
         {{"a", DIR_, NULL, 0}, {"a/l", SYM, "../../etc", 0}, {NULL, END, NULL, 0}}},
        {"symlink escapes one level",
         {{"a", DIR_, NULL, 0}, {"a/l", SYM, "../../x", 0}, {NULL, END, NULL, 0}}},
        {"top-level symlink to parent", {{"l", SYM, "..", 0}, {NULL, END, NULL, 0}}},
        {"symlink absolute", {{"l", SYM, "/etc", 0}, {NULL, END, NULL, 0}}},
        {"symlink absolute into dest", {{"l", SYM, dest, 0}, {NULL, END, NULL, 0}}},
        {"hard link up", {{"h", HARD, "../x", 0}, {NULL, END, NULL, 0}}},
        {"hard link absolute", {{"h", HARD, "/etc/passwd", 0}, {NULL, END, NULL, 0}}},
        /* refused for being absolute, even though dest/etc/passwd exists */
        {"hard link absolute, shadowed inside",
         {{"etc", DIR_, NULL, 0}, {"etc/passwd", REG, "x", 0}, {"h", HARD, "/etc/passwd", 0},
          {NULL, END, NULL, 0}}},
        {"FIFO", {{"p", FIFO, NULL, 0}, {NULL, END, NULL, 0}}},
        {"character device", {{"c", CHR, NULL, 0}, {NULL, END, NULL, 0}}},
        {"block device", {{"b", BLK, NULL, 0}, {NULL, END, NULL, 0}}},
        /* a link inside the tree, then a write through it */
        {"write through planted symlink",
         {{"d", DIR_, NULL, 0}, {"d/l", SYM, ".", 0}, {"d/l/f", REG, "x", 0},
          {NULL, END, NULL, 0}}},
        /* issue 12: a hard link copies a contained symlink to a depth where
         * the same target leads out ("h -> ../../.." at the top) */
        {"hard link to a symlink",
         {{"a/b/c/s", SYM, "../../..", 0}, {"h", HARD, "a/b/c/s", 0}, {NULL, END, NULL, 0}}},
        {"hard link to a directory",
         {{"d", DIR_, NULL, 0}, {"h", HARD, "d", 0}, {NULL, END, NULL, 0}}},
        {"hard link to the destination", {{"h", HARD, ".", 0}, {NULL, END, NULL, 0}}},
        /* python-mpi's own names: forged stamps, markers, locks */
        {"stamps in a bundle",
         {{".python-mpi-stamps", REG, "10 1 2 3 4 0 /root/b.tar\n", 0}, {NULL, END, NULL, 0}}},
        {"old stamps as a link", {{".python-mpi-stamps.old", SYM, "x", 0}, {NULL, END, NULL, 0}}},
        {"reserved name deeper", {{"lib/.python-mpi-parts", REG, "x", 0}, {NULL, END, NULL, 0}}},
        {"hard link to a reserved name",
         {{"x", REG, "x", 0}, {"h", HARD, ".python-mpi-stamps", 0}, {NULL, END, NULL, 0}}},
        {"below the manifest directory",
         {{".python-mpi-relocate/sub/x", REG, "x", 0}, {NULL, END, NULL, 0}}},
        {"the destination as a file", {{"./", REG, "x", 0}, {NULL, END, NULL, 0}}},
        /* issue 21: the writer never climbs, so no ".." at all */
        {"dot-dot inside", {{"a/../x", REG, "x", 0}, {NULL, END, NULL, 0}}},
        {"hard link with dot-dot inside",
         {{"x", REG, "x", 0}, {"h", HARD, "a/../x", 0}, {NULL, END, NULL, 0}}},
        /* a link where a directory goes: refused, never followed or replaced
         * (deferred: the directory is made, then the link cannot be) */
        {"directory over a symlink",
         {{"l", SYM, ".", 0}, {"l", DIR_, NULL, 0}, {"l/x", REG, "x", 0}, {NULL, END, NULL, 0}}},
        /* the same name as a file, then a link, then a hard link to it: the
         * hard link sees what is there now */
        {"hard link to a file replaced by a symlink",
         {{"a/b/s", REG, "x", 0}, {"a/b/s", SYM, "../..", 0}, {"h", HARD, "a/b/s", 0},
          {NULL, END, NULL, 0}}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        refuses(&cases[i], NULL);
        struct stat st;
        assert_int_equal(lstat(tmp_abs, &st), -1);
        /* deferred, d/l/f is written into a real directory d/l (then making
         * the link d/l fails): inside the tree, never through a link */
        int through_link = exists("d/l/f") && !(deferred && S_ISDIR(stat_of("d/l").st_mode));
        int x_ok = strcmp(cases[i].why, "hard link to a reserved name") == 0 ||
                   strcmp(cases[i].why, "hard link with dot-dot inside") == 0;
        /* the bundle's own contained link l -> "." stays (deferred: the
         * directory does), nothing was written through it; deferred, the
         * hard link was made to the file, the link then refused */
        int l_ok = strcmp(cases[i].why, "directory over a symlink") == 0;
        int h_ok = deferred && strcmp(cases[i].why, "hard link to a file replaced by a symlink") == 0 &&
                   S_ISREG(stat_of("h").st_mode);
        assert_false(exists("p") || exists("c") || exists("b") || (exists("h") && !h_ok) ||
                     (exists("l") && !l_ok) || exists("a/l") || through_link ||
                     (exists("x") && !x_ok) ||
                     exists(".python-mpi-stamps") || exists(".python-mpi-stamps.old") ||
                     exists("lib/.python-mpi-parts") || exists(".python-mpi-relocate/sub"));
    }
    free(abs_in_base);
}

/* A "." entry names the destination: it keeps its owner's mode (a bundle
 * made the 0700 prefix 0755, issue 12), and the rest is extracted. */
static void keeps_destination_mode(void **state)
{
    (void)state;
    const ent es[] = {
        {".", DIR_, NULL, 0755}, {"./", DIR_, NULL, 0777}, {"f", REG, "x", 0}, {NULL, END, NULL, 0},
    };
    size_t n = make(es, 'n');
    assert_int_equal(chmod(dest, 0700), 0);
    pm_unpack_stats st;
    assert_int_equal(unpack_mem(dest, "dot.tar", buf, n, &st), 0);
    assert_int_equal(st.entries, 3);
    struct stat d;
    assert_int_equal(stat(dest, &d), 0);
    assert_int_equal(d.st_mode & 07777, 0700);
    content_is("f", "x");
}

/* The manifests pkgroot writes are the one reserved name a bundle holds. */
static void relocation_manifests_allowed(void **state)
{
    (void)state;
    const ent es[] = {
        {".python-mpi-relocate", DIR_, NULL, 0755},
        {".python-mpi-relocate/demo", REG, "python-mpi-relocate 1\n", 0}, {NULL, END, NULL, 0},
    };
    size_t n = make(es, 'n');
    assert_int_equal(unpack_mem(dest, "manifest.tar", buf, n, NULL), 0);
    content_is(".python-mpi-relocate/demo", "python-mpi-relocate 1\n");
}

/* No bundle unpacks to more than the limit (PYTHON_MPI_MAX_UNPACKED), by
 * the sizes its headers declare, before anything of the entry is written;
 * every part of a parts bundle counts against one budget. */
static void size_limit(void **state)
{
    (void)state;
    const ent es[] = {{"a", REG, "12345", 0}, {"b", REG, "1234567", 0}, {NULL, END, NULL, 0}};
    size_t n = make(es, 'n');
    limit_bytes = 12;
    assert_int_equal(unpack_mem(dest, "fits.tar", buf, n, NULL), 0);
    assert_int_equal(fresh(NULL), 0);
    limit_bytes = 11;
    pm_unpack_stats st;
    assert_int_equal(unpack_mem(dest, "big.tar", buf, n, &st), -1);
    assert_int_equal(st.entries, 1);
    assert_true(exists("a"));
    assert_false(exists("b"));
    limit_bytes = 0;   /* the default: the file system's size */
    assert_int_equal(fresh(NULL), 0);
    assert_int_equal(unpack_mem(dest, "default.tar", buf, n, NULL), 0);
}

/* One ustar header at h (512 bytes): name, size, type flag; checksum. */
static void ustar(unsigned char *h, const char *name, size_t size, char type)
{
    memset(h, 0, 512);
    snprintf((char *)h, 100, "%s", name);
    snprintf((char *)h + 100, 8, "%07o", 0644);
    snprintf((char *)h + 108, 8, "%07o", 0);
    snprintf((char *)h + 116, 8, "%07o", 0);
    snprintf((char *)h + 124, 12, "%011zo", size);
    snprintf((char *)h + 136, 12, "%011o", 0);
    h[156] = (unsigned char)type;
    memcpy(h + 257, "ustar\0" "00", 8);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
}

/* A pax GNU sparse 0.1 entry (red team #1): declared 1 byte, its map says
 * data bytes of stored data.  Into out (big enough); its length. */
static size_t sparse_tar(unsigned char *out, size_t data)
{
    char rec[3][64], pax[256];
    snprintf(rec[0], sizeof rec[0], "GNU.sparse.size=1\n");
    snprintf(rec[1], sizeof rec[1], "GNU.sparse.numblocks=1\n");
    snprintf(rec[2], sizeof rec[2], "GNU.sparse.map=0,%zu\n", data);
    size_t plen = 0;
    for (int i = 0; i < 3; i++) {
        /* "LEN key=value\n", LEN counting itself */
        size_t l = strlen(rec[i]) + 3;
        l = strlen(rec[i]) + 1 + (size_t)snprintf(NULL, 0, "%zu", l);
        plen += (size_t)snprintf(pax + plen, sizeof pax - plen, "%zu %s", l, rec[i]);
    }
    size_t n = 0;
    ustar(out, "PaxHeaders/big.bin", plen, 'x');
    memset(out + 512, 0, 512);
    memcpy(out + 512, pax, plen);
    n = 1024;
    ustar(out + n, "big.bin", data, '0');
    n += 512;
    memset(out + n, 'd', data);
    n += (data + 511) / 512 * 512;
    memset(out + n, 0, 1024);
    return n + 1024;
}

/* The bytes written count, not the size a header declares: a sparse map
 * carrying 64 KiB under a 32 KiB limit is refused before the block that
 * would pass it is written (red team #1). */
static void sparse_data_counted(void **state)
{
    (void)state;
    static unsigned char tar[(64 << 10) + 8192];
    size_t n = sparse_tar(tar, 64 << 10);
    limit_bytes = 32 << 10;
    assert_int_equal(unpack_mem(dest, "sparse.tar", tar, n, NULL), -1);
    struct stat st;
    assert_true(!exists("big.bin") || (lstat(in_dest("big.bin"), &st) == 0 && st.st_blocks * 512 <= (32 << 10)));
    limit_bytes = 128 << 10;
    assert_int_equal(fresh(NULL), 0);
    assert_int_equal(unpack_mem(dest, "sparse.tar", tar, n, NULL), 0);
    limit_bytes = 0;
}

/* Every entry counts (files, directories, symbolic and hard links), and
 * the one past the limit is refused before it is made (red team #2). */
static void entries_limit(void **state)
{
    (void)state;
    const ent es[] = {{"f", REG, "1", 0}, {"d", DIR_, NULL, 0755}, {"s", SYM, "f", 0},
                      {"h", HARD, "f", 0}, {NULL, END, NULL, 0}};
    size_t n = make(es, 'n');
    limit_entries = 3;
    pm_unpack_stats st;
    assert_int_equal(unpack_mem(dest, "many.tar", buf, n, &st), -1);
    assert_int_equal(st.entries, 3);
    assert_false(exists("h"));
    limit_entries = 4;
    assert_int_equal(fresh(NULL), 0);
    assert_int_equal(unpack_mem(dest, "many.tar", buf, n, NULL), 0);
    limit_entries = 0;   /* the default: half the free inodes */
    assert_int_equal(fresh(NULL), 0);
    assert_int_equal(unpack_mem(dest, "many.tar", buf, n, NULL), 0);
}

/* A target the kernel cannot take is refused when read (and so by
 * `pkgroot verify`); one byte shorter passes (red team #13). */
static void long_symlink_target(void **state)
{
    (void)state;
    static char target[PATH_MAX + 1];
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "l");
    archive_entry_set_filetype(e, AE_IFLNK);
    memset(target, 'x', PATH_MAX);
    target[PATH_MAX] = '\0';
    archive_entry_set_symlink(e, target);
    char *why;
    assert_int_equal(pm_entry_check(e, &why), -1);
    assert_non_null(strstr(why, "longer than the system allows"));
    free(why);
    target[PATH_MAX - 1] = '\0';
    archive_entry_set_symlink(e, target);
    assert_int_equal(pm_entry_check(e, &why), 0);
    archive_entry_free(e);
}

/* Deferred links are held in memory: their names and targets count as
 * bytes, so a bundle of links cannot take more than the limit. */
static void link_bytes_counted(void **state)
{
    (void)state;
    const ent es[] = {{"a", SYM, "0123456789", 0}, {"b", SYM, "0123456789", 0}, {NULL, END, NULL, 0}};
    size_t n = make(es, 'n');
    pm_links *l = pm_links_new();
    assert_non_null(l);
    limit_bytes = 15;
    assert_int_equal(unpack_mem_links(dest, "links.tar", buf, n, l), -1);
    limit_bytes = 22;
    assert_int_equal(unpack_mem_links(dest, "links.tar", buf, n, l), 0);
    limit_bytes = 0;
    pm_links_free(l);
}

/* A directory's name is kept for its mtime (memory): counted as bytes,
 * once however often the bundle repeats it, the last time kept (red
 * team 2 #1: 100k repeats of a 32 KB name took 3.2 GB). */
static void dir_names_counted(void **state)
{
    (void)state;
    ent es[6];
    for (int i = 0; i < 5; i++)
        es[i] = (ent){"dddddddddd", DIR_, NULL, 0};
    es[5] = (ent){NULL, END, NULL, 0};
    size_t n = make(es, 'n');
    limit_bytes = 10;   /* the name and its NUL: 11 */
    assert_int_equal(unpack_mem(dest, "dirs.tar", buf, n, NULL), -1);
    assert_int_equal(fresh(NULL), 0);
    limit_bytes = 11;
    assert_int_equal(unpack_mem(dest, "dirs.tar", buf, n, NULL), 0);
    assert_int_equal(stat_of("dddddddddd").st_mtime, MTIME + 4);
    limit_bytes = 0;
}

/* One budget for a delivery: its bundles add up, and the node's unpackers
 * that share the words count together (red team #14). */
static void delivery_budget(void **state)
{
    (void)state;
    const ent a[] = {{"a", REG, "1234567", 0}, {NULL, END, NULL, 0}};
    const ent b[] = {{"b", REG, "1234567", 0}, {NULL, END, NULL, 0}};
    static unsigned char ta[4096];
    size_t na = make(a, 'n');
    memcpy(ta, buf, na);
    size_t nb = make(b, 'n');
    limit_bytes = 12;
    node_budget = pm_budget_new(dest, limit_bytes, 0);
    assert_non_null(node_budget);
    assert_int_equal(unpack_mem(dest, "a.tar", ta, na, NULL), 0);
    assert_int_equal(unpack_mem(dest, "b.tar", buf, nb, NULL), -1);
    pm_budget_free(node_budget);
    /* Shared words that another unpacker already counted 6 bytes in: this
     * one's 7 pass the limit. */
    assert_int_equal(fresh(NULL), 0);
    _Atomic uint64_t words[2] = {6, 0};
    node_budget = pm_budget_new(dest, limit_bytes, 0);
    pm_budget_share(node_budget, words);
    assert_int_equal(unpack_mem(dest, "a.tar", ta, na, NULL), -1);
    pm_budget_free(node_budget);
    assert_true(words[0] >= 13);
    /* Shared from the start of the delivery: what was counted before goes in. */
    assert_int_equal(fresh(NULL), 0);
    words[0] = words[1] = 0;
    node_budget = pm_budget_new(dest, limit_bytes, 0);
    assert_int_equal(unpack_mem(dest, "a.tar", ta, na, NULL), 0);
    pm_budget_share(node_budget, words);
    assert_int_equal(words[0], 7);
    assert_int_equal(words[1], 1);
    pm_budget_free(node_budget);
    node_budget = NULL;
    /* Outside a delivery each call has its own budget again. */
    assert_int_equal(fresh(NULL), 0);
    assert_int_equal(unpack_mem(dest, "a.tar", ta, na, NULL), 0);
    assert_int_equal(unpack_mem(dest, "b.tar", buf, nb, NULL), 0);
    limit_bytes = 0;
}

/* The refusal happens at the bad entry: nothing after it is extracted. */
static void stops_at_first_bad_entry(void **state)
{
    (void)state;
    const ent es[] = {
        {"first.txt", REG, "1", 0}, {"p", FIFO, NULL, 0}, {"after.txt", REG, "2", 0},
        {NULL, END, NULL, 0},
    };
    size_t n = make(es, 'n');
    pm_unpack_stats st;
    assert_int_equal(unpack_mem(dest, "mid.tar", buf, n, &st), -1);
    assert_int_equal(st.entries, 1);
    assert_true(exists("first.txt"));
    assert_false(exists("p"));
    assert_false(exists("after.txt"));
}

/* Each link is contained on its own, but a/l2 = a/l1/.. and a/l1 -> ..
 * resolves to dest/.. : the chain leads outside (see the report). */
static void refuses_symlink_chain(void **state)
{
    (void)state;
    const bad_case c = {"symlink chain",
        {{"a", DIR_, NULL, 0}, {"a/l1", SYM, "..", 0}, {"a/l2", SYM, "l1/../canary", 0},
         {NULL, END, NULL, 0}}};
    char *canary = pm_path_join(base, "canary");
    int fd = open(canary, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    free(canary);
    refuses(&c, "canary");
    assert_false(exists("a/l2"));
}

/* The same refusals when links are deferred: whatever is refused while
 * reading still is, and a write through a link cannot happen because the
 * link is made last, after a real directory took its place (an error). */
static void refuses_escapes_deferred(void **state)
{
    deferred = 1;
    refuses_escapes(state);
    deferred = 0;
}

static void refuses_symlink_chain_deferred(void **state)
{
    deferred = 1;
    refuses_symlink_chain(state);
    deferred = 0;
}

/* Links made last: none exists while files are written; then each is made
 * with its directory opened without following links, so a link to "." does
 * not let a later link climb out ("d -> .", "d/l -> ../x" is dest/../x). */
static void deferred_links(void **state)
{
    (void)state;
    const ent good[] = {
        {"lib", DIR_, NULL, 0}, {"lib/x", REG, "xx", 0}, {"lib64", SYM, "lib", 0},
        {"a/b/c", SYM, "../../lib/x", 0}, {"lib/y", REG, "yy", 0}, {NULL, END, NULL, 0},
    };
    size_t n = make(good, 'n');
    pm_links *l = pm_links_new();
    assert_non_null(l);
    assert_int_equal(unpack_mem_links(dest, "good.tar", buf, n, l), 0);
    assert_false(exists("lib64"));           /* not yet */
    assert_true(exists("lib/y"));
    assert_int_equal(pm_links_create(l, dest, NULL), 2);
    assert_true(S_ISLNK(stat_of("lib64").st_mode));
    content_is("lib64/x", "xx");
    content_is("a/b/c", "xx");
    assert_int_equal(pm_links_create(l, dest, NULL), 0);   /* made once, then forgotten */
    pm_links_free(l);

    assert_int_equal(fresh(NULL), 0);
    const ent climb[] = {
        {"d", SYM, ".", 0}, {"d/l", SYM, "../x", 0}, {NULL, END, NULL, 0},
    };
    n = make(climb, 'n');
    l = pm_links_new();
    assert_int_equal(unpack_mem_links(dest, "climb.tar", buf, n, l), 0);
    assert_int_equal(pm_links_create(l, dest, NULL), -1);
    pm_links_free(l);
    assert_false(exists("d/l"));
    nothing_outside(NULL);
}

static int remove_canary(void **state)
{
    (void)state;
    char *canary = pm_path_join(base, "canary");
    int rc = canary ? unlink(canary) : -1;
    free(canary);
    return rc;
}

static int remove_canary_if_any(void **state)
{
    (void)state;
    char *canary = pm_path_join(base, "canary");
    int rc = canary && (unlink(canary) == 0 || errno == ENOENT) ? 0 : -1;
    free(canary);
    return rc;
}

static void refuses_non_archives(void **state)
{
    (void)state;
    pm_unpack_stats st;
    assert_int_equal(unpack_mem(dest, "empty", "", 0, &st), -1);
    assert_int_equal(st.entries, 0);
    const char junk[] = "this is not a tar archive at all, just some text.....";
    assert_int_equal(unpack_mem(dest, "junk", junk, sizeof junk, NULL), -1);
    unsigned char zeros[100] = {0};
    assert_int_equal(unpack_mem(dest, "zeros", zeros, sizeof zeros, NULL), -1);
    const ent none[] = {{NULL, END, NULL, 0}};
    size_t n = make(none, 'n');                     /* valid, but no entries */
    assert_int_equal(unpack_mem(dest, "none.tar", buf, n, NULL), -1);
    n = make(none, 'z');
    assert_int_equal(unpack_mem(dest, "none.tar.zst", buf, n, NULL), -1);
    assert_int_equal(dest_entries(), 0);
    nothing_outside(NULL);
}

/* Incompressible content, so that a cut lands in the middle of the data. */
static char big[64 * 1024];

static void fill_big(void)
{
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof big - 1; i++) {
        x = x * 1103515245u + 12345u;
        big[i] = (char)('!' + (x >> 16) % 90);
    }
    big[sizeof big - 1] = '\0';
}

static void refuses_truncated(void **state)
{
    (void)state;
    fill_big();
    const ent es[] = {{"f", REG, big, 0}, {"g", REG, "after", 0}, {NULL, END, NULL, 0}};
    const char filters[] = {'g', 'z', 'n'};
    for (size_t f = 0; f < sizeof filters; f++) {
        assert_int_equal(fresh(NULL), 0);
        size_t n = make(es, filters[f]);
        assert_true(n > sizeof big / 2);
        /* the whole archive is fine */
        assert_int_equal(unpack_mem(dest, "whole", buf, n, NULL), 0);
        assert_int_equal(stat_of("f").st_size, (off_t)strlen(big));
        assert_int_equal(fresh(NULL), 0);
        /* cut in the middle of f's data */
        assert_int_equal(unpack_mem(dest, "cut", buf, n / 2, NULL), -1);
        assert_false(exists("g"));
        nothing_outside(NULL);
    }
}

/* A source handing out the buffer in small pieces, optionally failing. */
typedef struct src {
    const unsigned char *data;
    size_t len, pos, piece;
    int calls;
    int fail_at;     /* call number that returns -1; 0: never */
} src;

static ssize_t pull(void *ctx, const void **out)
{
    src *s = ctx;
    s->calls++;
    if (s->fail_at && s->calls >= s->fail_at)
        return -1;
    size_t n = s->len - s->pos < s->piece ? s->len - s->pos : s->piece;
    *out = s->data + s->pos;
    s->pos += n;
    return (ssize_t)n;
}

static void streams_in_pieces(void **state)
{
    (void)state;
    fill_big();
    const ent es[] = {{"d", DIR_, NULL, 0}, {"d/f", REG, big, 0}, {NULL, END, NULL, 0}};
    size_t n = make(es, 'g');
    src s = {buf, n, 0, 7, 0, 0};
    pm_unpack_stats st;
    assert_int_equal(unpack_with(dest, "pieces", pull, &s, NULL, &st), 0);
    assert_true(s.calls > (int)(n / 7));
    assert_int_equal(s.pos, n);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.bytes, strlen(big));
    assert_int_equal(stat_of("d/f").st_size, (off_t)strlen(big));
}

static void source_failure_is_minus_two(void **state)
{
    (void)state;
    fill_big();
    const ent es[] = {{"f", REG, big, 0}, {"g", REG, "x", 0}, {NULL, END, NULL, 0}};
    size_t n = make(es, 'n');
    /* fails at once, after part of a header, and in the middle of data */
    const int fail_at[] = {1, 2, 20};
    for (size_t i = 0; i < sizeof fail_at / sizeof fail_at[0]; i++) {
        assert_int_equal(fresh(NULL), 0);
        src s = {buf, n, 0, 1000, 0, fail_at[i]};
        if (fail_at[i] == 2)
            s.piece = 300;   /* less than a 512-byte header */
        assert_int_equal(unpack_with(dest, "src", pull, &s, NULL, NULL), -2);
        assert_int_equal(s.calls, fail_at[i]);
        assert_false(exists("g"));
    }
}

/* pm_unpack writes through descriptors, never relative to the working
 * directory (it once borrowed it): that stays as it was after success,
 * refusal, bad input and source failure alike. */
static void working_directory_restored(void **state)
{
    (void)state;
    char before[PATH_MAX], after[PATH_MAX];
    assert_int_equal(chdir(base), 0);
    assert_non_null(getcwd(before, sizeof before));
    const ent good[] = {{"f", REG, "x", 0}, {NULL, END, NULL, 0}};
    size_t n = make(good, 'n');
    assert_int_equal(unpack_mem(dest, "good", buf, n, NULL), 0);
    assert_non_null(getcwd(after, sizeof after));
    assert_string_equal(after, before);
    const ent bad[] = {{"p", FIFO, NULL, 0}, {NULL, END, NULL, 0}};
    n = make(bad, 'n');
    assert_int_equal(unpack_mem(dest, "bad", buf, n, NULL), -1);
    assert_non_null(getcwd(after, sizeof after));
    assert_string_equal(after, before);
    assert_int_equal(unpack_mem(dest, "junk", "junk", 4, NULL), -1);
    assert_non_null(getcwd(after, sizeof after));
    assert_string_equal(after, before);
    src s = {buf, n, 0, 100, 0, 2};
    assert_int_equal(unpack_with(dest, "src", pull, &s, NULL, NULL), -2);
    assert_non_null(getcwd(after, sizeof after));
    assert_string_equal(after, before);
    /* a destination that does not exist: refused, nothing made */
    char *missing = pm_path_join(base, "missing");
    n = make(good, 'n');
    assert_int_equal(unpack_mem(missing, "nodest", buf, n, NULL), -1);
    struct stat st;
    assert_int_equal(lstat(missing, &st), -1);
    assert_non_null(getcwd(after, sizeof after));
    assert_string_equal(after, before);
    assert_int_equal(lstat("f", &st), -1);     /* not extracted into the cwd */
    free(missing);
}

static void containment_rules(void **state)
{
    (void)state;
    assert_int_equal(pm_path_is_contained(NULL, "a"), 0);
    assert_int_equal(pm_path_is_contained(NULL, "a/b"), 0);
    assert_int_equal(pm_path_is_contained(NULL, "./a"), 0);
    assert_int_equal(pm_path_is_contained(NULL, "a/../b"), 0);
    assert_int_equal(pm_path_is_contained(NULL, "a/.."), 0);
    assert_int_equal(pm_path_is_contained(NULL, "a//b/"), 0);
    assert_int_equal(pm_path_is_contained(NULL, ".."), -1);
    assert_int_equal(pm_path_is_contained(NULL, "../a"), -1);
    assert_int_equal(pm_path_is_contained(NULL, "a/../.."), -1);
    assert_int_equal(pm_path_is_contained(NULL, "a/../../a"), -1);
    assert_int_equal(pm_path_is_contained(NULL, "./../a"), -1);
    assert_int_equal(pm_path_is_contained(NULL, "/x"), -1);
    assert_int_equal(pm_path_is_contained(NULL, "//x"), -1);
    assert_int_equal(pm_path_is_contained(NULL, NULL), -1);
    /* a name that merely starts with dots is an ordinary name */
    assert_int_equal(pm_path_is_contained(NULL, "..a/...b"), 0);
    assert_int_equal(pm_path_is_contained("l", "..x"), 0);

    /* symlinks: the target is resolved from the link's directory */
    assert_int_equal(pm_path_is_contained("a/b/l", "../c"), 0);
    assert_int_equal(pm_path_is_contained("a/b/l", "../../c"), 0);     /* = c */
    assert_int_equal(pm_path_is_contained("a/b/l", "../../../c"), -1);
    assert_int_equal(pm_path_is_contained("a/b/l", ".."), 0);
    assert_int_equal(pm_path_is_contained("a/b/l", "../.."), 0);       /* the root */
    assert_int_equal(pm_path_is_contained("a/b/l", "../../.."), -1);
    assert_int_equal(pm_path_is_contained("l", "x"), 0);
    assert_int_equal(pm_path_is_contained("l", "."), 0);
    assert_int_equal(pm_path_is_contained("l", "../x"), -1);
    assert_int_equal(pm_path_is_contained("l", ".."), -1);
    assert_int_equal(pm_path_is_contained("./l", "../x"), -1);
    assert_int_equal(pm_path_is_contained("l", "/etc/passwd"), -1);
    assert_int_equal(pm_path_is_contained("a/l", "/a/x"), -1);
    assert_int_equal(pm_path_is_contained("/abs/l", "x"), -1);
}

/* --- issue 21: names resolved beneath the tree, never through a link --- */

static char *in_base(const char *rel)
{
    char *p = pm_path_join(base, rel);
    assert_non_null(p);
    return p;
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(close(fd), 0);
}

static void file_is(const char *path, const char *want)
{
    char got[64] = {0};
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, got, sizeof got - 1);
    close(fd);
    assert_int_equal(n, (ssize_t)strlen(want));
    assert_string_equal(got, want);
}

/* What another unpacker could do between a hard link's check and the
 * link: put a symbolic link where its target was. */
static int swaps;
static void swap_target(const char *target)
{
    char *p = in_dest(target);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(symlink("../../canary", p), 0);
    free(p);
    swaps++;
}

static void hard_link_target_swapped(int no_proc)
{
    assert_int_equal(fresh(NULL), 0);
    const ent es[] = {
        {"a/b/s", REG, "x", 0}, {"h", HARD, "a/b/s", 0}, {NULL, END, NULL, 0},
    };
    size_t n = make(es, 'n');
    pm_unpack_force_no_proc = no_proc;
    pm_tree_test_before_link = swap_target;
    swaps = 0;
    assert_int_equal(unpack_mem(dest, no_proc ? "swap-by-name.tar" : "swap.tar", buf, n, NULL), -1);
    pm_tree_test_before_link = NULL;
    pm_unpack_force_no_proc = 0;
    assert_int_equal(swaps, 1);
    assert_true(S_ISLNK(stat_of("a/b/s").st_mode));   /* the swap happened */
    assert_false(exists("h"));                         /* but no link to it */
    nothing_outside("canary");
}

/* The same swap between opening the target and linking it: through
 * /proc the link is to the opened inode (gone: refused); by name (no
 * /proc, forced) the new name is checked and removed. */
static void hard_link_race_window(void **state)
{
    (void)state;
    for (pm_trust_force_walk = 0; pm_trust_force_walk < 2; pm_trust_force_walk++) {
        hard_link_target_swapped(0);
        hard_link_target_swapped(1);
    }
    pm_trust_force_walk = 0;
}

/* A source that swaps the hard link's target for a symbolic link once the
 * file is written and before the hard link's header is read, as another
 * unpacker of the node may do at any moment. */
typedef struct swap_src {
    const unsigned char *data;
    size_t len, pos;
    int swapped;
} swap_src;

static ssize_t swap_pull(void *ctx, const void **out)
{
    swap_src *s = ctx;
    if (s->pos == 1024 && !s->swapped && exists("s")) {   /* s: header and one data block */
        swap_target("s");
        s->swapped = 1;
    }
    size_t n = s->len - s->pos < 512 ? s->len - s->pos : 512;
    *out = s->data + s->pos;
    s->pos += n;
    return (ssize_t)n;
}

static void hard_link_target_replaced_mid_stream(void **state)
{
    (void)state;
    const ent es[] = {{"s", REG, "x", 0}, {"h", HARD, "s", 0}, {NULL, END, NULL, 0}};
    size_t n = make(es, 'n');
    for (int no_proc = 0; no_proc < 2; no_proc++) {
        assert_int_equal(fresh(NULL), 0);
        swap_src s = {buf, n, 0, 0};
        pm_unpack_force_no_proc = no_proc;
        int rc = unpack_with(dest, "mid-stream.tar", swap_pull, &s, NULL, NULL);
        pm_unpack_force_no_proc = 0;
        assert_int_equal(s.swapped, 1);
        assert_int_equal(rc, -1);
        assert_false(exists("h"));
        nothing_outside("canary");
    }
}

/* Without /proc, hard links are made by name and checked: they work. */
static void hard_links_without_proc(void **state)
{
    (void)state;
    const ent es[] = {
        {"d/a", REG, "aa", 0}, {"d/h1", HARD, "d/a", 0}, {"h2", HARD, "./d//a", 0},
        {"d/h1", HARD, "d/a", 0}, {NULL, END, NULL, 0},   /* again: the same inode */
    };
    size_t n = make(es, 'n');
    for (int k = 0; k < 4; k++) {   /* with and without /proc, and openat2 */
        assert_int_equal(fresh(NULL), 0);
        pm_unpack_force_no_proc = k & 1;
        pm_trust_force_walk = k >> 1;
        assert_int_equal(unpack_mem(dest, "hard.tar", buf, n, NULL), 0);
        pm_trust_force_walk = 0;
        pm_unpack_force_no_proc = 0;
        struct stat a = stat_of("d/a"), h1 = stat_of("d/h1"), h2 = stat_of("h2");
        assert_int_equal(a.st_ino, h1.st_ino);
        assert_int_equal(a.st_ino, h2.st_ino);
        assert_int_equal(a.st_nlink, 3);
        content_is("h2", "aa");
    }
}

/* A tree that already holds files (a second delivery): a file replaces a
 * symbolic link at its name, never writes through it; a directory entry
 * refuses one; a symbolic link replaces a file (made at once, links not
 * deferred) or is refused (deferred: links are made last, where nothing
 * may be yet); a file replaced is a new inode (a process that mapped the
 * old one keeps it). */
static void existing_tree(void **state)
{
    (void)state;
    char *canary = in_base("canary"), *outdir = in_base("outdir");
    write_file(canary, "canary");
    assert_int_equal(mkdir(outdir, 0700), 0);
    char *f = in_dest("f"), *d = in_dest("d"), *g = in_dest("g"), *old = in_dest("old");
    assert_int_equal(symlink("../canary", f), 0);
    assert_int_equal(symlink("../outdir", d), 0);
    write_file(g, "old g");
    write_file(old, "old content");
    int keep = open(old, O_RDONLY);
    assert_true(keep >= 0);
    ino_t old_ino = stat_of("old").st_ino;

    const ent files[] = {
        {"f", REG, "new f", 0}, {"old", REG, "new", 0}, {"g", SYM, "f", 0}, {NULL, END, NULL, 0},
    };
    size_t n = make(files, 'n');
    assert_int_equal(unpack_mem(dest, "over.tar", buf, n, NULL), 0);
    file_is(canary, "canary");                       /* not written through */
    assert_true(S_ISREG(stat_of("f").st_mode));
    content_is("f", "new f");
    assert_true(S_ISLNK(stat_of("g").st_mode));      /* the link replaced the file */
    content_is("g", "new f");
    content_is("old", "new");
    assert_true(stat_of("old").st_ino != old_ino);   /* a new inode ... */
    char got[32] = {0};
    assert_int_equal(read(keep, got, sizeof got - 1), 11);
    assert_string_equal(got, "old content");         /* ... the old one intact */
    close(keep);

    const ent dir[] = {{"d", DIR_, NULL, 0}, {"d/x", REG, "x", 0}, {NULL, END, NULL, 0}};
    n = make(dir, 'n');
    assert_int_equal(unpack_mem(dest, "dir-over-link.tar", buf, n, NULL), -1);
    assert_true(S_ISLNK(stat_of("d").st_mode));
    char *outx = in_base("outdir/x");
    struct stat st;
    assert_int_equal(lstat(outx, &st), -1);
    /* nor through it as a parent */
    const ent below[] = {{"d/y", REG, "y", 0}, {NULL, END, NULL, 0}};
    n = make(below, 'n');
    assert_int_equal(unpack_mem(dest, "below-link.tar", buf, n, NULL), -1);
    char *outy = in_base("outdir/y");
    assert_int_equal(lstat(outy, &st), -1);

    /* a directory where an entry goes: refused, whatever the entry */
    const ent in_way[][2] = {
        {{"d2", REG, "x", 0}, {NULL, END, NULL, 0}},
        {{"d2", SYM, "x", 0}, {NULL, END, NULL, 0}},
        {{"d2", HARD, "f", 0}, {NULL, END, NULL, 0}},
    };
    char *d2 = in_dest("d2");
    assert_int_equal(mkdir(d2, 0700), 0);
    for (size_t i = 0; i < 3; i++) {
        n = make(in_way[i], 'n');
        assert_int_equal(unpack_mem(dest, "dir-in-the-way.tar", buf, n, NULL), -1);
        assert_true(S_ISDIR(stat_of("d2").st_mode));
    }
    /* deferred links never replace anything */
    const ent link[] = {{"f", SYM, "g", 0}, {NULL, END, NULL, 0}};
    n = make(link, 'n');
    pm_links *l = pm_links_new();
    assert_int_equal(unpack_mem_links(dest, "deferred-over-file.tar", buf, n, l), 0);
    assert_int_equal(pm_links_create(l, dest, NULL), -1);
    pm_links_free(l);
    assert_true(S_ISREG(stat_of("f").st_mode));
    assert_int_equal(rmdir(outdir), 0);   /* empty: nothing written into it */
    nothing_outside("canary");
    assert_int_equal(unlink(canary), 0);
    free(canary), free(outdir), free(f), free(d), free(g), free(old), free(outx), free(outy), free(d2);
}

/* A sparse file comes out with its holes (and its size, ending in one). */
static void sparse_file(void **state)
{
    (void)state;
    const off_t size = 4 << 20, at = 1 << 20;
    struct archive *a = archive_write_new();
    assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    size_t used = 0;
    assert_int_equal(archive_write_open_memory(a, buf, sizeof buf, &used), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "sparse");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, size);
    archive_entry_sparse_add_entry(e, 0, 4096);
    archive_entry_sparse_add_entry(e, at, 4096);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    /* the writer takes the whole file and keeps the mapped regions */
    static char block[4096];
    memset(block, 'a', sizeof block);
    assert_int_equal(archive_write_data(a, block, sizeof block), (la_ssize_t)sizeof block);
    memset(block, 0, sizeof block);
    for (off_t o = 4096; o < at; o += 4096)
        assert_int_equal(archive_write_data(a, block, sizeof block), (la_ssize_t)sizeof block);
    memset(block, 'b', sizeof block);
    assert_int_equal(archive_write_data(a, block, sizeof block), (la_ssize_t)sizeof block);
    archive_entry_free(e);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    pm_unpack_stats st;
    assert_int_equal(unpack_mem(dest, "sparse.tar", buf, used, &st), 0);
    assert_int_equal(st.bytes, 8192);
    struct stat s = stat_of("sparse");
    assert_int_equal(s.st_size, size);
    assert_true(s.st_blocks * 512 < size / 2);   /* holes, not zeros written */
    char *p = in_dest("sparse");
    int fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    char c[3];
    assert_int_equal(pread(fd, c, 1, 4095), 1);
    assert_int_equal(pread(fd, c + 1, 1, 4096), 1);
    assert_int_equal(pread(fd, c + 2, 1, at), 1);
    assert_int_equal(c[0], 'a');
    assert_int_equal(c[1], 0);
    assert_int_equal(c[2], 'b');
    assert_int_equal(pread(fd, c, 1, size - 1), 1);
    assert_int_equal(c[0], 0);
    close(fd);
    free(p);
}

/* Times to the nanosecond (bytecode is checked against the .py's mtime),
 * of files, of files that replaced others, and of directories whose
 * entries came after them; in every part of a parts bundle. */
static void mtimes_kept(void **state)
{
    (void)state;
    struct archive *a = archive_write_new();
    assert_int_equal(archive_write_set_format_pax(a), ARCHIVE_OK);   /* with nanoseconds */
    size_t used = 0;
    assert_int_equal(archive_write_open_memory(a, buf, sizeof buf, &used), ARCHIVE_OK);
    const char *names[] = {"pkg", "pkg/mod.py", "pkg/sub", "pkg/sub/x.py", "pkg/mod.py", "pkg/late.py"};
    for (int i = 0; i < 6; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[i]);
        archive_entry_set_filetype(e, i == 0 || i == 2 ? AE_IFDIR : AE_IFREG);
        archive_entry_set_perm(e, 0755);
        archive_entry_set_mtime(e, MTIME + 10 * i, 123456789 + i);
        archive_entry_set_size(e, i == 0 || i == 2 ? 0 : 2);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (i != 0 && i != 2)
            assert_int_equal(archive_write_data(a, "x\n", 2), 2);
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    assert_int_equal(unpack_mem(dest, "times.tar", buf, used, NULL), 0);
    struct { const char *name; int i; } want[] = {
        {"pkg", 0}, {"pkg/sub", 2}, {"pkg/sub/x.py", 3}, {"pkg/mod.py", 4}, {"pkg/late.py", 5},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        struct stat st = stat_of(want[k].name);
        assert_int_equal(st.st_mtim.tv_sec, MTIME + 10 * want[k].i);
        assert_int_equal(st.st_mtim.tv_nsec, 123456789 + want[k].i);
    }
}

/* Entries in any order, across many directories: the writer's open parent
 * follows them (and a path deeper than any tree is refused, not a crash). */
static void many_directories_any_order(void **state)
{
    (void)state;
    const ent es[] = {
        {"a/b/c/1", REG, "1", 0}, {"x/y/2", REG, "2", 0}, {"a/b/3", REG, "3", 0},
        {"a/b/c/d/4", REG, "4", 0}, {"a/5", REG, "5", 0}, {"x/y/z/6", REG, "6", 0},
        {"7", REG, "7", 0}, {"a/b/c/8", REG, "8", 0}, {"a/bb/9", REG, "9", 0},
        {"a/b/c/d", DIR_, NULL, 0700}, {"a/b/c/d/10", REG, "10", 0}, {NULL, END, NULL, 0},
    };
    size_t n = make(es, 'n');
    assert_int_equal(unpack_mem(dest, "order.tar", buf, n, NULL), 0);
    for (size_t i = 0; es[i].kind != END; i++)
        if (es[i].kind == REG)
            content_is(es[i].path, es[i].data);
    assert_int_equal(stat_of("a/b/c/d").st_mode & 07777, 0700);
    assert_int_equal(fresh(NULL), 0);
    size_t depth = 300, len = 2 * depth + 1;
    char *deep = malloc(len + 1);
    assert_non_null(deep);
    for (size_t i = 0; i < depth; i++)
        memcpy(deep + 2 * i, "d/", 2);
    memcpy(deep + 2 * depth, "f", 2);
    const ent too_deep[] = {{deep, REG, "x", 0}, {NULL, END, NULL, 0}};
    n = make(too_deep, 'n');
    assert_int_equal(unpack_mem(dest, "deep.tar", buf, n, NULL), -1);
    free(deep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(extracts_tree, fresh),
        cmocka_unit_test_setup(modes_sanitised, fresh),
        cmocka_unit_test_setup(refuses_escapes, fresh),
        cmocka_unit_test_setup(stops_at_first_bad_entry, fresh),
        cmocka_unit_test_setup_teardown(refuses_symlink_chain, fresh, remove_canary),
        cmocka_unit_test_setup(refuses_escapes_deferred, fresh),
        cmocka_unit_test_setup_teardown(refuses_symlink_chain_deferred, fresh, remove_canary),
        cmocka_unit_test_setup(deferred_links, fresh),
        cmocka_unit_test_setup(refuses_non_archives, fresh),
        cmocka_unit_test_setup(refuses_truncated, fresh),
        cmocka_unit_test_setup(streams_in_pieces, fresh),
        cmocka_unit_test_setup(source_failure_is_minus_two, fresh),
        cmocka_unit_test_setup(working_directory_restored, fresh),
        cmocka_unit_test(containment_rules),
        cmocka_unit_test_setup(keeps_destination_mode, fresh),
        cmocka_unit_test_setup(relocation_manifests_allowed, fresh),
        cmocka_unit_test_setup(size_limit, fresh),
        cmocka_unit_test_setup_teardown(hard_link_race_window, fresh, remove_canary_if_any),
        cmocka_unit_test_setup_teardown(hard_link_target_replaced_mid_stream, fresh, remove_canary_if_any),
        cmocka_unit_test_setup(hard_links_without_proc, fresh),
        cmocka_unit_test_setup(existing_tree, fresh),
        cmocka_unit_test_setup(sparse_file, fresh),
        cmocka_unit_test_setup(sparse_data_counted, fresh),
        cmocka_unit_test_setup(entries_limit, fresh),
        cmocka_unit_test_setup(long_symlink_target, fresh),
        cmocka_unit_test_setup(link_bytes_counted, fresh),
        cmocka_unit_test_setup(dir_names_counted, fresh),
        cmocka_unit_test_setup(delivery_budget, fresh),
        cmocka_unit_test_setup(mtimes_kept, fresh),
        cmocka_unit_test_setup(many_directories_any_order, fresh),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
