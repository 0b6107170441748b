/* python-mpi.c - an MPI-enabled Python interpreter that starts fast.
 *
 * 1. MPI_Init_thread with the real argc/argv, before anything else, so MPIs
 *    that read or strip arguments see them; Python gets what MPI leaves.
 * 2. If PYTHON_MPI_ENV names an environment, rank 0 finds or makes its
 *    bundles in the cache (interp/envcache.h); they go first, then those
 *    PYTHON_MPI_PACKAGES names: rank 0 alone reads them from the
 *    shared file system and broadcasts them to one leader per node, which
 *    unpacks them into a private directory under PYTHON_MPI_CHROOT.
 * 3. Python starts with home = that directory (and PYTHONUSERBASE there),
 *    so no rank but 0 touches the shared file system for its imports.
 * 4. Python's exit status is ours, however the program ends (sys.exit and
 *    every other SystemExit end inside Python: interp/rank_end.h).  A
 *    failing rank aborts the whole job so no other rank hangs in a
 *    collective; on success each leader removes its node's directory once
 *    every rank of the job is done, then MPI is finalized, once. */
#include "deliver.h"
#include "envcache.h"
#include "envfeed.h"
#include "jobdir.h"
#include "lineage.h"
#include "log.h"
#include "mpi_util.h"
#include "pkglist.h"
#include "reaper.h"
#include "pyrun.h"
#include "rank_end.h"
#include "signals.h"
#include "settings.h"
#include "spawn_tree.h"
#include "stage.h"
#include "strutil.h"
#include "timing.h"
#include "topology.h"
#include "trust.h"
#include "version.h"

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

static int run_python(int argc, char **argv, const char *home, double *init_seconds)
{
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    int rc = pm_python_configure(&config, argc, argv, home);
    if (rc != 0) {
        PyConfig_Clear(&config);
        return 1;
    }
    return pm_python_run(&config, init_seconds);
}

/* A descendant of a rank (lineage.h): plain Python on the rank's tree, no
 * MPI, as python3 would run there. */
static int run_as_child(int argc, char **argv)
{
    pm_log_init("python-mpi");
    /* The MPI library's load-time signal handlers go here too. */
    if (pm_signals_before_mpi() != 0)
        return 1;
    /* The rank's tree, if this is the rank's own program and the tree is
     * ours: a descendant that runs as another user (subprocess's user=)
     * cannot read the rank's private tree, and runs on the system Python
     * as python3 would. */
    const char *tree = getenv("PYTHON_MPI_HOME");
    const char *home = NULL;
    int same_file;
    int same_program = pm_lineage_same_program(&same_file);
    if (tree && *tree && (!same_program || (!same_file && pm_python_beside_stdlib(argv[0])))) {
        /* Another program (another python-mpi build), or a copy put into
         * a Python prefix of its own: the tree holds the rank's Python,
         * not necessarily its own.  (A copy in a venv runs on the tree.) */
        if (unsetenv("PYTHON_MPI_HOME") != 0 || unsetenv("PYTHONUSERBASE") != 0)
            return 1;
        tree = NULL;
    }
    if (tree && *tree) {
        char *why = NULL;
        int fd = pm_trust_open(tree, PM_TRUST_MINE, NULL, NULL, &why);
        if (fd >= 0) {
            close(fd);
            home = has_stdlib(tree) ? tree : NULL;
        } else {
            pm_info(2, "%s: not used: %s", tree, why ? why : "out of memory");
            if (unsetenv("PYTHON_MPI_HOME") != 0 || unsetenv("PYTHONUSERBASE") != 0)
                return 1;
        }
        free(why);
    }
    return run_python(argc, argv, home, NULL);
}

/* Collective set-up: returns 0 with stage->dir ready on every node, or 1
 * (the same on every rank) after the failing ranks printed why. */
static int stage_bundles(const pm_settings *cfg, const pm_topology *topo, pm_stage *stage,
                         pm_deliver_stats *st)
{
    pm_pkglist bundles;
    pm_pkglist_init(&bundles);
    char *err = NULL;
    if (pm_env_bundles(topo, getenv("PYTHON_MPI_ENV"), &bundles) != 0) {
        pm_pkglist_free(&bundles);
        return 1;
    }
    /* Parsing is the same on every rank; only rank 0 speaks. */
    if (cfg->packages && pm_pkglist_parse(&bundles, cfg->packages, cfg->pkgroot, 1, &err) != 0) {
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
    /* ... and follows no link that another user planted (trust.h). */
    if (topo->rank == 0 && !bad_root && pm_pkglist_resolve(&bundles, &err) != 0) {
        pm_error(NULL, "%s", err ? err : "out of memory");
        free(err);
        bad_root = 1;
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
    /* PYTHON_MPI_ENV's states not yet cached are made while sent. */
    const pm_feed *feed = pm_envfeed();
    if (pm_deliver_check(topo, &bundles, feed, cfg->max_unpacked) != 0 ||
        pm_stage_open(stage, topo, cfg->chroot, NULL, NULL) != 0) {
        pm_pkglist_free(&bundles);
        return 1;
    }
    int failed = pm_deliver(topo, &bundles, feed, stage->dir, stage->fresh, cfg, st);
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

/* The state of this rank that its end needs (see end_rank). */
typedef struct rank_state {
    pm_settings cfg;
    pm_topology topo;     /* valid when staged */
    pm_stage stage;
    int staged;           /* stage.dir was delivered or found by this run */
    char *spawned;        /* the parent's tree, for a spawned python-mpi */
    const char *home;     /* Python's home, NULL: Python's own rules */
    pm_timing timing;
    double t_start, t_run;
} rank_state;

/* 1. MPI first, with the real argv. */
static int start_mpi(rank_state *r, int *argc, char ***argv)
{
    r->t_start = pm_now();
    pm_stage_init(&r->stage);
    int rank;
    if (pm_signals_before_mpi() != 0)
        return 1;
    int rc = pm_begin("python-mpi", argc, argv, MPI_THREAD_MULTIPLE, &rank, &r->cfg);
    if (rc != 0)
        return rc;
    r->timing.t[PM_PHASE_MPI_INIT] = pm_now() - r->t_start;
    (void)pm_signals_after_mpi();
    if (pm_lineage_mark() != 0)
        pm_abort(MPI_COMM_WORLD, 1);

    /* Spawned by a python-mpi rank (mpi4py.futures, MPI_Comm_spawn): run on
     * the parent's tree if every process of this new world can see it. */
    r->spawned = pm_spawn_take_tree(argc, *argv);
    if (r->spawned) {
        struct stat st;
        int missing = stat(r->spawned, &st) != 0 || !S_ISDIR(st.st_mode);
        if (pm_agree_failed(MPI_COMM_WORLD, missing) != 0) {
            pm_info(rank == 0, "%s is not on every node of the spawned processes: fetching the bundles",
                    r->spawned);
            free(r->spawned);
            r->spawned = NULL;
        }
    }
    return 0;
}

/* 2. The node-local tree this rank runs on: its parent's (spawned), the
 * bundles delivered now, or one inherited from the environment.  Returns
 * 0, or 1 after a failure every rank agreed on (MPI finalized). */
static int prepare_tree(rank_state *r)
{
    /* An inherited tree is used only if it is ours (trust.h); a refusal
     * is this rank's own: the others may not have inherited the same. */
    const char *inherited;
    pm_err err = PM_ERR_INIT;
    if (pm_trust_env_dir("PYTHON_MPI_HOME", PM_TRUST_MINE, &inherited, &err) != 0) {
        pm_err_print(&err);
        pm_abort(MPI_COMM_WORLD, 1);
    }
    const char *tree = NULL;
    if (r->spawned) {
        tree = r->spawned;
    } else if ((r->cfg.packages || (getenv("PYTHON_MPI_ENV") && *getenv("PYTHON_MPI_ENV"))) && !inherited) {
        double t0 = pm_now();
        if (pm_topology_init(&r->topo, MPI_COMM_WORLD, r->cfg.by_hostname) != 0)
            pm_abort(MPI_COMM_WORLD, 1);
        pm_deliver_stats st;
        memset(&st, 0, sizeof st);
        if (stage_bundles(&r->cfg, &r->topo, &r->stage, &st) != 0) {
            pm_env_commit(r->topo.rank, 0);
            pm_topology_free(&r->topo);
            MPI_Finalize();
            return 1;
        }
        r->staged = 1;
        tree = r->stage.dir;
        int wrong_python = r->topo.node_rank == 0 && check_tree_python(tree) != 0;   /* leaders say why */
        int bad = pm_agree_failed(MPI_COMM_WORLD, wrong_python) != 0;
        pm_env_commit(r->topo.rank, !bad);   /* PYTHON_MPI_ENV: cache what every node unpacked */
        if (bad) {
            (void)pm_stage_discard(&r->stage, &r->topo);
            pm_topology_free(&r->topo);
            MPI_Finalize();
            return 1;
        }
        r->timing.t[PM_PHASE_STAGE] = pm_now() - t0;
        r->timing.t[PM_PHASE_READ] = st.t_read;
        r->timing.t[PM_PHASE_BCAST] = st.t_bcast;
        r->timing.t[PM_PHASE_UNPACK] = st.t_unpack;
        r->timing.bytes = st.bytes;
        r->timing.nnodes = r->topo.nnodes;
    }

    if (tree) {
        int own_home = has_stdlib(tree);
        if (export_env(tree, own_home) != 0)
            pm_abort(MPI_COMM_WORLD, 1);
        r->home = own_home ? tree : NULL;
    } else if (inherited) {
        /* Started with PYTHON_MPI_HOME set (a job that ran bcast, or a
         * launcher that forwards a rank's environment): that tree belongs
         * to someone else and its environment is already in place. */
        tree = inherited;
        r->home = has_stdlib(inherited) ? inherited : NULL;
    }
    /* Only what we unpacked ourselves is ours to remove; spawned children
     * of this process run on it too. */
    if (pm_spawn_set_tree(tree) != 0)
        pm_abort(MPI_COMM_WORLD, 1);
    return 0;
}

/* 4. The end of the rank, however the program ended (rank_end.h): a
 * failing rank aborts the whole job so that no other rank hangs in a
 * collective; on success each leader removes its node's tree once every
 * rank of the job is done (and so are the processes they spawned, which
 * may run on any node's tree), then MPI is finalized, once. */
static int end_rank(int status, enum pm_end_how how, void *ctx)
{
    rank_state *r = ctx;
    double t_teardown = pm_now();
    r->timing.t[PM_PHASE_RUN] = t_teardown - r->t_run - r->timing.t[PM_PHASE_PY_INIT];
    status &= 0xff;   /* what the process's status would be, as in python3 */

    int finalized = 0;
    if (MPI_Finalized(&finalized) != MPI_SUCCESS)
        finalized = 1;
    /* Alone in its world (no launcher, or -n 1) and not spawned, a failing
     * rank leaves nobody hanging: it ends as python3 does, without the
     * abort and its messages. */
    int size = 1;
    MPI_Comm parent = MPI_COMM_NULL;
    if (!finalized && (MPI_Comm_size(MPI_COMM_WORLD, &size) != MPI_SUCCESS ||
                       MPI_Comm_get_parent(&parent) != MPI_SUCCESS))
        size = 2;
    if (status != 0 && !finalized && (size > 1 || parent != MPI_COMM_NULL)) {
        if (how == PM_END_UNDERSCORE)
            pm_error(NULL, "the program called os._exit(%d); aborting the job", status);
        else
            pm_error(NULL, "Python exited with status %d%s; aborting the job", status,
                     how == PM_END_INTERRUPT ? " (KeyboardInterrupt)" : "");
        pm_abort(MPI_COMM_WORLD, status);
    }
    if (r->staged) {
        if (finalized) {
            /* The program finalized MPI itself, so no barrier can tell when
             * the node's other ranks are done: the watcher removes the tree
             * once this process has exited. */
            pm_info(1, "MPI finalized by the program; %s goes when this rank exits", r->stage.dir);
        } else {
            /* Every rank of the world, not just of this node: processes
             * that a rank on another node spawned may run here, on this
             * node's tree, until their parent is done with them. */
            if (pm_polite_barrier(MPI_COMM_WORLD) == MPI_SUCCESS && pm_stage_remove(&r->stage, &r->topo) != 0)
                status = 1;
            pm_stage_free(&r->stage);
            pm_topology_free(&r->topo);
        }
    }
    free(r->spawned);
    r->spawned = NULL;
    r->timing.t[PM_PHASE_TEARDOWN] = pm_now() - t_teardown;
    r->timing.t[PM_PHASE_TOTAL] = pm_now() - r->t_start;
    if (r->cfg.timing != PM_TIMING_OFF) {
        if (finalized)
            pm_info(0, "PYTHON_MPI_TIMING: the program finalized MPI itself; no report");
        else if (pm_timing_report(&r->timing, MPI_COMM_WORLD, r->cfg.timing, r->cfg.timing_path) != 0 &&
                 status == 0)
            status = 1;
    }
    /* MPI_Finalize synchronises anyway; a barrier first lets transports
     * that still hold traffic in flight (UCX over TCP) complete it. */
    if (!finalized && (pm_polite_barrier(MPI_COMM_WORLD) != MPI_SUCCESS ||
                       pm_mpi_check(MPI_Finalize(), "MPI_Finalize")) && status == 0)
        status = 1;
    return status;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], PM_REAPER_FLAG) == 0)
        pm_reaper_main(argc, argv);
    if (pm_version_requested(argc, argv))
        return pm_version_print();   /* no MPI_Init: version.h */
    if (pm_lineage_is_descendant())
        return run_as_child(argc, argv);

    static rank_state rank;   /* lives until the very end of the process */
    int rc = start_mpi(&rank, &argc, &argv);
    if (rc == 0)
        rc = prepare_tree(&rank);
    if (rc != 0)
        return rc;
    /* 3. Python, and from here on 4. whatever ends it ends here. */
    if (pm_rank_end_arm(end_rank, &rank) != 0)
        pm_abort(MPI_COMM_WORLD, 1);
    rank.t_run = pm_now();
    /* The end runs before exit(), so every exit handler (MPI's too) runs
     * after it and sees its status. */
    pm_rank_end_exit(run_python(argc, argv, rank.home, &rank.timing.t[PM_PHASE_PY_INIT]));
}
