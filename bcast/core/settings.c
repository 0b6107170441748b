/* settings.c - reading and validating the PYTHON_MPI_* variables. */
#include "settings.h"
#include "chunk.h"
#include "strutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

int pm_settings_load(pm_settings *s, char **err)
{
    *err = NULL;
    memset(s, 0, sizeof *s);
    s->pkgroot = nonempty("PYTHON_MPI_PKGROOT");
    s->packages = nonempty("PYTHON_MPI_PACKAGES");
    s->chroot = nonempty("PYTHON_MPI_CHROOT");
    if (!s->chroot)
        s->chroot = "/dev/shm";
    s->chunk = PM_CHUNK_DEFAULT;

    const char *v = nonempty("PYTHON_MPI_VERBOSE");
    if (v) {
        char *end;
        long l = strtol(v, &end, 10);
        if (*end || l < 0 || l > 9) {
            *err = pm_printf_alloc("PYTHON_MPI_VERBOSE='%s': expected 0, 1 or 2", v);
            return -1;
        }
        s->verbose = (int)l;
    }
    v = nonempty("PYTHON_MPI_CHUNK");
    if (v && (pm_parse_size(v, PM_CHUNK_MAX, &s->chunk) != 0 || s->chunk < 4096)) {
        *err = pm_printf_alloc("PYTHON_MPI_CHUNK='%s': expected a size from 4K to 1G", v);
        return -1;
    }
    v = nonempty("PYTHON_MPI_MAX_UNPACKED");
    if (v && pm_parse_size(v, (size_t)-1, &s->max_unpacked) != 0) {
        *err = pm_printf_alloc("PYTHON_MPI_MAX_UNPACKED='%s': expected a size such as 512M or 16G", v);
        return -1;
    }
    v = nonempty("PYTHON_MPI_MAX_ENTRIES");
    if (v && pm_parse_size(v, (size_t)-1, &s->max_entries) != 0) {
        *err = pm_printf_alloc("PYTHON_MPI_MAX_ENTRIES='%s': expected a number of entries such as 100000 or 1M", v);
        return -1;
    }
    v = nonempty("PYTHON_MPI_NODE_GROUPING");
    if (v) {
        if (strcmp(v, "hostname") == 0)
            s->by_hostname = 1;
        else if (strcmp(v, "shared") != 0) {
            *err = pm_printf_alloc("PYTHON_MPI_NODE_GROUPING='%s': expected shared or hostname", v);
            return -1;
        }
    }
    v = nonempty("PYTHON_MPI_TIMING");
    if (pm_timing_parse(v, &s->timing, &s->timing_path) != 0) {
        *err = pm_printf_alloc("PYTHON_MPI_TIMING='%s': expected 0, 1, text, json or json:PATH", v);
        return -1;
    }
    v = nonempty("PYTHON_MPI_UNPACKERS");
    if (v && strcmp(v, "auto") != 0) {
        char *end;
        errno = 0;
        long l = strtol(v, &end, 10);
        if (*end || errno || l < 1 || l > PM_UNPACKERS_MAX || !(*v >= '0' && *v <= '9')) {
            *err = pm_printf_alloc("PYTHON_MPI_UNPACKERS='%s': expected auto or a number of ranks from 1 to %d",
                                   v, PM_UNPACKERS_MAX);
            return -1;
        }
        s->unpackers = (int)l;
    }
    return 0;
}
