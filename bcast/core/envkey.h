/* envkey.h - PYTHON_MPI_ENV's state key: a 128-bit hash of an
 * environment's trees, so a cached state is found again only while the
 * trees are as they were.
 *
 * Each entry below a directory (its path relative to the top, and with
 * the full check its lstat: type, mode, size, mtime, ctime, inode, device)
 * is hashed alone and the hashes summed: the key does not depend on the
 * order readdir lists them.  No link is followed; __pycache__ directories
 * are left out (the makers compile bytecode afresh, so a python3 run that
 * writes .pyc files there makes no new state).  Nothing is printed: a
 * failure's reason is handed back in a pm_err. */
#ifndef PM_ENVKEY_H
#define PM_ENVKEY_H

#include "err.h"

#include <stdint.h>
#include <sys/stat.h>

/* Two FNV-1a hashes with different bases. */
typedef struct pm_envkey { uint64_t a, b; } pm_envkey;

/* What a walk looked at (for the verbose report). */
typedef struct pm_envkey_count { uint64_t entries, stats; } pm_envkey_count;

void pm_envkey_init(pm_envkey *h);
void pm_envkey_add(pm_envkey *h, const void *p, size_t n);
void pm_envkey_str(pm_envkey *h, const char *s);   /* with its '\0' */
void pm_envkey_u64(pm_envkey *h, uint64_t v);
/* mode, size, mtime, ctime, inode, device. */
void pm_envkey_stat(pm_envkey *h, const struct stat *st);
/* Hex, malloc'd or NULL: 32 digits (full), else the first hash's 16. */
char *pm_envkey_hex(const pm_envkey *h, int full);

/* Is name a setuptools editable finder (__editable___*_finder.py)? */
int pm_envkey_is_finder(const char *name);

/* dir (its path and lstat) and every entry below it into h; *count grows.
 * dirs_only (PYTHON_MPI_ENV_CHECK=dirs): every directory's metadata and
 * every name, but a file's own metadata only where a change leaves its
 * directory as it was and matters - .pth files, editable finders, and
 * everything in conda-meta/, *.dist-info/ and *.egg-info/ - one open,
 * fstat and read per directory; an in-place edit of any other file is
 * NOT seen.  0, or -1 with the reason in *err (prefixed PYTHON_MPI_ENV). */
int pm_envkey_tree(pm_envkey *h, const char *dir, int dirs_only, pm_envkey_count *count, pm_err *err);

/* The same, leaving out the entries exclude names (a NULL-terminated list
 * of paths below dir, or NULL) and all below them: another piece's tree
 * inside this one (a venv in its editable project), walked as itself.
 * The list is hashed into h too. */
int pm_envkey_tree_excl(pm_envkey *h, const char *dir, const char *const *exclude, int dirs_only,
                        pm_envkey_count *count, pm_err *err);

#endif
