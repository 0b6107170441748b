/* pyinfo.h - what to bundle for the Python that python-mpi embeds.
 *
 * pkgroot links the same libpython as python-mpi and asks it directly
 * (no subprocess, no guessing from another python3 on PATH): where its
 * standard library is, where its site directory is relative to its prefix,
 * and where each named package lives. */
#ifndef PK_PYINFO_H
#define PK_PYINFO_H

#include <stddef.h>
#include <time.h>

typedef struct pk_item {
    char *src;      /* absolute path on this machine */
    char *dest;     /* path inside the bundle */
} pk_item;

typedef struct pk_pyinfo {
    char *version;  /* "3.11" */
    char *soabi;    /* "cpython-311-x86_64-linux-gnu": extension modules' tag */
    char *cache_tag;/* "cpython-311": __pycache__ file names' tag */
    unsigned char magic[4]; /* importlib.util.MAGIC_NUMBER: .pyc files' start */
    char *interpreter; /* sys.base_prefix/bin/pythonX.Y: the same Python as a
                        * program (for pip); may not exist */
    char *site_rel; /* its site directory: "lib/python3/dist-packages"
                     * (Debian), "lib/python3.12/site-packages" */
    char *pth_name; /* NULL, or a .pth to add in site_rel (with pth_line,
                     * pth_mtime) that puts PK_SITE_DEST on sys.path: for
                     * a Python whose site.py does not (all but Debian's) */
    char *pth_line;
    time_t pth_mtime;
    pk_item stdlib; /* the standard library tree */
    pk_item *items; /* the packages' files and metadata */
    size_t nitems;
} pk_pyinfo;

/* Returns 0, or -1 after printing why (e.g. a package that is not found).
 * Starts the embedded Python (pyembed.h) if it is not running. */
int pk_pyinfo_query(pk_pyinfo *info, char **packages, int npackages);
void pk_pyinfo_free(pk_pyinfo *info);

#endif
