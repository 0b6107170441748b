/* envscan.h - an environment's editable installs: the directories outside
 * it that its site-packages' .pth files name, and those that setuptools'
 * editable finders map, found, and the files rewritten to name where
 * PYTHON_MPI_ENV delivers them (lib/python-mpi-ext/N, reached from the
 * bundle's site directory as ../../python-mpi-ext/N: lib/python3/
 * dist-packages and lib/pythonX.Y/site-packages are as deep).
 *
 * A .pth line is a directory, relative to the site directory or absolute;
 * blank lines, comments and import lines are not.  A finder
 * (__editable___NAME_finder.py, envkey.h) maps top-level names to source
 * paths in one line,
 *     MAPPING: dict[str, str] = {'pkg': '/home/u/proj/src/pkg'}
 * (older ones: MAPPING = {...}), the repr of a dict of str: a value with an
 * escape other than \\, \' or \" leaves the finder as it is.  Files over
 * 1 MiB are left alone.  Nothing is printed. */
#ifndef PM_ENVSCAN_H
#define PM_ENVSCAN_H

#include "err.h"

#include <stddef.h>

/* A finder's MAPPING, parsed. */
#define PM_ENVMAP_MAX 64
typedef struct pm_envmap {
    char *key[PM_ENVMAP_MAX], *val[PM_ENVMAP_MAX];
    size_t n, start, end;   /* its line: text[start, end) */
} pm_envmap;

/* 0 with *m filled (pm_envmap_free it), or -1 (nothing to free) if text
 * has no MAPPING line this can read: not a dict of str literals, more than
 * PM_ENVMAP_MAX pairs, an unterminated string, another escape, text after
 * the '}' on its line. */
int pm_envmap_parse(const char *text, pm_envmap *m);
void pm_envmap_free(pm_envmap *m);

/* s as Python's repr writes it (single quotes, \\ and \' escaped);
 * malloc'd or NULL. */
char *pm_envscan_repr(const char *s);

/* The directory a .pth line (or MAPPING value) names - relative to site or
 * absolute - as a real path if it is a directory outside root, else NULL. */
char *pm_envscan_outside(const char *site, const char *line, const char *root);

/* The directories found, each once, in the order found. */
typedef struct pm_envexts {
    char **dir;
    size_t n, cap;
} pm_envexts;

/* Append dir (malloc'd; taken, freed if already there): 0, -1 out of
 * memory (dir freed). */
int pm_envexts_add(pm_envexts *x, char *dir);
/* dir's place in x, + 1; 0 if it is not there (or dir is NULL). */
size_t pm_envexts_index(const pm_envexts *x, const char *dir);
void pm_envexts_free(pm_envexts *x);

/* Each .pth and finder of site: the directories outside root it names,
 * appended to *x.  No site directory: nothing found, 0.  -1 with the
 * reason in *err: out of memory, or a directory refused because another
 * user could have put modules in it or planted a link on the way to it
 * (trust.h, pm_trust_input_check; "refusing the editable directory
 * SITE/NAME names: REASON"). */
int pm_envscan_find(const char *site, const char *root, pm_envexts *x, pm_err *err);

/* A finder's text with the MAPPING values in x made relative to the
 * finder's own directory (resolved when it is imported); a copy if it
 * has no MAPPING this reads.  NULL if out of memory.  *changed: a value
 * was rewritten. */
char *pm_envscan_rewrite_finder(const pm_envexts *x, const char *site, const char *root, const char *text,
                                int *changed);

/* A .pth file's text (taken: it is cut into lines) with each line naming
 * a directory of x replaced.  NULL if out of memory. *changed as above. */
char *pm_envscan_rewrite_pth(const pm_envexts *x, const char *site, const char *root, char *text,
                             int *changed);

/* The overlay: each .pth and finder of site that names a directory of x,
 * rewritten, written into out (mode 0644, as in the tree they replace).
 * *any: one was.  0, or -1 with the reason in *err. */
int pm_envscan_overlay(const pm_envexts *x, const char *site, const char *root, const char *out, int *any,
                       pm_err *err);

#endif
