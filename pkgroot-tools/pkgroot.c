/* pkgroot.c - the bundle maker's command line.
 *
 *   pkgroot python OUT [--full-stdlib] [PACKAGE...]   runtime bundle
 *   pkgroot dir OUT DIR [--at PATH] [--exclude REL]... a directory's contents
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
#include "archive_read.h"
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
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PYMPI_VERSION
#define PYMPI_VERSION "unknown"
#endif

static const char usage[] =
    "usage: pkgroot [-v] [-j N] [--parts zstd|lz4|stored] [--pyc MODE] [--out-fd N] COMMAND ...\n"
    "       pkgroot [-v] python OUT [--full-stdlib] [PACKAGE...]\n"
    "       pkgroot [-v] dir OUT DIR [--at PATH] [--exclude RELPATH]...\n"
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
    "          (lib/python3/dist-packages) unless --at PATH ('.' = the root);\n"
    "          --exclude RELPATH (repeatable) leaves DIR/RELPATH (and all\n"
    "          below it) out\n"
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
    "  --parts CODEC  how a .ptar's parts are compressed: lz4 (the default:\n"
    "          unpacks with 40% of zstd's CPU), zstd (the smallest, 2/3 of\n"
    "          lz4's bytes, for a slow shared file system or network), stored\n"
    "          (uncompressed, as big as the tree: the least CPU of all)\n"
    "  --out-fd N  write the bundle to the open descriptor N (an empty file)\n"
    "          as it is made, never rewriting a byte (a .ptar's count of parts\n"
    "          stays 0), so that a reader may send it meanwhile; OUT only\n"
    "          names the format (python-mpi's PYTHON_MPI_ENV uses this)\n"
    "  --pyc MODE  bytecode for every .py, made now by the embedded Python so\n"
    "          that no rank compiles at start-up: unchecked (hash-based, never\n"
    "          re-validated; the default but for dir), checked, timestamp,\n"
    "          sourceless (NAME.pyc in place of NAME.py: no source is ever\n"
    "          looked at, tracebacks show no source lines),\n"
    "          keep (the tree's own __pycache__ as is; dir's default), none\n"
    "OUT's suffix picks the compression: .tar.zst/.tzst (recommended),\n"
    ".ptar (parallel parts), .tar.gz/.tgz, .tar.bz2/.tbz2, .tar.xz/.txz, .tar.\n"
    "OUT appears only when complete.  Exit 0 ok, 1 failed, 2 usage.\n";

static int cmd_python(char **args, int n, pk_make_opts *o)
{
    if (pk_writer_check_suffix(args[0]) != 0)
        return 1;
    pk_pyinfo info;
    if (pk_pyinfo_query(&info, args + 1, n - 1) != 0)
        return 1;
    if (pk_py_finish() != 0) {
        pk_pyinfo_free(&info);
        return 1;
    }
    pk_writer *w = pk_writer_open(args[0], o->verbose);
    int ok = w != NULL;
    if (ok)
        ok = pk_writer_add_tree(w, info.stdlib.src, info.stdlib.dest, o->full_stdlib ? NULL : pk_stdlib_skip) == 0;
    for (size_t i = 0; ok && i < info.nitems; i++)
        ok = pk_writer_add_tree(w, info.items[i].src, info.items[i].dest, NULL) == 0;
    if (ok && info.pth_name)
        ok = pk_writer_add_data(w, info.pth_name, info.pth_line, strlen(info.pth_line), 0644,
                                info.pth_mtime) == 0;
    int rc = w ? pk_writer_close(w, ok) : -1;
    pk_pyinfo_free(&info);
    return ok && rc == 0 ? 0 : 1;
}

/* --exclude's paths, normalised (pk_bundle_path: relative, no '..'), as
 * a NULL-terminated list for pk_writer_add_tree's skip; NULL after
 * printing why (*said: a usage error). */
static char **dir_excludes(const pk_make_opts *o, int *said)
{
    char **skip = calloc((size_t)o->nexcludes + 1, sizeof *skip);
    *said = 0;
    for (int i = 0; skip && i < o->nexcludes; i++) {
        skip[i] = pk_bundle_path(o->excludes[i]);
        if (skip[i] && *skip[i])
            continue;
        if (skip[i] || errno == EINVAL) {
            pm_error(o->excludes[i], "--exclude must be a path inside DIR (relative, no '..', not DIR itself)");
            *said = 1;
        }
        for (int j = 0; j <= i; j++)
            free(skip[j]);
        free(skip);
        skip = NULL;
    }
    if (!skip && !*said)
        pm_error(NULL, "out of memory");
    return skip;
}

static int cmd_dir(char **args, int n, pk_make_opts *o)
{
    (void)n;
    const char *out = args[0], *dir = args[1];
    int said = 0;
    char **skip = dir_excludes(o, &said);
    if (!skip)
        return said ? PK_USAGE_SAID : 1;
    char *at = NULL;
    int rc = 1;
    if (o->at && !(at = pk_bundle_path(o->at))) {
        if (errno == EINVAL) {
            pm_error(o->at, "--at must be a relative path inside the bundle (no leading '/', no '..')");
            rc = PK_USAGE_SAID;
        } else {
            pm_error(NULL, "out of memory");
        }
        goto done;
    }
    /* Check what needs no Python first: fail in milliseconds, not seconds. */
    struct stat st;
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
    pk_writer *w = pk_writer_open(out, o->verbose);
    int ok = w && pk_writer_add_tree(w, dir, at, (const char *const *)skip) == 0;
    int crc = w ? pk_writer_close(w, ok) : -1;
    rc = ok && crc == 0 ? 0 : 1;
done:
    for (char **x = skip; *x; x++)
        free(*x);
    free(skip);
    free(at);
    return rc;
}

static int cmd_ls(char **args, int n, pk_make_opts *o)
{
    (void)n;
    (void)o;
    const char *path = args[0];
    /* As python-mpi opens and reads it: no FIFO, no file another user could
     * have put there, no external decompressor (archive_read.h). */
    pm_err err = PM_ERR_INIT;
    int fd = pm_input_open_err(path, "bundle", NULL, &err);
    pm_err_print(&err);
    if (fd < 0)
        return 1;
    struct archive *a = pm_archive_reader(1);
    if (!a) {
        pm_error(path, "libarchive: out of memory");
        close(fd);
        return 1;
    }
    int rc = 1;
    if (archive_read_open_fd(a, fd, 1 << 16) != ARCHIVE_OK) {
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
    close(fd);
    return rc;
}

/* The options and the commands: one table each, parsed by getopt_long.
 * Global options come before COMMAND; a command's own (and -v, -h, --pyc)
 * may come before, between or after its operands, "--" ending them.  The
 * first mistake decides: an unknown option is a usage error (the usage
 * text; -h before it wins), an option without its value or a bad value one
 * line (exit 2 both). */
enum {
    T_PYTHON = 1, T_DIR = 2, T_PIP = 4, T_VENV = 8, T_CONDA = 16, T_VERIFY = 32, T_LS = 64,
    T_ALL = 127, T_MAKERS = T_PIP | T_VENV | T_CONDA,
};
enum {   /* getopt_long's codes for the options without a letter */
    O_VERSION = 256, O_PARTS, O_PYC, O_FULL_STDLIB, O_AT, O_KEEP_CACHES, O_KEEP_TESTS, O_KEEP_DOCS,
    O_KEEP_INSTALLERS, O_KEEP_STATIC, O_KEEP_INCLUDE, O_KEEP_CONDA_META, O_PYTHON_MPI, O_MAX_SIZE,
    O_EXCLUDE, O_OUT_FD,
};

static const struct option global_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, O_VERSION},
    {"parts", required_argument, NULL, O_PARTS},
    {"pyc", required_argument, NULL, O_PYC},
    {"out-fd", required_argument, NULL, O_OUT_FD},
    {NULL, 0, NULL, 0},
};

/* A command's options: each taken by the commands in `by`. */
static const struct {
    struct option opt;
    unsigned by;
} command_options[] = {
    {{"help", no_argument, NULL, 'h'}, T_ALL},
    {{"pyc", required_argument, NULL, O_PYC}, T_ALL},
    {{"full-stdlib", no_argument, NULL, O_FULL_STDLIB}, T_PYTHON | T_CONDA},
    {{"at", required_argument, NULL, O_AT}, T_DIR},
    {{"exclude", required_argument, NULL, O_EXCLUDE}, T_DIR},
    {{"requirement", required_argument, NULL, 'r'}, T_PIP},
    {{"find-links", required_argument, NULL, 'f'}, T_PIP},
    {{"keep-caches", no_argument, NULL, O_KEEP_CACHES}, T_MAKERS},
    {{"keep-tests", no_argument, NULL, O_KEEP_TESTS}, T_MAKERS},
    {{"keep-docs", no_argument, NULL, O_KEEP_DOCS}, T_MAKERS},
    {{"keep-installers", no_argument, NULL, O_KEEP_INSTALLERS}, T_VENV},
    {{"keep-static", no_argument, NULL, O_KEEP_STATIC}, T_CONDA},
    {{"keep-include", no_argument, NULL, O_KEEP_INCLUDE}, T_CONDA},
    {{"keep-conda-meta", no_argument, NULL, O_KEEP_CONDA_META}, T_CONDA},
    {{"python-mpi", required_argument, NULL, O_PYTHON_MPI}, T_VERIFY},
    {{"max-size", required_argument, NULL, O_MAX_SIZE}, T_VERIFY},
};
#define N_COMMAND_OPTIONS (sizeof command_options / sizeof command_options[0])

/* Each command: its letters (getopt's string: "-" returns the operands in
 * order, as code 1, whatever POSIXLY_CORRECT says; ":" tells a missing
 * value apart), its operands (at least min, at most max; -1: any number),
 * the bytecode its bundles get without --pyc (runtimes and package
 * bundles: made now, so that no rank compiles at start-up; `dir` copies a
 * directory as it is), and what runs it with its operands and options,
 * returning the exit status, 2 or PK_USAGE_SAID (makers.h). */
static const struct command {
    const char *name;
    unsigned bit;
    const char *shorts;
    int min, max;
    enum pk_pyc_mode pyc;
    int (*run)(char **args, int n, pk_make_opts *o);
} commands[] = {
    {"python", T_PYTHON, "-:vh", 1, -1, PK_PYC_UNCHECKED, cmd_python},
    {"dir", T_DIR, "-:vh", 2, 2, PK_PYC_KEEP, cmd_dir},
    {"pip", T_PIP, "-:vhr:f:", 1, -1, PK_PYC_UNCHECKED, pk_cmd_pip},
    {"venv", T_VENV, "-:vh", 2, 2, PK_PYC_UNCHECKED, pk_cmd_venv},
    {"conda", T_CONDA, "-:vh", 2, 2, PK_PYC_UNCHECKED, pk_cmd_conda},
    {"verify", T_VERIFY, "-:vh", 1, 1, PK_PYC_UNCHECKED, pk_cmd_verify},
    {"ls", T_LS, "-:vh", 1, 1, PK_PYC_UNCHECKED, cmd_ls},
};

/* What the options said, beyond pk_make_opts. */
typedef struct settings {
    int pyc;                 /* a pk_pyc_mode, or -1: the command's default */
    int help, version;
} settings;

/* One option's effect: 0, or PK_USAGE_SAID after printing why its value
 * is bad (v is "" for a value that is missing). */
static int apply(int c, const char *v, pk_make_opts *o, settings *s)
{
    switch (c) {
    case 'v': o->verbose = o->x.verbose = 1; return 0;
    case 'h': s->help = 1; return 0;
    case O_VERSION: s->version = 1; return 0;
    case 'j': {
        char *end;
        long j = strtol(v, &end, 10);
        if (!*v || *end || j < 1 || j > 1024) {
            pm_error(NULL, "-j '%s': expected a number of threads from 1 to 1024", v);
            return PK_USAGE_SAID;
        }
        pk_writer_set_default_threads((int)j);
        return 0;
    }
    case O_PARTS: {
        enum pk_part_codec codec;
        if (pk_part_codec_parse(v, &codec) != 0) {
            pm_error(NULL, "--parts '%s': expected zstd, lz4 or stored", v);
            return PK_USAGE_SAID;
        }
        pk_writer_set_default_part_codec(codec);
        return 0;
    }
    case O_OUT_FD: {
        char *end;
        long fd = strtol(v, &end, 10);
        struct stat st;
        if (!*v || *end || fd < 3 || fd > 1 << 20 || fstat((int)fd, &st) != 0) {
            pm_error(NULL, "--out-fd '%s': expected an open descriptor from 3 up", v);
            return PK_USAGE_SAID;
        }
        pk_writer_set_stream_fd((int)fd);
        /* The reader that handed us the descriptor (python-mpi's rank 0)
         * is gone: nobody will use what we write. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
            pm_error(NULL, "--out-fd: prctl: %s", strerror(errno));
            return PK_USAGE_SAID;
        }
        return 0;
    }
    case O_PYC: {
        enum pk_pyc_mode m;
        if (pk_pyc_parse(v, &m) != 0) {
            pm_error(NULL, "--pyc '%s': expected unchecked, checked, timestamp, sourceless, keep or none", v);
            return PK_USAGE_SAID;
        }
        s->pyc = (int)m;
        return 0;
    }
    case O_FULL_STDLIB: o->full_stdlib = 1; return 0;
    case O_AT: o->at = v; return 0;
    case O_EXCLUDE: o->excludes[o->nexcludes++] = (char *)v; return 0;
    case 'r': o->reqs[o->nreqs++] = (char *)v; return 0;
    case 'f': o->links[o->nlinks++] = (char *)v; return 0;
    case O_KEEP_CACHES: o->x.keep_caches = 1; return 0;
    case O_KEEP_TESTS: o->x.keep_tests = 1; return 0;
    case O_KEEP_DOCS: o->x.keep_docs = 1; return 0;
    case O_KEEP_INSTALLERS: o->keep_installers = 1; return 0;
    case O_KEEP_STATIC: o->keep_static = 1; return 0;
    case O_KEEP_INCLUDE: o->keep_include = 1; return 0;
    case O_KEEP_CONDA_META: o->keep_conda_meta = 1; return 0;
    case O_PYTHON_MPI: o->python_mpi = v; return 0;
    case O_MAX_SIZE: o->max_size = v; return 0;
    }
    return 2;
}

/* An option given without its value (argv[optind - 1], as typed): the
 * checked ones say what they expect, the others that they need one. */
static int missing_value(int c, char **argv, pk_make_opts *o, settings *s)
{
    if (c == 'j' || c == O_PARTS || c == O_PYC || c == O_OUT_FD)
        return apply(c, "", o, s);
    pm_error(NULL, "%s needs an argument", argv[optind - 1]);
    return PK_USAGE_SAID;
}

/* The options before COMMAND (then argv[optind]): 0, or an exit status
 * (2, PK_USAGE_SAID, PK_SHOW_HELP for -h and --version alike). */
static int parse_global(int argc, char **argv, pk_make_opts *o, settings *s)
{
    int c;
    opterr = 0;
    optind = 0;   /* glibc: start afresh */
    while ((c = getopt_long(argc, argv, "+:vhj:", global_options, NULL)) != -1) {
        int rc = c == '?' ? 2 : c == ':' ? missing_value(optopt, argv, o, s) : apply(c, optarg, o, s);
        if (rc != 0)
            return rc;
        if (s->help || s->version)
            return PK_SHOW_HELP;
    }
    return 0;
}

/* A command's options and operands, argv[0] being its name: its operands in
 * order into ops (room for argc) and *nops; 0, or an exit status (2,
 * PK_USAGE_SAID, PK_SHOW_HELP). */
static int parse_command(const struct command *cmd, int argc, char **argv, pk_make_opts *o,
                         settings *s, char **ops, int *nops)
{
    struct option longs[N_COMMAND_OPTIONS + 1];
    size_t k = 0;
    for (size_t i = 0; i < N_COMMAND_OPTIONS; i++)
        if (command_options[i].by & cmd->bit)
            longs[k++] = command_options[i].opt;
    memset(&longs[k], 0, sizeof longs[k]);
    int c;
    *nops = 0;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, cmd->shorts, longs, NULL)) != -1) {
        int rc = c == 1 ? (ops[(*nops)++] = optarg, 0)
               : c == '?' ? (s->help ? PK_SHOW_HELP : 2)
               : c == ':' ? missing_value(optopt, argv, o, s)
               : apply(c, optarg, o, s);
        if (rc != 0)
            return rc;
    }
    while (optind < argc)   /* after "--" */
        ops[(*nops)++] = argv[optind++];
    if (s->help)
        return PK_SHOW_HELP;
    return *nops < cmd->min || (cmd->max >= 0 && *nops > cmd->max) ? 2 : 0;
}

static int run(int argc, char **argv)
{
    pk_make_opts o;
    settings s = {-1, 0, 0};
    memset(&o, 0, sizeof o);
    /* At most argc values or operands: room enough, whatever the mix. */
    o.reqs = calloc((size_t)argc + 1, sizeof *o.reqs);
    o.links = calloc((size_t)argc + 1, sizeof *o.links);
    o.excludes = calloc((size_t)argc + 1, sizeof *o.excludes);
    char **ops = calloc((size_t)argc + 1, sizeof *ops);
    int rc;
    if (!o.reqs || !o.links || !o.excludes || !ops) {
        pm_error(NULL, "out of memory");
        rc = 1;
        goto done;
    }
    if ((rc = parse_global(argc, argv, &o, &s)) != 0) {
        if (s.version) {
            puts("pkgroot (python-mpi-bcast) " PYMPI_VERSION);
            rc = 0;
        }
        goto done;
    }
    int i = optind;
    rc = 2;
    const struct command *cmd = NULL;
    for (size_t c = 0; i < argc && c < sizeof commands / sizeof commands[0]; c++)
        if (strcmp(argv[i], commands[c].name) == 0)
            cmd = &commands[c];
    int n;
    if (!cmd || (rc = parse_command(cmd, argc - i, argv + i, &o, &s, ops, &n)) != 0)
        goto done;
    pk_writer_set_default_pyc(s.pyc >= 0 ? (enum pk_pyc_mode)s.pyc : cmd->pyc);
    rc = cmd->run(ops, n, &o);
done:
    free(ops);
    free(o.reqs);
    free(o.links);
    free(o.excludes);
    return rc;
}

int main(int argc, char **argv)
{
    pm_log_init("pkgroot");
    int rc = run(argc, argv);
    /* Commands end the embedded Python before they write (pk_py_finish):
     * this is for one that returned early. */
    if (pk_py_finish() != 0 && (rc == 0 || rc == PK_SHOW_HELP))
        rc = 1;
    if (rc == PK_SHOW_HELP) {
        fputs(usage, stdout);
        return 0;
    }
    if (rc == PK_USAGE_SAID)
        return 2;
    if (rc == 2)
        fputs(usage, stderr);
    return rc;
}
