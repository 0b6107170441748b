/* python-mpi.c - an MPI-enabled Python interpreter that starts fast.
 *
 * 1. MPI_Init_thread with the real argc/argv, before anything else, so MPIs
 *    that read or strip arguments see them; Python gets what MPI leaves.
 * 2. If PYTHON_MPI_PACKAGES names bundles: rank 0 alone reads them from the
 *    shared file system and broadcasts them to one leader per node, which
 *    unpacks them into a private directory under PYTHON_MPI_CHROOT.
 * 3. Python starts with home = that directory (and PYTHONUSERBASE there),
 *    so no rank but 0 touches the shared file system for its imports.
 * 4. Python's exit status is ours.  A failing rank aborts the whole job so
 *    no other rank hangs in a collective; on success each leader removes
 *    its node's directory once every rank of the job is done (and so are
 *    the processes they spawned, which may run on any node's tree). */
#include "deliver.h"
#include "jobdir.h"
#include "log.h"
#include "mpi_util.h"
#include "pkglist.h"
#include "reaper.h"
#include "pyrun.h"
#include "settings.h"
#include "spawn_tree.h"
#include "stage.h"
#include "strutil.h"
#include "timing.h"
#include "topology.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* lib/pythonX.Y/os.py marks a standard library, as it does for Python's own
 * getpath; os.pyc in a sourceless bundle (pkgroot --pyc sourceless). */
static int has_os_module(const char *libdir)
{
    int found = 0;
    for (int i = 0; i < 2 && !found; i++) {
        char *os_py = pm_printf_alloc("%s/os.py%s", libdir, i ? "c" : "");
        struct stat st;
        found = os_py && stat(os_py, &st) == 0;
        free(os_py);
    }
    return found;
}

/* home = the unpacked tree only if it holds a standard library; bundles of
 * packages alone run on the system Python with their site directory added. */
static int has_stdlib(const char *dir)
{
    char *lib = pm_printf_alloc("%s/lib/python%d.%d", dir, PY_MAJOR_VERSION, PY_MINOR_VERSION);
    int ok = lib && has_os_module(lib);
    free(lib);
    return ok;
}

/* A tree that holds another Python's standard library (lib/python3.N/os.py
 * for N other than ours) would start, then fail inside Python in obscure
 * ways; say so before Python starts.  One readdir of a node-local dir. */
static int check_tree_python(const char *dir)
{
    if (has_stdlib(dir))
        return 0;
    char *lib = pm_path_join(dir, "lib");
    DIR *d = lib ? opendir(lib) : NULL;
    int bad = 0;
    for (struct dirent *e; d && !bad && (e = readdir(d));) {
        int major, minor, n = 0;
        if (sscanf(e->d_name, "python%d.%d%n", &major, &minor, &n) != 2 || e->d_name[n])
            continue;
        char *stdlib = pm_path_join(lib, e->d_name);
        if (stdlib && has_os_module(stdlib)) {
            pm_error(dir, "the bundles carry the standard library of Python %d.%d (lib/%s), but "
                     "python-mpi embeds Python %d.%d: make the runtime bundle with this "
                     "python-mpi's pkgroot", major, minor, e->d_name, PY_MAJOR_VERSION,
                     PY_MINOR_VERSION);
            bad = 1;
        }
        free(stdlib);
    }
    if (d)
        closedir(d);
    free(lib);
    return bad ? -1 : 0;
}

/* Environment for Python and for any process it starts (sys.executable
 * children, mpi4py spawns): they find the same node-local tree. */
static int export_env(const char *dir, int own_home)
{
    if (setenv("PYTHONUSERBASE", dir, 1) != 0 || setenv("PYTHON_MPI_HOME", dir, 1) != 0) {
        pm_error(NULL, "setenv failed");
        return -1;
    }
    if (!own_home) {
        char *site = pm_printf_alloc("%s/lib/python3/dist-packages", dir);
        const char *old = getenv("PYTHONPATH");
        char *path = site && old && *old ? pm_printf_alloc("%s:%s", site, old) : NULL;
        int rc = site ? setenv("PYTHONPATH", path ? path : site, 1) : -1;
        free(site);
        free(path);
        if (rc != 0) {
            pm_error(NULL, "setenv PYTHONPATH failed");
            return -1;
        }
    }
    return 0;
}

/* A process that a python-mpi rank started itself (subprocess or
 * multiprocessing with sys.executable) inherits the rank's PMI environment,
 * in which MPI_Init cannot succeed; it runs as plain Python on the parent's
 * tree instead, as python3 would.  Processes of MPI_Comm_spawn are started
 * by the process manager, not by the rank, so they still start MPI. */
static int is_child_of_rank(void)
{
    const char *parent = getenv("PYTHON_MPI_PARENT");
    if (!parent || !*parent)
        return 0;
    char *end;
    long pid = strtol(parent, &end, 10);
    return *end == '\0' && pid == (long)getppid();
}

static int mark_parent(void)
{
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    if (setenv("PYTHON_MPI_PARENT", pid, 1) != 0) {
        pm_error(NULL, "setenv PYTHON_MPI_PARENT failed");
        return -1;
    }
    return 0;
}

static int run_python(int argc, char **argv, const char *home, double *init_seconds)
{
    char *exe = pm_self_exe();
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    int rc = pm_python_configure(&config, argc, argv, home, exe);
    free(exe);
    if (rc != 0) {
        PyConfig_Clear(&config);
        return 1;
    }
    return pm_python_run(&config, init_seconds);
}

/* Collective set-up: returns 0 with stage->dir ready on every node, or 1
 * (the same on every rank) after the failing ranks printed why. */
static int stage_bundles(const pm_settings *cfg, const pm_topology *topo, pm_stage *stage,
                         pm_deliver_stats *st)
{
    pm_pkglist bundles;
    pm_pkglist_init(&bundles);
    char *err = NULL;
    /* Parsing is the same on every rank; only rank 0 speaks. */
    if (pm_pkglist_parse(&bundles, cfg->packages, cfg->pkgroot, 1, &err) != 0) {
        if (topo->rank == 0)
            pm_error(NULL, "PYTHON_MPI_PACKAGES: %s", err);
        free(err);
        pm_pkglist_free(&bundles);
        return 1;
    }
    /* Rank 0 alone looks at the shared file system. */
    int bad_root = 0;
    struct stat st_root;
    if (topo->rank == 0 && cfg->pkgroot) {
        if (stat(cfg->pkgroot, &st_root) != 0) {
            pm_error(cfg->pkgroot, "PYTHON_MPI_PKGROOT: %s", strerror(errno));
            bad_root = 1;
        } else if (!S_ISDIR(st_root.st_mode)) {
            pm_error(cfg->pkgroot, "PYTHON_MPI_PKGROOT: not a directory");
            bad_root = 1;
        }
    }
    if (pm_agree_failed(topo->world, bad_root) != 0) {
        pm_pkglist_free(&bundles);
        return 1;
    }
    /* In a batch job, bcast may have put these exact bundles on every node
     * already (its kept directory, named after the job): use them. */
    char *jobid = pm_batch_job_id();   /* the same on every rank */
    int cached = jobid && pm_stage_find_cached(stage, topo, cfg->chroot, jobid, &bundles);
    free(jobid);
    if (cached) {
        pm_info(1, "%zu bundle(s) already in %s on every node: nothing sent", bundles.n, stage->dir);
        pm_pkglist_free(&bundles);
        return 0;
    }
    if (pm_deliver_check(topo, &bundles) != 0 ||
        pm_stage_open(stage, topo, cfg->chroot, NULL, NULL) != 0) {
        pm_pkglist_free(&bundles);
        return 1;
    }
    int failed = pm_deliver(topo, &bundles, stage->dir, stage->fresh, cfg, st);
    size_t nbundles = bundles.n;
    pm_pkglist_free(&bundles);
    if (failed) {
        (void)pm_stage_discard(stage, topo);
        return 1;
    }
    pm_info(1, "%zu bundle(s), %llu bytes to %d node(s) in %.3f s (read %.3f, bcast %.3f, unpack %.3f) into %s",
            nbundles, (unsigned long long)st->bytes, topo->nnodes, st->t_total, st->t_read,
            st->t_bcast, st->t_unpack, stage->dir);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], PM_REAPER_FLAG) == 0)
        pm_reaper_main(argc, argv);
    const char *inherited = getenv("PYTHON_MPI_HOME");
    if (is_child_of_rank()) {
        pm_log_init("python-mpi");
        if (mark_parent() != 0)
            return 1;
        return run_python(argc, argv, inherited && *inherited && has_stdlib(inherited) ? inherited : NULL, NULL);
    }
    double t_start = pm_now();
    pm_timing timing;
    memset(&timing, 0, sizeof timing);
    pm_settings cfg;
    int rank;
    int rc = pm_begin("python-mpi", &argc, &argv, MPI_THREAD_MULTIPLE, &rank, &cfg);
    if (rc != 0)
        return rc;
    timing.t[PM_PHASE_MPI_INIT] = pm_now() - t_start;
    if (mark_parent() != 0)
        pm_abort(MPI_COMM_WORLD, 1);

    /* Spawned by a python-mpi rank (mpi4py.futures, MPI_Comm_spawn): run on
     * the parent's tree if every process of this new world can see it. */
    char *spawned = pm_spawn_take_tree(&argc, argv);
    if (spawned) {
        struct stat st;
        int missing = stat(spawned, &st) != 0 || !S_ISDIR(st.st_mode);
        if (pm_agree_failed(MPI_COMM_WORLD, missing) != 0) {
            pm_info(rank == 0, "%s is not on every node of the spawned processes: fetching the bundles", spawned);
            free(spawned);
            spawned = NULL;
        }
    }

    pm_topology topo;
    pm_stage stage;
    pm_stage_init(&stage);
    int staged = 0;
    const char *tree = NULL;   /* the node-local tree this process runs on */
    if (spawned) {
        tree = spawned;
    } else if (cfg.packages && !(inherited && *inherited)) {
        double t0 = pm_now();
        if (pm_topology_init(&topo, MPI_COMM_WORLD, cfg.by_hostname) != 0)
            pm_abort(MPI_COMM_WORLD, 1);
        pm_deliver_stats st;
        memset(&st, 0, sizeof st);
        if (stage_bundles(&cfg, &topo, &stage, &st) != 0) {
            pm_topology_free(&topo);
            MPI_Finalize();
            return 1;
        }
        staged = 1;
        tree = stage.dir;
        int wrong_python = topo.node_rank == 0 && check_tree_python(tree) != 0;   /* leaders say why */
        if (pm_agree_failed(MPI_COMM_WORLD, wrong_python) != 0) {
            (void)pm_stage_discard(&stage, &topo);
            pm_topology_free(&topo);
            MPI_Finalize();
            return 1;
        }
        timing.t[PM_PHASE_STAGE] = pm_now() - t0;
        timing.t[PM_PHASE_READ] = st.t_read;
        timing.t[PM_PHASE_BCAST] = st.t_bcast;
        timing.t[PM_PHASE_UNPACK] = st.t_unpack;
        timing.bytes = st.bytes;
        timing.nnodes = topo.nnodes;
    }

    const char *home = NULL;
    if (tree) {
        int own_home = has_stdlib(tree);
        if (export_env(tree, own_home) != 0)
            pm_abort(MPI_COMM_WORLD, 1);
        home = own_home ? tree : NULL;
    } else if (inherited && *inherited) {
        /* Started with PYTHON_MPI_HOME set (a job that ran bcast, or a
         * launcher that forwards a rank's environment): that tree belongs
         * to someone else and its environment is already in place. */
        tree = inherited;
        home = has_stdlib(inherited) ? inherited : NULL;
    }
    /* Only what we unpacked ourselves is ours to remove; spawned children
     * of this process run on it too. */
    if (pm_spawn_set_tree(tree) != 0)
        pm_abort(MPI_COMM_WORLD, 1);

    double t_run = pm_now();
    int status = run_python(argc, argv, home, &timing.t[PM_PHASE_PY_INIT]);
    timing.t[PM_PHASE_RUN] = pm_now() - t_run - timing.t[PM_PHASE_PY_INIT];
    double t_teardown = pm_now();
    free(spawned);

    int finalized = 0;
    if (MPI_Finalized(&finalized) != MPI_SUCCESS)
        finalized = 1;
    if (status != 0 && !finalized) {
        pm_error(NULL, "Python exited with status %d; aborting the job", status);
        pm_abort(MPI_COMM_WORLD, status);
    }
    if (staged) {
        if (finalized) {
            /* The program finalized MPI itself, so no barrier can tell when
             * the node's other ranks are done: the watcher removes the tree
             * once this process has exited. */
            pm_info(1, "MPI finalized by the program; %s goes when this rank exits", stage.dir);
        } else {
            /* Every rank of the world, not just of this node: processes
             * that a rank on another node spawned may run here, on this
             * node's tree, until their parent is done with them. */
            if (pm_polite_barrier(MPI_COMM_WORLD) == MPI_SUCCESS && pm_stage_remove(&stage, &topo) != 0)
                status = 1;
            pm_stage_free(&stage);
            pm_topology_free(&topo);
        }
    }
    timing.t[PM_PHASE_TEARDOWN] = pm_now() - t_teardown;
    timing.t[PM_PHASE_TOTAL] = pm_now() - t_start;
    if (cfg.timing != PM_TIMING_OFF) {
        if (finalized)
            pm_info(0, "PYTHON_MPI_TIMING: the program finalized MPI itself; no report");
        else if (pm_timing_report(&timing, MPI_COMM_WORLD, cfg.timing, cfg.timing_path) != 0 && status == 0)
            status = 1;
    }
    /* MPI_Finalize synchronises anyway; a barrier first lets transports
     * that still hold traffic in flight (UCX over TCP) complete it. */
    if (!finalized && (pm_polite_barrier(MPI_COMM_WORLD) != MPI_SUCCESS ||
                       pm_mpi_check(MPI_Finalize(), "MPI_Finalize")) && status == 0)
        status = 1;
    return status;
}
