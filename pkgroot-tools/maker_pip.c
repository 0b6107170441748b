/* maker_pip.c - `pkgroot pip OUT [-r FILE]... [--find-links DIR]... [SPEC|WHEEL|SDIST|DIR]...`:
 * packages installed offline by pip, run as a separate process with the
 * embedded Python's own interpreter, into a private temporary prefix that
 * is bundled and removed (also on failure and on SIGINT/SIGTERM). */
#include "cleanup.h"
#include "log.h"
#include "makers.h"
#include "pyembed.h"
#include "pyinfo.h"
#include "runprog.h"
#include "strutil.h"
#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The directories pip installed into, found by looking (Debian's pip puts
 * --prefix installs under local/lib/python3.X/dist-packages, others under
 * lib/python3.X/site-packages, purelib and platlib may differ). */
typedef struct found {
    char **sites, **bins;
    size_t nsites, nbins;
} found;

static int push(char ***list, size_t *n, char *s)
{
    char **l = realloc(*list, (*n + 1) * sizeof *l);
    if (!l) {
        free(s);
        return -1;
    }
    l[(*n)++] = s;
    *list = l;
    return 0;
}

static void found_free(found *f)
{
    for (size_t i = 0; i < f->nsites; i++)
        free(f->sites[i]);
    for (size_t i = 0; i < f->nbins; i++)
        free(f->bins[i]);
    free(f->sites);
    free(f->bins);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_dir(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *base_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Site directories below dir (a few levels: PREFIX[/local]/lib*\/pythonX.Y/
 * {site,dist}-packages), and each one's prefix's bin/. */
static int find_sites(const char *dir, int depth, found *f)
{
    struct dirent **list;
    int n = scandir(dir, &list, NULL, by_name);
    if (n < 0) {
        pm_error(dir, "cannot list: %s", strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *d = list[i]->d_name;
        char *p = rc == 0 && strcmp(d, ".") != 0 && strcmp(d, "..") != 0 ? pm_path_join(dir, d) : NULL;
        if (p && is_dir(p)) {
            if (strcmp(d, "site-packages") == 0 || strcmp(d, "dist-packages") == 0) {
                /* PREFIX/lib/pythonX.Y/SITE: PREFIX/bin holds the scripts. */
                char *bin = pm_printf_alloc("%s/../../../bin", p);
                char *real = bin ? realpath(bin, NULL) : NULL;
                int dup = 0;
                for (size_t b = 0; real && b < f->nbins; b++)
                    dup |= strcmp(f->bins[b], real) == 0;
                if (real && (dup || !is_dir(real))) {
                    free(real);
                    real = NULL;
                }
                if ((real && push(&f->bins, &f->nbins, real) != 0) || push(&f->sites, &f->nsites, p) != 0)
                    rc = -1;
                p = NULL;
                free(bin);
            } else if (depth < 6 && rc == 0) {
                rc = find_sites(p, depth + 1, f);
            }
        }
        free(p);
        free(list[i]);
    }
    free(list);
    return rc;
}

/* Anything installed outside the site and bin directories (share/,
 * include/, etc/): not bundled; counted for -v. */
typedef struct others_ctx {
    const found *f;
    pk_exclude *x;
} others_ctx;

static int bundled_dir(const char *dir, const found *f)
{
    for (size_t i = 0; i < f->nsites; i++)
        if (strcmp(dir, f->sites[i]) == 0)
            return 1;
    for (size_t i = 0; i < f->nbins; i++)
        if (strcmp(dir, f->bins[i]) == 0)
            return 1;
    return 0;
}

static int note_other(const char *path, const struct stat *st, void *ctx)
{
    others_ctx *c = ctx;
    if (S_ISDIR(st->st_mode))
        return bundled_dir(path, c->f) ? PM_WALK_SKIP : 0;
    pk_exclude_note(c->x, PK_EX_OTHER, path, st);
    return 0;
}

static void note_others(const char *dir, const found *f, pk_exclude *x)
{
    others_ctx c = {f, x};
    if (!bundled_dir(dir, f))
        pm_walk(dir, note_other, &c);   /* what cannot be read is not counted */
}

static char *trimmed(char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    return line;
}

/* Why pip's stderr is read at all: success and failure are pip's exit
 * status (what pip offers programs), and what pip installed is found by
 * looking in the prefix; but pip has no machine-readable account of a
 * failure (`--report` describes a resolution that succeeded, and is not
 * written when one fails), so the one line quoted to the user comes from
 * its human-readable stderr. A line not found degrades to the last line.
 *
 * pip's one line: its first "ERROR:" line; else its "× what failed"
 * summary with the last line the failing subprocess printed (a build
 * error's own message); else its first "error:" line; else its last. */
static char *pip_error_line(const char *log)
{
    FILE *fp = fopen(log, "re");
    if (!fp)
        return NULL;
    char *line = NULL, *last = NULL, *error = NULL, *cross = NULL, *output = NULL, *lower = NULL;
    size_t cap = 0;
    ssize_t len;
    int in_output = 0, outputs = 0;
    static const char times[] = "\xc3\x97 "; /* U+00D7, pip's marker for a failure */
    while ((len = getline(&line, &cap, fp)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
            line[--len] = '\0';
        char *t = trimmed(line);
        if (!*t)
            continue;
        if (!error && strncmp(t, "ERROR:", 6) == 0)
            error = strdup(t);
        else if (!lower && strncmp(t, "error:", 6) == 0)
            lower = strdup(t);
        else if (!cross && strncmp(t, times, sizeof times - 1) == 0)
            cross = strdup(t + sizeof times - 1);
        if (strstr(t, "lines of output]")) {
            in_output = 1;
            outputs++;
        } else if (strcmp(t, "[end of output]") == 0) {
            in_output = 0;
        } else if (in_output && outputs == 1) {
            free(output);
            output = strdup(t);
        }
        free(last);
        last = strdup(t);
    }
    free(line);
    fclose(fp);
    char *msg = NULL;
    if (error)
        msg = strdup(error);
    else if (cross && output)
        msg = pm_printf_alloc("%s %s", cross, output);
    else if (cross)
        msg = strdup(cross);
    else if (lower)
        msg = strdup(lower);
    else if (last)
        msg = strdup(last);
    free(error);
    free(cross);
    free(output);
    free(lower);
    free(last);
    return msg;
}

/* arg as pip would find it from our working directory, where pip runs in
 * the private temporary directory instead (pk_run_in): a relative path made
 * absolute against cwd; path 0 (a SPEC) only when pip would take it as a
 * path (a '/', a leading '.', or an existing file: a wheel or sdist), never
 * a URL or a "NAME @ URL".  malloc'd, NULL if out of memory. */
static char *abs_arg(const char *cwd, const char *arg, int path)
{
    struct stat st;
    int rel = arg[0] != '/' && arg[0] != '\0' &&
              (path || (!strstr(arg, "://") && !strchr(arg, '@') &&
                        (arg[0] == '.' || strchr(arg, '/') || (stat(arg, &st) == 0 && S_ISREG(st.st_mode)))));
    return rel ? pm_path_join(cwd, arg) : strdup(arg);
}

static int run_pip(const pk_pyinfo *info, const pk_make_opts *o, char **specs, int nspecs,
                   const char *tmp, const char *prefix)
{
    int rc = -1;
    char *tmpdir = pm_path_join(tmp, "tmp");
    char *log = pm_path_join(tmp, "pip-stderr.txt");
    char *tmpvar = tmpdir ? pm_printf_alloc("TMPDIR=%s", tmpdir) : NULL;
    size_t max = 20 + 2 * (size_t)o->nlinks + 2 * (size_t)o->nreqs + (size_t)nspecs;
    char **argv = calloc(max, sizeof *argv);
    char **owned = calloc(max, sizeof *owned);   /* argv's made here */
    size_t nowned = 0;
    char *cwd = getcwd(NULL, 0);
    char **env = NULL;
    int fd = -1;
    if (!cwd) {
        pm_error(NULL, "cannot find the working directory: %s", strerror(errno));
        goto done;
    }
    if (!tmpdir || !log || !tmpvar || !argv || !owned) {
        pm_error(NULL, "out of memory");
        goto done;
    }
    if (mkdir(tmpdir, 0700) != 0) {
        pm_error(tmpdir, "cannot create: %s", strerror(errno));
        goto done;
    }
    /* pip's temporary build directories go inside ours (TMPDIR), so they
     * go with it whatever ends pip; PYTHON* variables (another Python's
     * PYTHONPATH, PYTHONHOME) must not reach it or its build backends. */
    static const char *const drop[] = {"PYTHON", "PIP_", "TMPDIR=", NULL};
    const char *set[] = {tmpvar, "PYTHONNOUSERSITE=1", NULL};
    env = pk_env_build(drop, set);
    fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (!env || fd < 0) {
        pm_error(log, "cannot prepare: %s", env ? strerror(errno) : "out of memory");
        goto done;
    }
    size_t k = 0;
    /* Offline by construction: --no-index, so only files and --find-links
     * directories are looked at; --no-build-isolation because an isolated
     * sdist build would fetch setuptools from an index; --isolated: no
     * pip.conf, no PIP_* variables; --no-compile: the .pyc files pip
     * writes name the temporary prefix (co_filename). */
    const char *fixed[] = {
        /* -I: neither the working directory nor the user's site nor
         * PYTHON* variables on sys.path (3.8 and later: sys.path[0] is
         * skipped for -m too); pip runs in our private directory anyway. */
        info->interpreter, "-I", "-m", "pip", "install", "--isolated", "--disable-pip-version-check",
        "--no-input", "--no-cache-dir", "--no-index", "--no-build-isolation",
        "--no-warn-script-location", "--ignore-installed", "--no-compile", "--prefix", prefix,
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        argv[k++] = (char *)fixed[i];
    for (int i = 0; i < o->nlinks + o->nreqs + nspecs; i++) {
        const char *arg = i < o->nlinks ? o->links[i] : i < o->nlinks + o->nreqs ? o->reqs[i - o->nlinks]
                        : specs[i - o->nlinks - o->nreqs];
        if (i < o->nlinks + o->nreqs)
            argv[k++] = i < o->nlinks ? "--find-links" : "--requirement";
        if (!(argv[k++] = owned[nowned++] = abs_arg(cwd, arg, i < o->nlinks + o->nreqs))) {
            pm_error(NULL, "out of memory");
            goto done;
        }
    }
    argv[k] = NULL;
    if (o->verbose && fflush(stdout) != 0) {
        pm_error(NULL, "stdout: %s", strerror(errno));
        goto done;
    }
    int status = pk_run_in(tmp, argv, env, o->verbose ? 1 : -1, fd, NULL);
    if (status < 0)
        goto done;
    if (status != 0) {
        char *line = pip_error_line(log);
        if (status > 128)
            pm_error(NULL, "pip was killed by signal %d: %s", status - 128, line ? line : "(no message)");
        else
            pm_error(NULL, "pip exited with status %d: %s", status, line ? line : "(no message)");
        free(line);
        goto done;
    }
    rc = 0;
done:
    if (fd >= 0)
        close(fd);
    pk_env_free(env);
    for (size_t i = 0; owned && i < nowned; i++)
        free(owned[i]);
    free(owned);
    free(cwd);
    free(argv);
    free(tmpvar);
    free(log);
    free(tmpdir);
    return rc;
}

/* A private directory under $TMPDIR (or /tmp), registered for removal on
 * a signal before anything is written into it. */
static char *make_tmp(void)
{
    const char *base = getenv("TMPDIR");
    char *tmpl = pm_printf_alloc("%s/pkgroot-pip.XXXXXX", base && *base ? base : "/tmp");
    if (!tmpl) {
        pm_error(NULL, "out of memory");
        return NULL;
    }
    pk_cleanup_hold();
    char *dir = mkdtemp(tmpl);
    if (dir)
        pk_cleanup_dir(dir);
    pk_cleanup_release();
    if (!dir) {
        pm_error(tmpl, "cannot create a temporary directory: %s", strerror(errno));
        free(tmpl);
    }
    return dir;
}

static int bundle(pk_writer *w, const char *tmp, const found *f, pk_make_opts *o)
{
    int ok = pk_writer_forbid(w, tmp, "pip's temporary install prefix") == 0;
    for (size_t i = 0; ok && i < f->nsites; i++)
        ok = pk_add_site(w, f->sites[i], o, 0) == 0;
    for (size_t i = 0; ok && i < f->nbins; i++)
        ok = pk_add_bin(w, f->bins[i], o, NULL, NULL) == 0;
    return ok ? 0 : -1;
}

int pk_cmd_pip(char **args, int k, pk_make_opts *o)
{
    int rc = 1;
    char *tmp = NULL, *prefix = NULL;
    found f = {0};
    pk_pyinfo info = {0};
    pk_writer *w = NULL;
    if (k < 2 && o->nreqs == 0) {   /* nothing to install */
        rc = 2;
        goto done;
    }
    const char *out = args[0];
    if (pk_writer_check_suffix(out) != 0 || pk_pyinfo_query(&info, NULL, 0) != 0 || pk_py_finish() != 0)
        goto done;
    /* The embedded Python as a program: the same version and ABI as the
     * libpython python-mpi links (a python3 on PATH may be another). */
    if (access(info.interpreter, X_OK) != 0) {
        pm_error(info.interpreter, "cannot run pip with the embedded Python's interpreter: %s",
                 strerror(errno));
        goto done;
    }
    /* OUT first: one that cannot be written fails now, not after pip. */
    if (!(w = pk_writer_open(out, o->verbose)) || !(tmp = make_tmp()))
        goto done;
    if (!(prefix = pm_path_join(tmp, "prefix"))) {
        pm_error(NULL, "out of memory");
        goto done;
    }
    if (run_pip(&info, o, args + 1, k - 1, tmp, prefix) != 0)
        goto done;
    if (!is_dir(prefix) || find_sites(prefix, 0, &f) != 0)
        goto done;
    if (f.nsites == 0) {
        pm_error(NULL, "pip installed no packages (no site-packages or dist-packages under %s)", prefix);
        goto done;
    }
    for (size_t i = 0; i < f.nsites; i++) {
        const char *ver = base_of(f.sites[i]) - 1;  /* ".../pythonX.Y/SITE" */
        while (ver > f.sites[i] && ver[-1] != '/')
            ver--;
        if (strncmp(ver, "python", 6) == 0 && strncmp(ver + 6, info.version, strlen(info.version)) != 0) {
            pm_error(f.sites[i], "pip installed for another Python than the embedded %s", info.version);
            goto done;
        }
    }
    note_others(prefix, &f, &o->x);
    if (bundle(w, tmp, &f, o) != 0)
        goto done;
    rc = 0;
done:
    /* The temporary directory goes first: if it cannot, OUT does not
     * appear either (nothing is left half-done). */
    if (tmp) {
        if (pk_remove_tree(tmp) != 0) {
            pm_error(tmp, "cannot remove the temporary directory: %s", strerror(errno));
            rc = 1;
        }
        pk_cleanup_dir(NULL);
    }
    if (w && pk_writer_close(w, rc == 0) != 0)
        rc = 1;
    if (rc == 0 && o->verbose && pk_exclude_summary(&o->x) != 0)
        rc = 1;
    found_free(&f);
    free(prefix);
    free(tmp);
    pk_pyinfo_free(&info);
    return rc;
}
