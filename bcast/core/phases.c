/* phases.c - the PYTHON_MPI_TIMING setting, the report's text, writing
 * it to a file, and the clock (see phases.h). */
#include "phases.h"

#include "fileio.h"
#include "strutil.h"
#include "trust.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const phase_name[PM_NPHASES] = {
    "mpi_init", "stage", "read", "bcast", "unpack", "python_init", "run", "teardown", "total",
};

int pm_timing_parse(const char *value, enum pm_timing_mode *mode, const char **path)
{
    *mode = PM_TIMING_OFF;
    *path = NULL;
    if (!value || !*value || strcmp(value, "0") == 0)
        return 0;
    if (strcmp(value, "1") == 0 || strcmp(value, "text") == 0) {
        *mode = PM_TIMING_TEXT;
        return 0;
    }
    if (strcmp(value, "json") == 0) {
        *mode = PM_TIMING_JSON;
        return 0;
    }
    if (strncmp(value, "json:", 5) == 0 && value[5]) {
        *mode = PM_TIMING_JSON;
        *path = value + 5;
        return 0;
    }
    return -1;
}

/* Appends to a growing string; on failure frees it and returns NULL. */
static char *append(char *s, const char *piece)
{
    if (!s || !piece) {
        free(s);
        return NULL;
    }
    char *out = pm_printf_alloc("%s%s", s, piece);
    free(s);
    return out;
}

char *pm_timing_format(const double *min, const double *max, int nranks, int nnodes,
                       uint64_t bytes, enum pm_timing_mode mode)
{
    char *s;
    if (mode == PM_TIMING_JSON) {
        s = pm_printf_alloc("{\"python_mpi_timing\": 1, \"ranks\": %d, \"nodes\": %d, \"bytes\": %llu, \"phases\": {",
                            nranks, nnodes, (unsigned long long)bytes);
        for (int i = 0; i < PM_NPHASES; i++) {
            char *p = pm_printf_alloc("%s\"%s\": {\"min\": %.6f, \"max\": %.6f}",
                                      i ? ", " : "", phase_name[i], min[i], max[i]);
            s = append(s, p);
            free(p);
        }
        return append(s, "}}\n");
    }
    s = nnodes > 0
        ? pm_printf_alloc("timing: %d rank(s) on %d node(s), %llu bundle bytes; seconds, min .. max over ranks\n",
                          nranks, nnodes, (unsigned long long)bytes)
        : pm_printf_alloc("timing: %d rank(s), no bundles; seconds, min .. max over ranks\n", nranks);
    for (int i = 0; i < PM_NPHASES; i++) {
        int sub = i == PM_PHASE_READ || i == PM_PHASE_BCAST || i == PM_PHASE_UNPACK;
        char *p = pm_printf_alloc("timing:   %s%-*s %9.3f .. %9.3f\n", sub ? "  " : "",
                                  sub ? 10 : 12, phase_name[i], min[i], max[i]);
        s = append(s, p);
        free(p);
    }
    return s;
}

/* PATH appears complete or not at all: a new temporary file in PATH's
 * directory (mkstemp: O_CREAT|O_EXCL with a random name, so a name or link
 * planted there by somebody else is never opened), then rename.  Its mode
 * is what the umask gives (0644 under 022, 0600 under 077), as for any
 * file the user creates. */
int pm_timing_write(const char *path, const char *text, pm_err *e)
{
    /* PATH's directory resolved under the sticky-directory rule (trust.h):
     * not into a directory another user's link in /tmp leads to. */
    int refused;
    char *why;
    char *final = pm_trust_realpath_parent(path, &refused, &why);
    if (!final && refused)
        pm_err_set(e, path, "PYTHON_MPI_TIMING: refusing to write: %s", why);
    free(why);
    if (!final && refused)
        return -1;
    const char *slash = final ? strrchr(final, '/') : NULL;
    char *tmp = !final ? NULL
                : slash ? pm_printf_alloc("%.*s/.%s.XXXXXX", (int)(slash - final), final, slash + 1)
                        : pm_printf_alloc(".%s.XXXXXX", final);
    if (!tmp || !final) {
        free(tmp);
        free(final);
        pm_err_set(e, path, "PYTHON_MPI_TIMING: out of memory");
        return -1;
    }
    int fd = mkostemp(tmp, O_CLOEXEC);
    int rc = -1, made = fd >= 0;
    if (fd < 0) {
        pm_err_set(e, path, "PYTHON_MPI_TIMING: cannot create: %s", strerror(errno));
    } else if (fchmod(fd, pm_umask_mode(0666)) != 0 || pm_write_full(fd, text, strlen(text)) != 0) {
        pm_err_set(e, path, "PYTHON_MPI_TIMING: cannot write: %s", strerror(errno));
    } else if (close(fd) != 0) {
        fd = -1;
        pm_err_set(e, path, "PYTHON_MPI_TIMING: cannot write: %s", strerror(errno));
    } else if ((fd = -1, rename(tmp, final) != 0)) {
        pm_err_set(e, path, "PYTHON_MPI_TIMING: cannot rename into place: %s", strerror(errno));
    } else {
        rc = 0;
    }
    if (fd >= 0)
        close(fd);
    if (rc != 0 && made)
        unlink(tmp);
    free(tmp);
    free(final);
    return rc;
}

double pm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
