/* lineage.c - marking ranks and recognising their descendants (lineage.h). */
#include "lineage.h"
#include "log.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
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

/* Of those, the ones that make a process one rank of a job. */
static int is_rank_var(const char *entry)
{
    static const char *const rank_vars[] = {
        "PMI_RANK=", "PMIX_RANK=", "OMPI_COMM_WORLD_RANK=", "SLURM_PROCID=",
        "PALS_RANKID=", "ALPS_APP_PE=", "FLUX_TASK_RANK=", NULL,
    };
    for (const char *const *v = rank_vars; *v; v++)
        if (strncmp(entry, *v, strlen(*v)) == 0)
            return 1;
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

/* The main program's GNU build id (a copy of python-mpi has the same, any
 * other build another), from its notes in memory: no file is read. */
static int find_build_id(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    uint64_t *out = data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        const unsigned char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)(const void *)p;
            const unsigned char *name = p + sizeof *n;
            const unsigned char *desc = name + ((n->n_namesz + 3) & ~3u);
            const unsigned char *next = desc + ((n->n_descsz + 3) & ~3u);
            if (next > end)
                break;
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                *out = XXH3_64bits(desc, n->n_descsz);
                return 1;
            }
            p = next;
        }
    }
    return 1;   /* the first object is the main program: stop there */
}

/* This very file (a copy elsewhere is another). */
static uint64_t file_id(void)
{
    struct stat exe;
    if (stat("/proc/self/exe", &exe) != 0)
        return 0;
    return ((uint64_t)exe.st_dev << 40) ^ (uint64_t)exe.st_ino;
}

/* The build id; or, linked without one, file (this very file). */
static uint64_t program_id(uint64_t file)
{
    uint64_t id = 0;
    (void)dl_iterate_phdr(find_build_id, &id);
    return id ? id : file;
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
    id->file = file_id();
    id->program = program_id(id->file);
}

void pm_launch_id_format(const pm_launch_id *id, char *buf, size_t len)
{
    snprintf(buf, len, "%016" PRIx64 ".%" PRIx64 ".%" PRIx64 ".%" PRIx64, id->hash, id->pmi_socket,
             id->program, id->file);
}

/* "HASH.SOCKET.PROGRAM.FILE" into out; 0, or -1 if malformed. */
static int parse_mark(const char *mark, pm_launch_id *out)
{
    uint64_t *fields[] = {&out->hash, &out->pmi_socket, &out->program, &out->file};
    const char *s = mark;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        char *end;
        errno = 0;
        *fields[i] = strtoull(s, &end, 16);
        if (errno || end == s || *s == '-' || *s == '+' || *s == ' ' ||
            *end != (i + 1 < sizeof fields / sizeof fields[0] ? '.' : '\0'))
            return -1;
        s = end + 1;
    }
    return 0;
}

int pm_launch_id_matches(const char *mark, const pm_launch_id *id)
{
    pm_launch_id m;
    if (!mark || parse_mark(mark, &m) != 0)
        return 0;
    /* The socket decides only where this process holds PMI_FD open: a
     * descendant started with its descriptors closed has none. */
    return m.hash == id->hash && (id->pmi_socket == 0 || id->pmi_socket == m.pmi_socket);
}

int pm_lineage_same_program(int *same_file)
{
    pm_launch_id m, me;
    const char *mark = getenv(PM_LINEAGE_VAR);
    *same_file = 0;
    if (!mark || parse_mark(mark, &m) != 0)
        return 0;
    pm_launch_id_of(environ, &me);
    *same_file = m.file != 0 && m.file == me.file;
    return m.program != 0 && m.program == me.program;
}

int pm_lineage_mark(void)
{
    pm_launch_id id;
    pm_launch_id_of(environ, &id);
    char mark[80];
    pm_launch_id_format(&id, mark, sizeof mark);
    if (setenv(PM_LINEAGE_VAR, mark, 1) != 0) {
        pm_error(NULL, "setenv %s: %s", PM_LINEAGE_VAR, strerror(errno));
        return -1;
    }
    return 0;
}

static int has_launcher_vars(char *const *envp)
{
    for (char *const *e = envp; e && *e; e++)
        if (is_launcher_var(*e))
            return 1;
    return 0;
}

/* The parent of pid, from /proc/PID/stat (the field after the command,
 * which may itself hold spaces and parentheses); 0 if unknown. */
static pid_t parent_of(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *end = strrchr(buf, ')');
    long ppid = 0;
    if (!end || sscanf(end + 1, " %*c %ld", &ppid) != 1)
        return 0;
    return (pid_t)ppid;
}

/* Was pid started as one rank of a job (a rank variable in the
 * environment it was started with: /proc shows that one, not what setenv
 * added later)?  Only our own processes' environments can be read. */
static int is_launched_rank(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/environ", (long)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    char entry[64];   /* a rank variable and its value fit */
    size_t len = 0;
    int found = 0, c;
    while (!found && (c = getc(f)) != EOF) {
        if (c != '\0') {
            if (len < sizeof entry - 1)
                entry[len++] = (char)c;
            continue;
        }
        entry[len] = '\0';
        found = is_rank_var(entry);
        len = 0;
    }
    fclose(f);
    return found;
}

int pm_lineage_is_descendant(void)
{
    const char *mark = getenv(PM_LINEAGE_VAR);
    if (mark && *mark) {
        pm_launch_id id;
        pm_launch_id_of(environ, &id);
        return pm_launch_id_matches(mark, &id);
    }
    /* No mark: a descendant started with a cleared environment (env=,
     * env -i) lost it, and lost the launcher's variables too, which a
     * process manager's launch always has.  Then an ancestor that was
     * started as a rank (python-mpi or any MPI program) tells. */
    if (has_launcher_vars(environ))
        return 0;
    pid_t pid = getppid();
    for (int depth = 0; pid > 1 && depth < 64; depth++, pid = parent_of(pid))
        if (is_launched_rank(pid))
            return 1;
    return 0;
}
