/* pkgroot.c - the bundle maker's command line.
 *
 *   pkgroot python OUT [--full-stdlib] [PACKAGE...]   runtime bundle
 *   pkgroot dir OUT DIR [--at PATH]                   a directory's contents
 *   pkgroot pip OUT [-r FILE]... [SPEC...]            offline pip install (maker_pip.c)
 *   pkgroot venv OUT VENVDIR                          a venv's packages (maker_venv.c)
 *   pkgroot conda OUT PREFIX                          a conda prefix, relocatable (maker_conda.c)
 *   pkgroot verify BUNDLE                             safety, size, Python match (verify.c)
 *   pkgroot ls BUNDLE                                 list a bundle
 *
 * Bundles unpack so that the unpacked root works as python-mpi's home:
 * lib/pythonX.Y (the standard library) and the site directory Debian's
 * site.py adds for that prefix (lib/python3/dist-packages), which a runtime
 * bundle of another Python puts on sys.path with a .pth (pyinfo.h). */
#include "exclude.h"
#include "log.h"
#include "makers.h"
#include "pyembed.h"
#include "pyc.h"
#include "pyinfo.h"
#include "strutil.h"
#include "verify.h"
#include "writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef PYMPI_VERSION
#define PYMPI_VERSION "unknown"
#endif

static const char usage[] =
    "usage: pkgroot [-v] [-j N] [--parts zstd|stored] [--pyc MODE] COMMAND ...\n"
    "       pkgroot [-v] python OUT [--full-stdlib] [PACKAGE...]\n"
    "       pkgroot [-v] dir OUT DIR [--at PATH]\n"
    "       pkgroot [-v] pip OUT [-r FILE]... [--find-links DIR]... [SPEC|WHEEL|SDIST|DIR]...\n"
    "       pkgroot [-v] venv OUT VENVDIR [--keep-installers]\n"
    "       pkgroot [-v] conda OUT PREFIX [--keep-static] [--keep-include] [--keep-conda-meta]\n"
    "                                     [--full-stdlib]\n"
    "       pkgroot verify BUNDLE [--python-mpi PATH] [--max-size SIZE]\n"
    "       pkgroot ls BUNDLE\n"
    "Make bundles for python-mpi (PYTHON_MPI_PACKAGES) and bcast.\n"
    "  python  the standard library and extension modules of the Python that\n"
    "          python-mpi embeds, plus the named installed packages (with\n"
    "          their .dist-info/.egg-info and vendored NAME*.libs)\n"
    "          --full-stdlib  keep test/, idlelib/, tkinter/, config-* ...\n"
    "  dir     a directory's contents, under the site directory\n"
    "          (lib/python3/dist-packages) unless --at PATH ('.' = the root)\n"
    "  pip     install offline (pip --no-index) with the embedded Python's\n"
    "          interpreter into a temporary prefix, and bundle its packages\n"
    "          and scripts (shebangs: #!/usr/bin/env python3)\n"
    "  venv    a virtual environment's packages and scripts (same Python\n"
    "          version); pip/setuptools/wheel left out unless --keep-installers\n"
    "  conda   a conda prefix: its layout if it has the stdlib, else its\n"
    "          site-packages as above; files carrying the prefix are listed\n"
    "          in .python-mpi-relocate/NAME for python-mpi to rewrite\n"
    "          (conda-meta/, pkgs/, include/, *.a left out: --keep-*)\n"
    "  pip, venv, conda leave out caches, tests and docs: --keep-caches,\n"
    "          --keep-tests, --keep-docs keep them\n"
    "  verify  check a bundle: the unpacker's safety rules, its size against\n"
    "          /dev/shm (or --max-size), and its Python against python-mpi's\n"
    "          (--python-mpi PATH: that binary's); problems on stderr, one line\n"
    "          each; exit 0 ok, 1 problems, 2 usage\n"
    "  ls      each entry: type, mode, size, path; then the totals\n"
    "  -v      print each path added (makers: and what was left out)\n"
    "  -j N    compress a .ptar's parts with N threads (default: one per\n"
    "          online CPU); the bundle is the same for any N\n"
    "  --parts stored  leave a .ptar's parts uncompressed (as big as the tree;\n"
    "          for nodes with few cores, which unpack it faster); zstd: the default\n"
    "  --pyc MODE  bytecode for every .py, made now by the embedded Python so\n"
    "          that no rank compiles at start-up: unchecked (hash-based, never\n"
    "          re-validated; the default but for dir), checked, timestamp,\n"
    "          sourceless (NAME.pyc in place of NAME.py: no source is ever\n"
    "          looked at, tracebacks show no source lines),\n"
    "          keep (the tree's own __pycache__ as is; dir's default), none\n"
    "OUT's suffix picks the compression: .tar.zst/.tzst (recommended),\n"
    ".ptar (parallel parts), .tar.gz/.tgz, .tar.bz2/.tbz2, .tar.xz/.txz, .tar.\n"
    "OUT appears only when complete.  Exit 0 ok, 1 failed, 2 usage.\n";

/* A usage error already explained in one line: exit 2, no usage text. */
#define USAGE_SAID PK_USAGE_SAID

/* Options may follow the command's operands; "--" ends them.  Sets
 * *verbose for -v, *help for -h/--help; keeps the operands in order in
 * args.  Returns the number of operands, or -1 for an unknown option.
 * extra/extra_arg: one command-specific option, with an argument if
 * extra_arg is not NULL. */
static int scan_args(char **args, int n, int *verbose, int *help,
                     const char *extra, int *has_extra, char **extra_arg)
{
    int k = 0, opts = 1;
    for (int i = 0; i < n; i++) {
        const char *a = args[i];
        if (opts && strcmp(a, "--") == 0)
            opts = 0;
        else if (opts && strcmp(a, "-v") == 0)
            *verbose = 1;
        else if (opts && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0))
            *help = 1;
        else if (opts && extra && strcmp(a, extra) == 0) {
            if (extra_arg) {
                if (i + 1 >= n)
                    return -1;
                *extra_arg = args[++i];
            }
            *has_extra = 1;
        } else if (opts && a[0] == '-' && a[1] != '\0')
            return -1;
        else
            args[k++] = args[i];
    }
    return k;
}

static int cmd_python(char **args, int n, int verbose)
{
    int full = 0, help = 0;
    n = scan_args(args, n, &verbose, &help, "--full-stdlib", &full, NULL);
    if (help) {
        fputs(usage, stdout);
        return 0;
    }
    if (n < 1)
        return 2;
    if (pk_writer_check_suffix(args[0]) != 0)
        return 1;
    pk_pyinfo info;
    if (pk_pyinfo_query(&info, args + 1, n - 1) != 0)
        return 1;
    if (pk_py_finish() != 0) {
        pk_pyinfo_free(&info);
        return 1;
    }
    pk_writer *w = pk_writer_open(args[0], verbose);
    int ok = w != NULL;
    if (ok)
        ok = pk_writer_add_tree(w, info.stdlib.src, info.stdlib.dest, full ? NULL : pk_stdlib_skip) == 0;
    for (size_t i = 0; ok && i < info.nitems; i++)
        ok = pk_writer_add_tree(w, info.items[i].src, info.items[i].dest, NULL) == 0;
    if (ok && info.pth_name)
        ok = pk_writer_add_data(w, info.pth_name, info.pth_line, strlen(info.pth_line), 0644,
                                info.pth_mtime) == 0;
    int rc = w ? pk_writer_close(w, ok) : -1;
    pk_pyinfo_free(&info);
    return ok && rc == 0 ? 0 : 1;
}

static int cmd_dir(char **args, int n, int verbose)
{
    int help = 0, has_at = 0;
    char *at_arg = NULL;
    n = scan_args(args, n, &verbose, &help, "--at", &has_at, &at_arg);
    if (help) {
        fputs(usage, stdout);
        return 0;
    }
    if (n != 2)
        return 2;
    const char *out = args[0], *dir = args[1];
    char *at = NULL;
    if (has_at && !(at = pk_bundle_path(at_arg))) {
        if (errno == EINVAL) {
            pm_error(at_arg, "--at must be a relative path inside the bundle (no leading '/', no '..')");
            return USAGE_SAID;
        }
        pm_error(NULL, "out of memory");
        return 1;
    }
    /* Check what needs no Python first: fail in milliseconds, not seconds. */
    struct stat st;
    int rc = 1;
    if (pk_writer_check_suffix(out) != 0)
        goto done;
    if (stat(dir, &st) != 0) {
        pm_error(dir, "cannot add: %s", strerror(errno));
        goto done;
    }
    if (!S_ISDIR(st.st_mode)) {
        pm_error(dir, "cannot add: not a directory");
        goto done;
    }
    /* Where every package bundle goes, whichever Python is embedded: the
     * site directory python-mpi puts on sys.path (makers.h). */
    if (!at && !(at = strdup(PK_SITE_DEST))) {
        pm_error(NULL, "out of memory");
        goto done;
    }
    pk_writer *w = pk_writer_open(out, verbose);
    int ok = w && pk_writer_add_tree(w, dir, at, NULL) == 0;
    int crc = w ? pk_writer_close(w, ok) : -1;
    rc = ok && crc == 0 ? 0 : 1;
done:
    free(at);
    return rc;
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
        const char *name = archive_entry_pathname(e);
        const char *target = t == 'h' ? archive_entry_hardlink(e) : t == 'l' ? archive_entry_symlink(e) : NULL;
        printf("%c %04o %12lld %s", t, (unsigned)archive_entry_perm(e), size, name ? name : "?");
        if (t == 'l' || t == 'h')
            printf(" -> %s", target ? target : "?");
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
    /* A listing cut short (disk full, closed pipe) must not look complete. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        pm_error(NULL, "stdout: %s", strerror(errno));
        goto done;
    }
    rc = 0;
done:
    archive_read_free(a);
    return rc;
}

/* --pyc MODE (or --pyc=MODE) anywhere before "--": taken out of argv.
 * Returns the mode, -1 if absent, -2 after printing why it is bad. */
static int take_pyc_option(int *argc, char **argv)
{
    int mode = -1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        const char *v = NULL;
        int used = 0;
        if (strcmp(argv[i], "--pyc") == 0) {
            v = i + 1 < *argc ? argv[i + 1] : "";
            used = i + 1 < *argc ? 2 : 1;
        } else if (strncmp(argv[i], "--pyc=", 6) == 0) {
            v = argv[i] + 6;
            used = 1;
        }
        if (!used)
            continue;
        enum pk_pyc_mode m;
        if (pk_pyc_parse(v, &m) != 0) {
            pm_error(NULL, "--pyc '%s': expected unchecked, checked, timestamp, sourceless, keep or none", v);
            return -2;
        }
        mode = (int)m;
        memmove(&argv[i], &argv[i + used], (size_t)(*argc - i - used + 1) * sizeof *argv);
        *argc -= used;
        i--;
    }
    return mode;
}

int main(int argc, char **argv)
{
    pm_log_init("pkgroot");
    int pyc = take_pyc_option(&argc, argv);
    if (pyc == -2)
        return 2;
    int verbose = 0, i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-v") == 0)
            verbose = 1;
        else if (strncmp(argv[i], "-j", 2) == 0) {
            const char *v = argv[i][2] ? argv[i] + 2 : i + 1 < argc ? argv[++i] : "";
            char *end;
            long j = strtol(v, &end, 10);
            if (!*v || *end || j < 1 || j > 1024) {
                pm_error(NULL, "-j '%s': expected a number of threads from 1 to 1024", v);
                return 2;
            }
            pk_writer_set_default_threads((int)j);
        } else if (strcmp(argv[i], "--parts") == 0 || strncmp(argv[i], "--parts=", 8) == 0) {
            const char *v = argv[i][7] == '=' ? argv[i] + 8 : i + 1 < argc ? argv[++i] : "";
            if (strcmp(v, "zstd") != 0 && strcmp(v, "stored") != 0) {
                pm_error(NULL, "--parts '%s': expected zstd or stored", v);
                return 2;
            }
            pk_writer_set_default_stored_parts(strcmp(v, "stored") == 0);
        }
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
        /* Bytecode by default in what makes runtimes and package bundles
         * (no rank compiles at start-up); `dir` copies a directory as is. */
        pk_writer_set_default_pyc(pyc >= 0 ? (enum pk_pyc_mode)pyc
                                  : strcmp(cmd, "dir") == 0 ? PK_PYC_KEEP : PK_PYC_UNCHECKED);
        if (strcmp(cmd, "python") == 0)
            rc = cmd_python(args, n, verbose);
        else if (strcmp(cmd, "dir") == 0)
            rc = cmd_dir(args, n, verbose);
        else if (strcmp(cmd, "pip") == 0)
            rc = pk_cmd_pip(args, n, verbose);
        else if (strcmp(cmd, "venv") == 0)
            rc = pk_cmd_venv(args, n, verbose);
        else if (strcmp(cmd, "conda") == 0)
            rc = pk_cmd_conda(args, n, verbose);
        else if (strcmp(cmd, "verify") == 0)
            rc = pk_cmd_verify(args, n, verbose);
        else if (strcmp(cmd, "ls") == 0 && n == 1 && strcmp(args[0], "--help") == 0) {
            fputs(usage, stdout);
            rc = 0;
        } else if (strcmp(cmd, "ls") == 0 && n == 1 && (args[0][0] != '-' || args[0][1] == '\0'))
            rc = cmd_ls(args[0]);
    }
    /* Commands end the embedded Python before they write (pk_py_finish):
     * this is for one that returned early. */
    if (pk_py_finish() != 0 && (rc == 0 || rc == PK_SHOW_HELP))
        rc = 1;
    if (rc == PK_SHOW_HELP) {
        fputs(usage, stdout);
        return 0;
    }
    if (rc == USAGE_SAID)
        return 2;
    if (rc == 2)
        fputs(usage, stderr);
    return rc;
}
