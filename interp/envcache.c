/* envcache.c - PYTHON_MPI_ENV: rank 0 finds or makes the environment's
 * bundles in the cache, every rank gets their list (see envcache.h).
 * The parts: what to deliver (envplan.h), the state key (envkey.h), the
 * cache directory (envstore.h), the bundles made by pkgroot (envmake.h). */
#include "envcache.h"
#include "envfeed.h"
#include "envkey.h"
#include "envmake.h"
#include "envplan.h"
#include "envstore.h"
#include "err.h"
#include "jobdir.h"
#include "log.h"
#include "mpi_util.h"
#include "phases.h"
#include "strutil.h"

#include <Python.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_FORMAT "python-mpi-env 1"

/* States made by this job, committed or discarded by pm_env_commit. */
static struct pending {
    char *tmp, *state, *envdir, *keys, *root;
    unsigned states;   /* the caps at the time */
    uint64_t max;
} pending[2];
static size_t npending;

static void said_removed(const char *envdir, const char *name, void *ctx)
{
    (void)ctx;
    pm_info(1, "PYTHON_MPI_CACHE: removing the old state %s/%s", envdir, name);
}

void pm_env_commit(int rank, int delivered)
{
    size_t committed = npending;   /* one of them, if any: its cache and cap */
    for (size_t i = 0; rank == 0 && i < npending; i++) {
        struct pending *q = &pending[i];
        pm_err err = PM_ERR_INIT;
        /* Each bundle whole (its pkgroot exited 0) and every node's
         * hash of it checked: only then is the state kept. */
        int whole = pm_envfeed_finish(q->tmp);
        int rc = pm_envstore_commit(q->tmp, q->state, delivered && whole, &err);
        if (rc == 0) {   /* the count per environment; the bytes below */
            (void)pm_envstore_prune(q->envdir, q->keys, q->states, UINT64_MAX, said_removed, NULL);
            committed = i;
        } else if (rc < 0) {   /* the job ran; only the next one pays for this */
            pm_info(0, "%s", pm_err_text(&err));
        } else if (rc == 1) {
            pm_info(1, "PYTHON_MPI_ENV: %s was made by another job meanwhile", q->state);
        }
        if (!(delivered && whole))
            (void)rmdir(q->envdir);   /* made for this state alone: nothing half-made stays */
        pm_err_clear(&err);
    }
    /* The whole cache within PYTHON_MPI_CACHE_MAX, while this job still
     * holds its states (they stay). */
    if (committed < npending && pending[committed].root)
        (void)pm_envstore_prune_cache(pending[committed].root, pending[committed].max, said_removed, NULL);
    for (size_t i = 0; i < npending; i++) {
        struct pending *q = &pending[i];
        free(q->tmp);
        free(q->state);
        free(q->envdir);
        free(q->keys);
        free(q->root);
    }
    npending = 0;
    pm_envstore_release();   /* delivered: other jobs' prunes may take our states now */
}

/* The piece's key and its environment's id (hex, malloc'd), or -1 after
 * printing why. */
static int piece_key(const pm_envstore *s, const pm_envmaker_tool *m, const pm_envpiece *p, char **ids,
                     char **keys, pm_envkey_count *count)
{
    pm_envkey id, key;
    pm_envkey_init(&id);
    pm_envkey_init(&key);
    pm_envkey_str(&key, KEY_FORMAT);
    pm_envkey_str(&key, Py_GetVersion());
    pm_envkey_stat(&key, &m->pk_st);   /* another pkgroot, or python-mpi, may make other bundles */
    pm_envkey_stat(&key, &m->self_st);
    for (size_t i = 0; i < p->n; i++) {
        const pm_envitem *it = &p->items[i];
        /* The environment is what the user named: an editable install
         * added or gone is a new state of it, not another one. */
        if (it->kind != MK_EXT && it->kind != MK_PTH) {
            pm_envkey_str(&id, pm_envmaker_name[it->kind]);
            pm_envkey_str(&id, it->path);
        }
        pm_envkey_str(&key, pm_envmaker_name[it->kind]);
        /* The cheap check for the environment's own tree; source and
         * editable directories, edited in place, are always walked whole. */
        int dirs_only = s->check_dirs && (it->kind == MK_VENV || it->kind == MK_CONDA || it->kind == MK_PYTHON);
        pm_envkey_u64(&key, (uint64_t)dirs_only);
        pm_err err = PM_ERR_INIT;
        if (it->kind != MK_PTH &&
            pm_envkey_tree_excl(&key, it->path, (const char *const *)it->exclude, dirs_only, count, &err) != 0) {
            pm_err_print(&err);
            return -1;
        }
    }
    *ids = pm_envkey_hex(&id, 0);
    *keys = pm_envkey_hex(&key, 1);
    return 0;
}

/* One piece: its key, then its state found or made.  Appends its bundle
 * paths to *list. */
static int do_piece(const pm_envstore *s, const pm_envmaker_tool *m, pm_envpiece *p, const char *root,
                    char **list)
{
    pm_envkey_count count = {0, 0};
    char *ids = NULL, *keys = NULL;
    double t0 = pm_now();
    if (piece_key(s, m, p, &ids, &keys, &count) != 0)
        return -1;
    double t_key = pm_now() - t0;
    char *envdir = ids ? pm_path_join(s->root, ids) : NULL;
    char *state = envdir && keys ? pm_path_join(envdir, keys) : NULL;
    char *tmp = state ? pm_envstore_tmp_name(envdir, keys, pm_log_node(), (long)getpid()) : NULL;
    char *names = NULL, *statelist = NULL;
    pm_err err = PM_ERR_INIT;
    int rc = -1;
    if (!tmp) {
        pm_error(NULL, "out of memory");
        goto done;
    }
    if (!pm_envstore_mkdir(envdir, &err))
        goto done;
    int found = pm_envstore_read(state, list, &err);
    if (found < 0)
        goto done;
    if (found == 0) {
        pm_info(1, "PYTHON_MPI_ENV: %s %s: cached state %s (%llu entries checked in %.3f s, %llu stat)", p->what,
                p->items[0].path, state, (unsigned long long)count.entries, t_key,
                (unsigned long long)count.stats);
        rc = 0;
        goto done;
    }
    pm_info(1, "PYTHON_MPI_ENV: %s %s: making state %s (%llu entries checked in %.3f s, %llu stat)", p->what,
            p->items[0].path, state, (unsigned long long)count.entries, t_key,
            (unsigned long long)count.stats);
    if (mkdir(tmp, 0700) != 0) {
        pm_error(tmp, "PYTHON_MPI_CACHE: %s", strerror(errno));
        goto done;
    }
    char *bl = pm_path_join(tmp, "bundles");
    int made = bl && pm_envmaker_plan(m, p, tmp, root, &names) == 0 && names &&
               pm_envstore_write_new(bl, names, 0600, &err) == 0;
    free(bl);
    /* Made while delivered from the temporary directory (envfeed.h);
     * renamed into place once every node unpacked it (pm_env_commit). */
    if (made && npending < sizeof pending / sizeof pending[0] && pm_envstore_read(tmp, &statelist, &err) == 0) {
        char *more = pm_printf_alloc("%s%s", *list ? *list : "", statelist);
        free(*list);
        *list = more;
        if (more) {
            char *cache_root = strdup(s->root);
            pending[npending++] = (struct pending){tmp, state, envdir, keys, cache_root, s->states, s->max};
            tmp = state = envdir = keys = NULL;
            rc = cache_root ? 0 : -1;
        }
    }
    if (tmp) {
        (void)pm_envfeed_finish(tmp);
        (void)pm_rmtree(tmp, NULL);
    }
done:
    pm_err_print(&err);
    if (rc != 0 && envdir)
        (void)rmdir(envdir);   /* made for this state alone: nothing half-made stays */
    free(statelist);
    free(names);
    free(tmp);
    free(state);
    free(envdir);
    free(ids);
    free(keys);
    return rc;
}

/* Rank 0: the newline-separated bundle list, or NULL after saying why. */
static char *env_prepare(const char *spec)
{
    pm_envplan plan;
    pm_envstore store = {0};
    pm_envmaker_tool maker = {0};
    pm_err err = PM_ERR_INIT;
    char *list = NULL;
    int ok = pm_envplan_read(spec, &plan) == 0 && pm_envstore_open(&store, &err) == 0 &&
             pm_envplan_check_cache(&plan, store.root) == 0 && pm_envmaker_find(&maker) == 0 &&
             (!plan.rt.n || do_piece(&store, &maker, &plan.rt, plan.dir, &list) == 0) &&
             (!plan.env.n || do_piece(&store, &maker, &plan.env, plan.dir, &list) == 0);
    pm_err_print(&err);
    pm_envplan_free(&plan);
    pm_envstore_close(&store);
    free(maker.pkgroot);
    if (!ok) {
        free(list);
        return NULL;
    }
    return list;
}

int pm_env_bundles(const pm_topology *t, const char *spec, pm_pkglist *out)
{
    if (!spec || !*spec)
        return 0;
    char *list = NULL;
    int failed = 0;
    if (t->rank == 0) {
        list = env_prepare(spec);
        failed = list == NULL || !*list;
        if (!list)
            list = strdup("");
    }
    if (pm_agree_failed(t->world, failed) != 0) {
        free(list);
        return 1;
    }
    char *got = pm_bcast_string(t->world, t->rank, list);
    char *err = NULL;
    int bad = !got || pm_pkglist_parse_lines(out, got, NULL, &err) != 0;
    if (bad)
        pm_error(NULL, "PYTHON_MPI_ENV: %s", err ? err : "the bundle list did not arrive");
    free(err);
    if (got != list)
        free(got);
    free(list);
    return pm_agree_failed(t->world, bad) != 0;
}
