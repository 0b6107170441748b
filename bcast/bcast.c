/* bcast.c - the standalone broadcaster for job scripts.
 *
 *   mpiexec -n N bcast [-v] [-t] [-p PREFIX] [-f LISTFILE] BUNDLE...
 *
 * Unpacks the bundles once into PREFIX on every node (default
 * CHROOT/python-mpi-UID/JOBID), for scripts that then run many programs
 * against it (see scripts/activate.sh).  Rank 0 alone reads the bundles and
 * the list file; the directory is kept for the programs that follow. */
#include "archive_read.h"
#include "cache.h"
#include "deliver.h"
#include "jobdir.h"
#include "log.h"
#include "say.h"
#include "mpi_util.h"
#include "pkglist.h"
#include "reaper.h"
#include "settings.h"
#include "stage.h"
#include "strutil.h"
#include "topology.h"
#include "trust.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef PYMPI_VERSION
#define PYMPI_VERSION "unknown"
#endif

static const char usage[] =
    "usage: bcast [-v] [-t] [-p PREFIX] [-f LISTFILE] BUNDLE...\n"
    "Broadcast bundles from rank 0 and unpack them into PREFIX on every node.\n"
    "  -p PREFIX    absolute directory to unpack into (created if missing);\n"
    "               default $PYTHON_MPI_CHROOT/python-mpi-UID/JOBID\n"
    "  -f LISTFILE  also read bundle paths from LISTFILE, one per line\n"
    "  -v           report progress (-vv: every rank)\n"
    "  -t           print per-phase timings (max over nodes)\n"
    "  -h, --help   this help;  --version  the version\n"
    "Relative bundle paths are taken from the working directory of rank 0.\n";

typedef struct options {
    int verbose, timings;
    const char *prefix, *listfile;
    char **names;
    int nnames;
} options;

/* 0 to run, 1 to exit 0 (help), -1 for a usage error. */
static int parse_args(int argc, char **argv, options *o)
{
    static const struct option longs[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+vtp:f:h", longs, NULL)) != -1) {
        switch (c) {
        case 'v': o->verbose++; break;
        case 't': o->timings = 1; break;
        case 'p': o->prefix = optarg; break;
        case 'f': o->listfile = optarg; break;
        case 'h': return 1;
        case 'V': return 2;
        default: return -1;
        }
    }
    o->names = argv + optind;
    o->nnames = argc - optind;
    return o->nnames > 0 || o->listfile ? 0 : -1;
}

/* Rank 0: every bundle path, one per line, for broadcasting. */
static char *collect_names(const options *o)
{
    size_t cap = 1;
    for (int i = 0; i < o->nnames; i++)
        cap += strlen(o->names[i]) + 1;
    char *list = NULL;
    size_t listlen = 0;
    if (o->listfile) {
        /* Not through a link another user planted in /tmp, not a FIFO, not
         * a file another user could have put there (archive_read.h). */
        int fd = pm_input_open_say(o->listfile, "list file", NULL);
        if (fd < 0)
            return NULL;
        FILE *f = fdopen(fd, "r");
        if (!f) {
            pm_error(o->listfile, "cannot open list file: %s", strerror(errno));
            close(fd);
            return NULL;
        }
        char *line = NULL;
        size_t n = 0;
        ssize_t len;
        FILE *mem = open_memstream(&list, &listlen);
        if (!mem) {
            pm_error(NULL, "out of memory");
            fclose(f);
            return NULL;
        }
        while ((len = getline(&line, &n, f)) > 0)
            fwrite(line, 1, (size_t)len, mem);
        int bad = ferror(f);
        free(line);
        fclose(f);
        fputc('\n', mem);
        if (fclose(mem) != 0 || bad) {
            pm_error(o->listfile, "cannot read list file");
            free(list);
            return NULL;
        }
        cap += listlen;
    }
    char *all = malloc(cap);
    if (!all) {
        free(list);
        pm_error(NULL, "out of memory");
        return NULL;
    }
    size_t off = 0;
    for (int i = 0; i < o->nnames; i++) {
        size_t l = strlen(o->names[i]);
        memcpy(all + off, o->names[i], l);
        off += l;
        all[off++] = '\n';
    }
    if (list)
        memcpy(all + off, list, listlen);
    off += list ? listlen : 0;
    all[off] = '\0';
    free(list);
    return all;
}

static void report_timings(const pm_topology *t, const pm_deliver_stats *st)
{
    double mine[4] = {st->t_read, st->t_bcast, st->t_unpack, st->t_total}, max[4];
    if (pm_mpi_check(MPI_Reduce(mine, max, 4, MPI_DOUBLE, MPI_MAX, 0, t->world),
                     "MPI_Reduce(timings)"))
        return;
    if (t->rank == 0)
        printf("bcast: %llu bytes to %d node(s): read %.3f s, broadcast %.3f s, "
               "unpack %.3f s, total %.3f s\n",
               (unsigned long long)st->bytes, t->nnodes, max[0], max[1], max[2], max[3]);
}

/* Did a delivery into dir begin (its marker is there, cache.h)? */
static int began(const char *dir)
{
    char *why = NULL;
    int fd = pm_trust_open(dir, PM_TRUST_MINE, NULL, NULL, &why);
    free(why);
    int marked = fd >= 0 && pm_cache_interrupted(fd) == 1;
    if (fd >= 0)
        close(fd);
    return marked;
}

static int run(const options *o, const pm_settings *cfg, const pm_topology *t)
{
    char *text = t->rank == 0 ? collect_names(o) : NULL;
    int failed = pm_agree_failed(t->world, t->rank == 0 && !text);
    if (failed) {
        free(text);
        return 1;
    }
    char *names = pm_bcast_string(t->world, t->rank, text);
    pm_pkglist bundles;
    pm_pkglist_init(&bundles);
    char *err = NULL;
    if (!names || pm_pkglist_parse_lines(&bundles, names, NULL, &err) != 0 || bundles.n == 0) {
        if (t->rank == 0)
            pm_error(o->listfile, "%s", err ? err : "no bundles given");
        free(err);
        free(names);
        pm_pkglist_free(&bundles);
        return 1;
    }
    free(names);

    /* Rank 0 reads through no link that another user planted (trust.h). */
    int refused = t->rank == 0 && pm_pkglist_resolve(&bundles, &err) != 0;
    if (refused) {
        pm_error(NULL, "%s", err ? err : "out of memory");
        free(err);
    }
    char *jobid = pm_batch_job_id();
    pm_stage stage;
    failed = pm_agree_failed(t->world, refused) || pm_deliver_check(t, &bundles, NULL, cfg->max_unpacked) ||
             pm_stage_open(&stage, t, cfg->chroot, o->prefix, jobid ? jobid : "interactive");
    free(jobid);
    if (failed) {
        pm_pkglist_free(&bundles);
        return 1;
    }
    pm_deliver_stats st;
    if (pm_cache_lookup(t, &bundles, stage.dir)) {
        /* Every node holds these exact bundles already: nothing to do. */
        pm_info(1, "%zu bundle(s) already in %s on every node: nothing sent", bundles.n, stage.dir);
        if (o->timings && t->rank == 0)
            printf("bcast: %zu bundle(s) already on all %d node(s): nothing sent\n", bundles.n, t->nnodes);
        pm_stage_free(&stage);
        pm_pkglist_free(&bundles);
        return 0;
    }
    failed = pm_deliver(t, &bundles, NULL, stage.dir, stage.fresh, cfg, &st);
    if (!failed)
        pm_info(1, "%zu bundle(s) unpacked into %s on %d node(s)", bundles.n, stage.dir, t->nnodes);
    if (!failed && o->timings)
        report_timings(t, &st);
    if (failed) {
        if (!stage.created && t->rank == 0 && began(stage.dir))
            pm_error(stage.dir, "may hold part of a bundle: it existed before this run, so it was not "
                     "removed; it is marked as interrupted: %s", o->prefix
                     ? "bcast refuses it until you remove it"
                     : "the next delivery into it empties it first");
        pm_stage_discard(&stage, t);
    } else {
        pm_stage_free(&stage);
    }
    pm_pkglist_free(&bundles);
    return failed;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], PM_REAPER_FLAG) == 0)
        pm_reaper_main(argc, argv);
    pm_settings cfg;
    int rank;
    int rc = pm_begin("bcast", &argc, &argv, MPI_THREAD_SINGLE, &rank, &cfg);
    if (rc != 0)
        return rc;

    options o;
    int p = parse_args(argc, argv, &o);
    if (p != 0) {
        if (rank == 0)
            fputs(p == 2 ? "bcast (python-mpi-bcast) " PYMPI_VERSION "\n" : usage,
                  p > 0 ? stdout : stderr);
        MPI_Finalize();
        return p > 0 ? 0 : 2;
    }
    if (o.verbose > cfg.verbose)
        pm_log_set_verbose(o.verbose);

    pm_topology topo;
    if (pm_topology_init(&topo, MPI_COMM_WORLD, cfg.by_hostname) != 0)
        pm_abort(MPI_COMM_WORLD, 1);
    int failed = run(&o, &cfg, &topo);
    /* Some transports (UCX over TCP) still hold broadcast traffic in flight
     * at MPI_Finalize and need their peers to keep progressing it. */
    if (pm_polite_barrier(MPI_COMM_WORLD) != MPI_SUCCESS)
        failed = 1;
    pm_topology_free(&topo);
    if (pm_mpi_check(MPI_Finalize(), "MPI_Finalize"))
        failed = 1;
    return failed ? 1 : 0;
}
