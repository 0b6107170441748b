/* exclude.h - what the makers leave out of a bundle by default (caches,
 * tests, docs, and each maker's own kinds), with counts for -v's summary;
 * and the parts of a standard library no job imports. */
#ifndef PK_EXCLUDE_H
#define PK_EXCLUDE_H

#include <sys/stat.h>

typedef enum pk_ex_kind {
    PK_EX_NONE = 0,
    PK_EX_CACHE,      /* __pycache__/, stray *.pyc, .pytest_cache, pip's cache */
    PK_EX_TEST,       /* test/ and tests/ inside packages */
    PK_EX_DOC,        /* doc/, docs/ inside packages; share/{doc,man,info} */
    PK_EX_INSTALLER,  /* venv: pip, setuptools, wheel and their helpers */
    PK_EX_CONDA,      /* conda: conda-meta/, pkgs/, conda-bld/, envs/ */
    PK_EX_STATIC,     /* conda: *.a */
    PK_EX_INCLUDE,    /* conda: include/ */
    PK_EX_STDLIB,     /* conda runtime: what `pkgroot python` trims too */
    PK_EX_VENV,       /* venv: its interpreter links, pip and activate scripts */
    PK_EX_OTHER,      /* pip: installed data outside site and bin (share/ ...) */
    PK_EX_KINDS
} pk_ex_kind;

typedef struct pk_exclude {
    int keep_caches, keep_tests, keep_docs;
    int verbose;      /* count the files below left-out directories too */
    unsigned long long entries[PK_EX_KINDS]; /* left out (a directory once) */
    unsigned long long files, bytes;          /* -v: everything left out */
} pk_exclude;

/* The default rules for one entry: its base name, whether a directory,
 * pkg_rel = its path below the innermost package root holding it (a site
 * directory or a standard library; NULL if none), prefix_rel = its path
 * below the install prefix (NULL if the tree is not one).  Returns the
 * kind that leaves it out, or PK_EX_NONE (also when kept by an option). */
pk_ex_kind pk_exclude_kind(const pk_exclude *x, const char *base, int is_dir,
                           const char *pkg_rel, const char *prefix_rel);

/* Count an entry left out (src on disk, st its lstat). */
void pk_exclude_note(pk_exclude *x, pk_ex_kind kind, const char *src, const struct stat *st);

/* -v: one line on stdout saying what was left out and which options keep
 * it.  0, or -1 if stdout fails. */
int pk_exclude_summary(const pk_exclude *x);

/* The standard library's parts that `pkgroot python` leaves out unless
 * --full-stdlib (tests, GUIs, installers, the static-linking config dir,
 * the host's site directories); paths below the stdlib directory, a
 * trailing '*' matching a prefix, as pk_writer_add_tree's skip. */
extern const char *const pk_stdlib_skip[];

/* Is rel (below a standard library directory) one of pk_stdlib_skip,
 * other than its site directories (a conda runtime keeps site-packages)? */
int pk_stdlib_trimmed(const char *rel);

#endif
