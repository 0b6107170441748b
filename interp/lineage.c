/* lineage.c - marking ranks and recognising their descendants (lineage.h). */
#include "lineage.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

extern char **environ;

/* Variables that process managers set per launch: a name ending in '_' is
 * a prefix.  User settings (UCX_*, OMPI_MCA_* tuning) are left out, so a
 * program that changes them does not change its children's identity. */
static const char *const launcher_vars[] = {
    "PMI_", "PMIX_NAMESPACE", "PMIX_RANK", "PMIX_SERVER_URI",
    "OMPI_COMM_WORLD_", "OMPI_MCA_orte_hnp_uri", "OMPI_MCA_ess_base_jobid",
    "HYDI_CONTROL_FD", "MPI_LOCALRANKID", "MPI_LOCALNRANKS",
    "SLURM_JOB_ID", "SLURM_STEP_ID", "SLURM_PROCID",
    "PALS_RANKID", "PALS_APID", "ALPS_APP_PE", "ALPS_APP_ID",
    "FLUX_JOB_ID", "FLUX_TASK_RANK", NULL,
};

static int is_launcher_var(const char *entry)
{
    const char *eq = strchr(entry, '=');
    if (!eq)
        return 0;
    size_t name_len = (size_t)(eq - entry);
    for (const char *const *v = launcher_vars; *v; v++) {
        size_t n = strlen(*v);
        int prefix = (*v)[n - 1] == '_' || strcmp(*v, "PMIX_SERVER_URI") == 0;
        if (prefix ? name_len >= n && strncmp(entry, *v, n) == 0
                   : name_len == n && strncmp(entry, *v, n) == 0)
            return 1;
    }
    return 0;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint64_t pmi_socket_inode(void)
{
    const char *fd = getenv("PMI_FD");
    if (!fd || !*fd)
        return 0;
    char *end;
    errno = 0;
    long n = strtol(fd, &end, 10);
    struct stat st;
    if (errno || *end || n < 0 || n > 1 << 20 || fstat((int)n, &st) != 0 || !S_ISSOCK(st.st_mode))
        return 0;
    return (uint64_t)st.st_ino;
}

void pm_launch_id_of(char *const *envp, pm_launch_id *id)
{
    size_t n = 0, cap = 0;
    const char **vars = NULL;
    for (char *const *e = envp; e && *e; e++) {
        if (!is_launcher_var(*e))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            const char **grown = realloc(vars, ncap * sizeof *vars);
            if (!grown)
                break;   /* a partial identity only makes a mismatch: MPI is started */
            vars = grown;
            cap = ncap;
        }
        vars[n++] = *e;
    }
    if (n)
        qsort(vars, n, sizeof *vars, by_string);   /* the order of environ is not inherited */
    XXH3_state_t *st = XXH3_createState();
    id->hash = 0;
    if (st && XXH3_64bits_reset(st) == XXH_OK) {
        for (size_t i = 0; i < n; i++)
            if (XXH3_64bits_update(st, vars[i], strlen(vars[i]) + 1) != XXH_OK)
                break;
        id->hash = XXH3_64bits_digest(st);
    }
    XXH3_freeState(st);
    free(vars);
    id->pmi_socket = pmi_socket_inode();
}

void pm_launch_id_format(const pm_launch_id *id, char *buf, size_t len)
{
    snprintf(buf, len, "%016" PRIx64 ".%" PRIx64, id->hash, id->pmi_socket);
}

int pm_launch_id_matches(const char *mark, const pm_launch_id *id)
{
    if (!mark)
        return 0;
    char *end;
    errno = 0;
    uint64_t hash = strtoull(mark, &end, 16);
    if (errno || end == mark || *end != '.')
        return 0;
    const char *s = end + 1;
    uint64_t sock = strtoull(s, &end, 16);
    if (errno || end == s || *end)
        return 0;
    /* The socket decides only where this process holds PMI_FD open: a
     * descendant started with its descriptors closed has none. */
    return hash == id->hash && (id->pmi_socket == 0 || id->pmi_socket == sock);
}

int pm_lineage_mark(void)
{
    pm_launch_id id;
    pm_launch_id_of(environ, &id);
    char mark[48];
    pm_launch_id_format(&id, mark, sizeof mark);
    if (setenv(PM_LINEAGE_VAR, mark, 1) != 0) {
        pm_error(NULL, "setenv %s: %s", PM_LINEAGE_VAR, strerror(errno));
        return -1;
    }
    return 0;
}

int pm_lineage_is_descendant(void)
{
    const char *mark = getenv(PM_LINEAGE_VAR);
    if (!mark || !*mark)
        return 0;
    pm_launch_id id;
    pm_launch_id_of(environ, &id);
    return pm_launch_id_matches(mark, &id);
}
