/* settings.h - the environment variables shared by python-mpi and bcast.
 *
 *   PYTHON_MPI_PKGROOT     directory relative bundle names are found in
 *   PYTHON_MPI_PACKAGES    colon-separated bundles (python-mpi only)
 *   PYTHON_MPI_CHROOT      node-local directory to unpack under (/dev/shm)
 *   PYTHON_MPI_VERBOSE     0, 1 (rank 0 reports phases), 2 (every rank)
 *   PYTHON_MPI_CHUNK       broadcast chunk size, e.g. 4M (default)
 *   PYTHON_MPI_NODE_GROUPING  "shared" (MPI-3 split_type, default) or
 *                          "hostname" (the MPI-1/2 fallback, forced)
 *   PYTHON_MPI_TIMING      1|text, json or json:PATH (see phases.h)
 *   PYTHON_MPI_MAX_UNPACKED  the most one bundle may unpack to, e.g. 8G
 *                          (default: the node-local file system's size)
 *   PYTHON_MPI_MAX_ENTRIES the most entries a node's delivery may create
 *                          (default: half the file system's free inodes)
 *   PYTHON_MPI_UNPACKERS   ranks per node that unpack parts bundles: a
 *                          number, or auto (default: the node's online
 *                          CPUs; see unpackers.h) */
#ifndef PM_SETTINGS_H
#define PM_SETTINGS_H

#include <stddef.h>

#include "phases.h"

/* More unpackers than this on one node is surely a typo. */
#define PM_UNPACKERS_MAX 4096

typedef struct pm_settings {
    const char *pkgroot;    /* NULL if unset; points into the environment */
    const char *packages;   /* NULL if unset */
    const char *chroot;
    int verbose;
    size_t chunk;
    int by_hostname;
    enum pm_timing_mode timing;
    const char *timing_path;   /* json:PATH, or NULL for stderr */
    size_t max_unpacked;       /* 0: the default (unpack.h) */
    size_t max_entries;        /* 0: the default (unpack.h) */
    int unpackers;          /* PYTHON_MPI_UNPACKERS; 0: auto */
} pm_settings;

/* Returns 0, or -1 with *err set to a malloc'd reason naming the variable. */
int pm_settings_load(pm_settings *s, char **err);

#endif
