/* makers.h - what the pip, venv and conda makers share: their options,
 * and adding a site directory or a bin/ directory to a bundle with the
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

/* Which options a command takes (bits). */
enum {
    PK_OPT_PIP = 1,          /* -r FILE, --find-links DIR */
    PK_OPT_VENV = 2,         /* --keep-installers */
    PK_OPT_CONDA = 4,        /* --keep-static, --keep-include, --keep-conda-meta, --full-stdlib */
};

typedef struct pk_make_opts {
    int verbose, help;
    pk_exclude x;            /* --keep-caches, --keep-tests, --keep-docs */
    int keep_installers;
    int keep_static, keep_include, keep_conda_meta, full_stdlib;
    char **reqs;             /* -r FILE..., in order (pip) */
    int nreqs;
    char **links;            /* --find-links DIR... (pip) */
    int nlinks;
} pk_make_opts;

/* Parse a maker's arguments (options may follow operands; "--" ends
 * them), keeping the operands in order at the front of args.  Returns
 * their number, -1 for an unknown option (usage), or PK_USAGE_SAID after
 * printing one line (an option missing its argument).  Free with
 * pk_make_opts_free. */
int pk_make_args(char **args, int n, int which, pk_make_opts *o);
void pk_make_opts_free(pk_make_opts *o);

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
 * words after the command's name.  Return the exit status (0, 1), 2 for a
 * usage error pkgroot.c explains with the usage text, PK_USAGE_SAID, or
 * PK_SHOW_HELP for -h/--help. */
#define PK_SHOW_HELP (-3)
int pk_cmd_pip(char **args, int n, int verbose);
int pk_cmd_venv(char **args, int n, int verbose);
int pk_cmd_conda(char **args, int n, int verbose);

#endif
