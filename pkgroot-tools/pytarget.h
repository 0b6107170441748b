/* pytarget.h - the Python a bundle must match: the embedded libpython's
 * (the one pkgroot and python-mpi link), or the one a given python-mpi
 * binary embeds, asked by running it as plain Python (its mode for
 * children of a rank: no MPI_Init, so it works on a login node). */
#ifndef PK_PYTARGET_H
#define PK_PYTARGET_H

typedef struct pk_pytarget {
    char *version;          /* "3.11" */
    char *soabi;            /* "cpython-311-x86_64-linux-gnu" */
    char *cache_tag;        /* "cpython-311" */
    unsigned char magic[4]; /* importlib.util.MAGIC_NUMBER */
    char *what;             /* "the embedded libpython", or the binary's path */
} pk_pytarget;

/* python_mpi NULL: the embedded libpython.  0, or -1 after printing why. */
int pk_pytarget_get(pk_pytarget *t, const char *python_mpi);
void pk_pytarget_free(pk_pytarget *t);

#endif
