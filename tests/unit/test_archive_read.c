/* test_archive_read.c - red-team round 1, findings 8 and 3/4: the one
 * libarchive reader runs no program (bundles with lrzip's, lzop's and
 * grzip's magic, fake decompressors first on PATH, are "Unrecognized
 * archive format" and nothing ran) and still reads every compression we
 * document; pm_input_open never blocks on a FIFO, takes only regular
 * files, and refuses another user's file in a directory everybody writes
 * (root only: chown). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "archive_read.h"
#include "fileio.h"
#include "strutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *tmpdir;

static int mk(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/pm-arread.XXXXXX";
    if (!mkdtemp(tmpl))
        return -1;
    tmpdir = strdup(tmpl);
    return tmpdir ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

static int rm(void **state)
{
    (void)state;
    int rc = nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(tmpdir);
    return rc == 0 ? 0 : -1;
}

static char *at(const char *name)
{
    char *p = pm_path_join(tmpdir, name);
    assert_non_null(p);
    return p;
}

/* fake decompressors that leave a mark, first on PATH */
static void fake_programs(void)
{
    static const char *const progs[] = {"lrzip", "lzop", "grzip", "lz4", "zstd", "gzip",
                                        "bzip2", "xz", "lzip", "lzma", "uudecode", NULL};
    char *bin = at("bin");
    assert_int_equal(mkdir(bin, 0700), 0);
    for (int i = 0; progs[i]; i++) {
        char *p = pm_path_join(bin, progs[i]);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fprintf(f, "#!/bin/sh\ntouch '%s/ran-%s'\nexit 1\n", tmpdir, progs[i]);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(p, 0700), 0);
        free(p);
    }
    assert_int_equal(setenv("PATH", bin, 1), 0);
    free(bin);
}

static int ran_any(void)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    struct dirent *de;
    int ran = 0;
    while ((de = readdir(d)))
        ran |= strncmp(de->d_name, "ran-", 4) == 0;
    closedir(d);
    return ran;
}

static void refuses_program_filters(void **state)
{
    (void)state;
    fake_programs();
    static const unsigned char lrz[64] = "LRZI\0\6";
    static const unsigned char lzo[64] = "\x89LZO\0\r\n\x1a\n\x10\x30\x20\xa0\x09\x40\x01\x05\x03";
    static const unsigned char grz[64] = "GRZipII\0\2\4:)";
    static const unsigned char uu[64] = "begin 644 x.tar\nM\n";
    const unsigned char *heads[] = {lrz, lzo, grz, uu};
    for (size_t i = 0; i < 4; i++) {
        struct archive *a = pm_archive_reader(1);
        assert_non_null(a);
        assert_int_not_equal(archive_read_open_memory(a, heads[i], 64), ARCHIVE_OK);
        assert_string_equal(archive_error_string(a), "Unrecognized archive format");
        archive_read_free(a);
    }
    assert_false(ran_any());
}

/* A tar of one file through libarchive's writer with filter f. */
static size_t make_tar(int (*f)(struct archive *), unsigned char *buf, size_t cap)
{
    struct archive *w = archive_write_new();
    size_t used = 0;
    if (f(w) != ARCHIVE_OK) {   /* the writer would need a program: not this one */
        archive_write_free(w);
        return 0;
    }
    assert_int_equal(archive_write_set_format_pax_restricted(w), ARCHIVE_OK);
    assert_int_equal(archive_write_open_memory(w, buf, cap, &used), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "m.py");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, 6);
    assert_int_equal(archive_write_header(w, e), ARCHIVE_OK);
    assert_int_equal(archive_write_data(w, "X = 1\n", 6), 6);
    archive_entry_free(e);
    assert_int_equal(archive_write_close(w), ARCHIVE_OK);
    archive_write_free(w);
    return used;
}

static void reads_documented_filters(void **state)
{
    (void)state;
    fake_programs();
    int (*filters[])(struct archive *) = {
        archive_write_add_filter_none, archive_write_add_filter_gzip, archive_write_add_filter_bzip2,
        archive_write_add_filter_xz, archive_write_add_filter_zstd, archive_write_add_filter_lz4,
    };
    static unsigned char buf[1 << 16];
    int read_ok = 0;
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        size_t n = make_tar(filters[i], buf, sizeof buf);
        if (n == 0)
            continue;
        struct archive *a = pm_archive_reader(1);
        assert_non_null(a);
        assert_int_equal(archive_read_open_memory(a, buf, n), ARCHIVE_OK);
        struct archive_entry *e;
        assert_int_equal(archive_read_next_header(a, &e), ARCHIVE_OK);
        assert_string_equal(archive_entry_pathname(e), "m.py");
        char data[16];
        assert_int_equal(archive_read_data(a, data, sizeof data), 6);
        assert_memory_equal(data, "X = 1\n", 6);
        archive_read_free(a);
        read_ok++;
    }
    assert_int_equal(read_ok, 6);   /* Debian's libarchive has all of them built in */
    assert_false(ran_any());
}

static void input_fifo_device_dir(void **state)
{
    (void)state;
    char *fifo = at("fifo.tar"), *why = NULL;
    assert_int_equal(mkfifo(fifo, 0600), 0);
    time_t t0 = time(NULL);
    assert_int_equal(pm_input_open(fifo, "bundle", NULL, &why), -1);   /* no writer: would block */
    assert_int_equal(errno, EINVAL);
    assert_string_equal(why, "not a regular file");
    assert_true(time(NULL) - t0 < 3);
    free(why);
    assert_int_equal(pm_input_open("/dev/zero", "bundle", NULL, &why), -1);
    assert_string_equal(why, "not a regular file");
    free(why);
    assert_int_equal(pm_input_open(tmpdir, "bundle", NULL, &why), -1);
    assert_string_equal(why, "not a regular file");
    free(why);
    char *nope = at("nope.tar");
    assert_int_equal(pm_input_open(nope, "list file", NULL, &why), -1);
    assert_int_equal(errno, ENOENT);
    assert_string_equal(why, "cannot open list file: No such file or directory");
    free(why);
    /* and fileio's opener */
    assert_int_equal(pm_open_regular_at(AT_FDCWD, fifo, 0, NULL), -1);
    assert_int_equal(errno, EINVAL);
    free(nope);
    free(fifo);
}

static void input_regular_and_foreign(void **state)
{
    (void)state;
    char *ww = at("ww"), *f = at("ww/b.tar"), *why = NULL;
    assert_int_equal(mkdir(ww, 0700), 0);
    assert_int_equal(chmod(ww, 01777), 0);
    int fd = open(f, O_WRONLY | O_CREAT | O_EXCL, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc", 3), 3);
    close(fd);
    struct stat st;
    fd = pm_input_open(f, "bundle", &st, &why);   /* ours: fine, blocking again */
    assert_true(fd >= 0);
    assert_int_equal(st.st_size, 3);
    assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    close(fd);
    if (geteuid() != 0) {
        skip();   /* chown to another uid needs root */
    }
    assert_int_equal(chown(f, 4242, 4242), 0);
    assert_int_equal(pm_input_open(f, "bundle", NULL, &why), -1);
    assert_int_equal(errno, EPERM);
    char *want = pm_printf_alloc("refusing to read the bundle: it is owned by uid 4242 and its directory %s "
                                 "is writable by everybody (move it to a directory that is yours)", ww);
    assert_string_equal(why, want);
    free(why);
    free(want);
    assert_int_equal(chmod(ww, 0777), 0);   /* not sticky: the same */
    assert_int_equal(pm_input_open(f, "bundle", NULL, &why), -1);
    free(why);
    assert_int_equal(chmod(ww, 0755), 0);   /* their file in a directory only the owner writes: fine */
    fd = pm_input_open(f, "bundle", NULL, &why);
    assert_true(fd >= 0);
    close(fd);
    free(f);
    free(ww);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(refuses_program_filters, mk, rm),
        cmocka_unit_test_setup_teardown(reads_documented_filters, mk, rm),
        cmocka_unit_test_setup_teardown(input_fifo_device_dir, mk, rm),
        cmocka_unit_test_setup_teardown(input_regular_and_foreign, mk, rm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
