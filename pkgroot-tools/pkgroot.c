/* pkgroot.c - the bundle maker's command line.
 *
 *   pkgroot python OUT [--full-stdlib] [PACKAGE...]   runtime bundle
 *   pkgroot dir OUT DIR [--at PATH]                   a directory's contents
 *   pkgroot ls BUNDLE                                 list a bundle
 *
 * Bundles unpack so that the unpacked root works as python-mpi's home:
 * lib/pythonX.Y (the standard library) and the site directory Debian's
 * site.py adds for that prefix (lib/python3/dist-packages). */
#include "log.h"
#include "pyinfo.h"
#include "strutil.h"
#include "writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PYMPI_VERSION
#define PYMPI_VERSION "unknown"
#endif

static const char usage[] =
    "usage: pkgroot [-v] python OUT [--full-stdlib] [PACKAGE...]\n"
    "       pkgroot [-v] dir OUT DIR [--at PATH]\n"
    "       pkgroot ls BUNDLE\n"
    "Make bundles for python-mpi (PYTHON_MPI_PACKAGES) and bcast.\n"
    "  python  the standard library and extension modules of the Python that\n"
    "          python-mpi embeds, plus the named installed packages\n"
    "  dir     a directory's contents, under the site directory\n"
    "          (lib/python3/dist-packages) unless --at PATH ('.' = the root)\n"
    "  ls      each entry: type, mode, size, path; then the totals\n"
    "OUT's suffix picks the compression: .tar.zst (recommended), .tar.gz,\n"
    ".tar.bz2, .tar.xz, .tar.\n";

/* Parts of the standard library no HPC job imports: tests, GUIs, installers. */
static const char *const stdlib_skip[] = {
    "test", "idlelib", "tkinter", "turtledemo", "turtle.py", "ensurepip",
    "lib2to3/tests", "distutils/tests", "unittest/test", "ctypes/test",
    "sqlite3/test", "tkinter", "site-packages", "dist-packages", "config-*", NULL,
};

static int cmd_python(char **args, int n, int verbose)
{
    int full = 0, np = 0;
    char **pkgs = calloc((size_t)n + 1, sizeof *pkgs);
    if (!pkgs) {
        pm_error(NULL, "out of memory");
        return 1;
    }
    for (int i = 1; i < n; i++) {
        if (strcmp(args[i], "--full-stdlib") == 0)
            full = 1;
        else
            pkgs[np++] = args[i];
    }
    pk_pyinfo info;
    if (pk_pyinfo_query(&info, pkgs, np) != 0) {
        free(pkgs);
        return 1;
    }
    free(pkgs);
    pk_writer *w = pk_writer_open(args[0], verbose);
    int ok = w != NULL;
    if (ok)
        ok = pk_writer_add_tree(w, info.stdlib.src, info.stdlib.dest, full ? NULL : stdlib_skip) == 0;
    for (size_t i = 0; ok && i < info.nitems; i++)
        ok = pk_writer_add_tree(w, info.items[i].src, info.items[i].dest, NULL) == 0;
    int rc = w ? pk_writer_close(w, ok) : -1;
    pk_pyinfo_free(&info);
    return ok && rc == 0 ? 0 : 1;
}

static int cmd_dir(char **args, int n, int verbose)
{
    const char *at = NULL;
    if (n == 4 && strcmp(args[2], "--at") == 0)
        at = args[3];
    else if (n != 2)
        return 2;
    char *site = NULL;
    if (!at) {
        /* Ask the embedded Python where its site directory is. */
        pk_pyinfo info;
        if (pk_pyinfo_query(&info, NULL, 0) != 0)
            return 1;
        site = strdup(info.site_rel);
        pk_pyinfo_free(&info);
        if (!site) {
            pm_error(NULL, "out of memory");
            return 1;
        }
        at = site;
    }
    pk_writer *w = pk_writer_open(args[0], verbose);
    int ok = w && pk_writer_add_tree(w, args[1], at, NULL) == 0;
    int rc = w ? pk_writer_close(w, ok) : -1;
    free(site);
    return ok && rc == 0 ? 0 : 1;
}

static int cmd_ls(const char *path)
{
    struct archive *a = archive_read_new();
    if (!a || archive_read_support_filter_all(a) != ARCHIVE_OK ||
        archive_read_support_format_all(a) != ARCHIVE_OK) {
        pm_error(path, "libarchive: out of memory");
        return 1;
    }
    int rc = 1;
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        pm_error(path, "cannot read: %s", archive_error_string(a));
        goto done;
    }
    unsigned long long entries = 0, bytes = 0;
    struct archive_entry *e;
    int r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        mode_t type = archive_entry_filetype(e);
        char t = archive_entry_hardlink(e) ? 'h' : type == AE_IFDIR ? 'd' : type == AE_IFLNK ? 'l'
               : type == AE_IFREG ? '-' : '?';
        long long size = archive_entry_size(e);
        printf("%c %04o %12lld %s", t, (unsigned)archive_entry_perm(e), size, archive_entry_pathname(e));
        if (t == 'l')
            printf(" -> %s", archive_entry_symlink(e));
        else if (t == 'h')
            printf(" => %s", archive_entry_hardlink(e));
        putchar('\n');
        entries++;
        if (t == '-' && size > 0)
            bytes += (unsigned long long)size;
    }
    if (r != ARCHIVE_EOF) {
        pm_error(path, "%s", archive_error_string(a));
        goto done;
    }
    printf("%llu entries, %llu bytes\n", entries, bytes);
    rc = 0;
done:
    archive_read_free(a);
    return rc;
}

int main(int argc, char **argv)
{
    pm_log_init("pkgroot");
    int verbose = 0, i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-v") == 0)
            verbose = 1;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            puts("pkgroot (python-mpi-bcast) " PYMPI_VERSION);
            return 0;
        } else
            break;
    }
    int rc = 2;
    if (i < argc) {
        const char *cmd = argv[i];
        char **args = argv + i + 1;
        int n = argc - i - 1;
        if (strcmp(cmd, "python") == 0 && n >= 1)
            rc = cmd_python(args, n, verbose);
        else if (strcmp(cmd, "dir") == 0 && n >= 2)
            rc = cmd_dir(args, n, verbose);
        else if (strcmp(cmd, "ls") == 0 && n == 1)
            rc = cmd_ls(args[0]);
    }
    if (rc == 2)
        fputs(usage, stderr);
    return rc;
}
