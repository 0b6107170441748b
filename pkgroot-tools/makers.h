/* makers.h - what the pip, venv and conda makers share: the options
 * pkgroot.c parses for every command, and adding a site directory or a bin/ directory to a bundle with the
 * default exclusions and rewritten shebangs. */
#ifndef PK_MAKERS_H
#define PK_MAKERS_H

#include "exclude.h"
#include "writer.h"

/* Where every maker (and `pkgroot dir`) puts packages, whichever Python is
 * embedded: the site directory python-mpi adds for a tree without a
 * standard library (python-mpi.c, export_env), and for a tree with one
 * Debian's site.py, or the .pth that runtime bundles of other Pythons
 * carry (PK_SITE_PTH, pyinfo.h). */
#define PK_SITE_DEST "lib/python3/dist-packages"
#define PK_SITE_PTH "python-mpi-bcast.pth"

/* A usage error already explained in one line (exit 2, no usage text). */
#define PK_USAGE_SAID (-2)

/* A command's options, as pkgroot.c's table of them parses them (each
 * command is given only those it takes; the strings are argv's). */
typedef struct pk_make_opts {
    int verbose;             /* -v */
    pk_exclude x;            /* --keep-caches, --keep-tests, --keep-docs */
    int keep_installers;     /* venv */
    int keep_static, keep_include, keep_conda_meta;   /* conda */
    int full_stdlib;         /* python, conda */
    const char *at;          /* --at PATH (dir), or NULL */
    char **excludes;         /* --exclude RELPATH... (dir), NULL-terminated */
    int nexcludes;
    char **reqs;             /* -r FILE..., in order (pip) */
    int nreqs;
    char **links;            /* --find-links DIR... (pip) */
    int nlinks;
    const char *python_mpi, *max_size;   /* verify: --python-mpi, --max-size */
} pk_make_opts;

/* Add a site directory's packages at PK_SITE_DEST, leaving out the default
 * exclusions and, with installers set, pip/setuptools/wheel and their
 * helpers.  0, or -1 after printing why. */
int pk_add_site(pk_writer *w, const char *src, pk_make_opts *o, int installers);

/* Add a bin/ directory's scripts at bin/, shebangs rewritten (shebang.h),
 * leaving out names matching venv_own (a venv's python, pip, activate*)
 * or installers (NULL-terminated lists or NULL; a trailing '*' matches a
 * prefix; compared ignoring case).  0, or -1 after printing why. */
int pk_add_bin(pk_writer *w, const char *src, pk_make_opts *o, const char *const *venv_own,
               const char *const *installers);

/* Does a name match one of the patterns (as pk_add_bin's lists)? */
int pk_name_matches(const char *name, const char *const *patterns);

/* The commands (maker_pip.c, maker_venv.c, maker_conda.c): args/n are the
 * operands after the command's name (as many as pkgroot.c's table says),
 * o its options.  Return the exit status (0, 1), 2 for a usage error
 * pkgroot.c explains with the usage text, or PK_USAGE_SAID. */
int pk_cmd_pip(char **args, int n, pk_make_opts *o);
int pk_cmd_venv(char **args, int n, pk_make_opts *o);
int pk_cmd_conda(char **args, int n, pk_make_opts *o);

/* -h/--help: the usage text on stdout, exit 0 (pkgroot.c). */
#define PK_SHOW_HELP (-3)

#endif
