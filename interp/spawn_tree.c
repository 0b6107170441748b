/* spawn_tree.c - MPI_Comm_spawn children of python-mpi run on their parent's
 * node-local tree instead of fetching the bundles again.
 *
 * Spawned processes are started by the process manager, not by the rank,
 * so they inherit neither its environment nor anything else we could use
 * to find the tree (mpi4py.futures.MPIPoolExecutor spawns sys.executable,
 * i.e. python-mpi, with PYTHON_MPI_PACKAGES still set by the launcher).
 * What does reach them is argv, which is portable across MPIs: these
 * wrappers (profiling interface; the executable exports them so that
 * mpi4py's calls land here) put `--python-mpi-tree=NAME` first in the
 * arguments of children that are python-mpi itself.  NAME is the run's
 * name, not a path: the child looks for it only in its own (same user's)
 * CHROOT/python-mpi-UID and checks it like any inherited tree (trust.h:
 * the per-user directory ours and 0700, the tree ours, no symbolic link),
 * so a name seen in ps gives another user nothing to claim.  A tree that is
 * not directly in the per-user directory is not passed on.  The child
 * takes the flag out again before Python sees its arguments.  Children of
 * other programs get their arguments untouched. */
#include "spawn_tree.h"

#include "jobdir.h"
#include "log.h"
#include "strutil.h"
#include "trust.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tree;   /* the run name of this process's tree, or NULL */

int pm_spawn_set_tree(const char *dir)
{
    free(tree);
    tree = NULL;
    if (!dir)
        return 0;
    char *userdir = pm_userdir_from_env();
    size_t ul = userdir ? strlen(userdir) : 0;
    const char *name = userdir && strncmp(dir, userdir, ul) == 0 && dir[ul] == '/' ? dir + ul + 1 : NULL;
    if (name && *name && name[0] != '.' && !strchr(name, '/') && !(tree = strdup(name))) {
        pm_error(NULL, "out of memory");
        free(userdir);
        return -1;
    }
    free(userdir);
    return 0;
}

/* Is command this very executable?  Same file, not the same spelling. */
static int is_python_mpi(const char *command)
{
    struct stat a, b;
    return command && strchr(command, '/') && stat(command, &a) == 0 &&
           stat("/proc/self/exe", &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* argv with the tree flag first: a malloc'd array (strings borrowed except
 * the flag, which is *flag).  NULL when no change is due or on failure
 * (*failed set). */
static char **with_tree_flag(const char *command, char **argv, char **flag, int *failed)
{
    *flag = NULL;
    *failed = 0;
    if (!tree || !is_python_mpi(command))
        return NULL;
    size_t n = 0;
    if (argv != MPI_ARGV_NULL)
        while (argv[n])
            n++;
    char **out = calloc(n + 2, sizeof *out);
    *flag = pm_printf_alloc("%s%s", PM_SPAWN_FLAG, tree);
    if (!out || !*flag) {
        free(out);
        free(*flag);
        *flag = NULL;
        *failed = 1;
        return NULL;
    }
    out[0] = *flag;
    for (size_t i = 0; i < n; i++)
        out[i + 1] = argv[i];
    return out;
}

static int is_root(int root, MPI_Comm comm)
{
    int rank;
    return PMPI_Comm_rank(comm, &rank) == MPI_SUCCESS && rank == root;
}

int MPI_Comm_spawn(const char *command, char *argv[], int maxprocs, MPI_Info info,
                   int root, MPI_Comm comm, MPI_Comm *intercomm, int array_of_errcodes[])
{
    char *flag = NULL;
    char **args = NULL;
    int failed = 0;
    /* command and argv mean something at the root only. */
    if (is_root(root, comm))
        args = with_tree_flag(command, argv, &flag, &failed);
    if (failed)
        pm_error(command, "cannot pass the node-local tree to spawned processes: out of memory");
    int rc = PMPI_Comm_spawn(command, args ? args : argv, maxprocs, info, root, comm,
                             intercomm, array_of_errcodes);
    free(args);
    free(flag);
    return rc;
}

int MPI_Comm_spawn_multiple(int count, char *array_of_commands[], char **array_of_argv[],
                            const int array_of_maxprocs[], const MPI_Info array_of_info[],
                            int root, MPI_Comm comm, MPI_Comm *intercomm,
                            int array_of_errcodes[])
{
    int ours = 0;
    if (tree && count > 0 && is_root(root, comm))
        for (int i = 0; i < count; i++)
            ours |= is_python_mpi(array_of_commands[i]);
    char ***use = array_of_argv;
    char ***merged = NULL;
    char **flags = NULL;   /* flags[i] != NULL: merged[i] is ours to free */
    if (ours) {
        merged = calloc((size_t)count, sizeof *merged);
        flags = calloc((size_t)count, sizeof *flags);
        if (!merged || !flags) {
            pm_error(NULL, "cannot pass the node-local tree to spawned processes: out of memory");
        } else {
            for (int i = 0; i < count; i++) {
                char **orig = array_of_argv == MPI_ARGVS_NULL ? MPI_ARGV_NULL : array_of_argv[i];
                int failed;
                char **args = with_tree_flag(array_of_commands[i], orig, &flags[i], &failed);
                if (failed)
                    pm_error(array_of_commands[i], "cannot pass the node-local tree to spawned processes: out of memory");
                merged[i] = args ? args : orig;
            }
            use = merged;
        }
    }
    int rc = PMPI_Comm_spawn_multiple(count, array_of_commands, use, array_of_maxprocs,
                                      array_of_info, root, comm, intercomm, array_of_errcodes);
    for (int i = 0; merged && flags && i < count; i++) {
        if (flags[i]) {
            free(merged[i]);
            free(flags[i]);
        }
    }
    free(merged);
    free(flags);
    return rc;
}

char *pm_spawn_take_tree(int *argc, char **argv)
{
    if (*argc < 2 || strncmp(argv[1], PM_SPAWN_FLAG, strlen(PM_SPAWN_FLAG)) != 0)
        return NULL;
    MPI_Comm parent = MPI_COMM_NULL;
    if (MPI_Comm_get_parent(&parent) != MPI_SUCCESS || parent == MPI_COMM_NULL)
        return NULL;   /* not spawned: the flag is the user's, leave it */
    const char *name = argv[1] + strlen(PM_SPAWN_FLAG);
    char *userdir = pm_userdir_from_env();
    char *dir = NULL;
    if (*name && name[0] != '.' && !strchr(name, '/') && userdir)
        dir = pm_path_join(userdir, name);
    memmove(&argv[1], &argv[2], (size_t)(*argc - 1) * sizeof *argv);   /* moves the NULL too */
    (*argc)--;
    /* Ours and private, every directory above trusted: else the child
     * fetches the bundles itself.  A tree missing from our own private
     * directory is the ordinary case of a node the parent never ran on:
     * its path is returned (the caller finds it missing). */
    char *why = NULL;
    int ufd = userdir ? pm_trust_open(userdir, PM_TRUST_MINE | PM_TRUST_PRIVATE, NULL, NULL, &why) : -1;
    int uerr = errno;
    int tfd = ufd >= 0 && dir ? pm_trust_open(dir, PM_TRUST_MINE, NULL, NULL, &why) : -1;
    int terr = errno;
    if (tfd < 0 && !(ufd >= 0 && dir && terr == ENOENT)) {
        if (!(ufd < 0 && uerr == ENOENT))
            pm_error(dir ? dir : name, "refusing the parent's tree: %s", why ? why : "not a run name");
        /* Every spawned process must still answer the caller's agreement,
         * so not NULL: "" names no directory. */
        free(dir);
        dir = strdup("");
    }
    if (ufd >= 0)
        close(ufd);
    if (tfd >= 0)
        close(tfd);
    free(why);
    free(userdir);
    return dir;
}
