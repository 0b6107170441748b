/* settings.h - the environment variables shared by python-mpi and bcast,
 * read once at start-up into one struct.  Their names, defaults and
 * meanings are written once, in docs/environment.tsv (README's table and
 * the man pages are made from it: scripts/gen-env-docs.sh); a new or
 * changed variable goes there, not here. */
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
