/* maker_conda.c - `pkgroot conda OUT PREFIX`: a conda environment,
 * relocatable as conda-pack makes it.  A prefix with the embedded Python's
 * standard library is a runtime bundle and keeps its layout (its site.py
 * uses lib/pythonX.Y/site-packages); without one, lib/pythonX.Y/
 * site-packages moves to the bundle's site directory.  Files that carry
 * the prefix (as the package records declare, and as a scan of every file
 * finds) are listed in the bundle's relocation manifest (manifest_writer.h);
 * scripts' shebangs into the prefix become "#!/usr/bin/env NAME". */
#include "condameta.h"
#include "log.h"
#include "makers.h"
#include "manifest_writer.h"
#include "pyembed.h"
#include "pyinfo.h"
#include "scan.h"
#include "shebang.h"
#include "strutil.h"
#include "unpack.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct conda_ctx {
    pk_make_opts *o;
    const char *prefix;      /* absolute, as the environment's files carry it */
    const char *rel_base;    /* the tree being added, below the prefix ("" = all) */
    int runtime;             /* the prefix holds the standard library */
    char *pydir, *sitedir;   /* lib/pythonX.Y and its site-packages, or NULL */
    pk_condameta meta;
    pk_manifest man;
    size_t undeclared;       /* binary files holding the prefix no record declares */
    char *first_undeclared;
} conda_ctx;

/* path below dir: "" if path is dir, the rest if inside, else NULL. */
static const char *under(const char *path, const char *dir)
{
    size_t n = dir ? strlen(dir) : 0;
    if (!dir || strncmp(path, dir, n) != 0 || (path[n] != '\0' && path[n] != '/'))
        return NULL;
    return path[n] ? path + n + 1 : path + n;
}

/* Does the file (or its rewritten contents) carry the prefix?  Lists it in
 * the manifest if so: as its record declares it, else text when it holds
 * no NUL byte.  An undeclared binary file is left as it is (conda-pack
 * does the same: a NUL-padded rewrite of bytes nobody said were a C
 * string could break the file); counted for a warning. */
static int relocation(conda_ctx *c, pk_entry *e, const char *prel)
{
    int found, has_nul;
    if (e->data) {
        found = memmem(e->data, e->len, c->prefix, strlen(c->prefix)) != NULL;
        has_nul = memchr(e->data, '\0', e->len) != NULL;
    } else if (pk_scan_file(e->src, c->prefix, &found, &has_nul) != 0) {
        return -1;
    }
    if (!found)
        return 0;
    const pk_declared *d = pk_condameta_find(&c->meta, prel);
    if (!d && has_nul) {
        if (c->undeclared++ == 0 && !(c->first_undeclared = strdup(e->name))) {
            pm_error(NULL, "out of memory");
            return -1;
        }
        return 0;
    }
    /* Bytecode made now would keep the old prefix, and unchecked pycs are
     * never compared with the rewritten source: a module that carries the
     * prefix (_sysconfigdata, generated configs) goes as source. */
    e->source_only = 1;
    return pk_manifest_add(&c->man, e->name, d ? d->binary : 0);
}

static int conda_entry(void *ctx, pk_entry *e)
{
    conda_ctx *c = ctx;
    pk_make_opts *o = c->o;
    char *prel = *c->rel_base ? pm_path_join(c->rel_base, e->rel) : strdup(e->rel);
    if (!prel) {
        pm_error(NULL, "out of memory");
        return -1;
    }
    const char *base = strrchr(e->rel, '/');
    base = base ? base + 1 : e->rel;
    int is_dir = S_ISDIR(e->st->st_mode), rc = PK_ADD;
    pk_ex_kind kind = PK_EX_NONE;
    if (!*c->rel_base) {
        if (strcmp(prel, "conda-meta") == 0 && !o->keep_conda_meta)
            kind = PK_EX_CONDA;
        else if ((strcmp(prel, "pkgs") == 0 || strcmp(prel, "conda-bld") == 0) && !o->x.keep_caches)
            kind = PK_EX_CACHE;
        else if (strcmp(prel, "envs") == 0)
            kind = PK_EX_CONDA;   /* other environments, with prefixes of their own */
        else if (strcmp(prel, "include") == 0 && !o->keep_include)
            kind = PK_EX_INCLUDE;
        else if (!c->runtime && c->pydir && strcmp(prel, c->pydir) == 0) {
            free(prel);
            return PK_SKIP;       /* its site-packages is added on its own */
        }
    }
    const char *in_site = c->runtime ? under(prel, c->sitedir) : NULL;
    if (in_site && strcmp(in_site, PK_SITE_PTH) == 0) {
        free(prel);
        return PK_SKIP;           /* ours is written instead (pk_cmd_conda) */
    }
    if (kind == PK_EX_NONE && !is_dir && pm_ends_with(base, ".a") && !o->keep_static)
        kind = PK_EX_STATIC;
    const char *pkg_rel = NULL, *sub;
    if ((sub = under(prel, c->sitedir)) && *sub) {
        pkg_rel = sub;
    } else if (c->runtime && (sub = under(prel, c->pydir)) && *sub) {
        if (kind == PK_EX_NONE && !o->full_stdlib && pk_stdlib_trimmed(sub))
            kind = PK_EX_STDLIB;
        pkg_rel = sub;
    }
    if (kind == PK_EX_NONE)
        kind = pk_exclude_kind(&o->x, base, is_dir, pkg_rel, *c->rel_base ? NULL : prel);
    if (kind != PK_EX_NONE) {
        pk_exclude_note(&o->x, kind, e->src, e->st);
        free(prel);
        return PK_SKIP;
    }
    /* A link the writer stores as the file it points to (absolute, or
     * leading out of the tree) is scanned as that file. */
    int copied = S_ISREG(e->st->st_mode);
    if (S_ISLNK(e->st->st_mode)) {
        char *target = pm_readlink(e->src);
        struct stat st;
        copied = target && pm_path_is_contained(e->rel, target) != 0 && stat(e->src, &st) == 0 &&
                 S_ISREG(st.st_mode);
        free(target);
    }
    if (copied) {
        if (S_ISREG(e->st->st_mode) && (sub = under(prel, "bin")) && *sub &&
            pk_shebang_rewrite(e->src, e->st, c->prefix, &e->data, &e->len) < 0)
            rc = -1;
        else if (relocation(c, e, prel) != 0)
            rc = -1;
    }
    free(prel);
    return rc;
}

/* The prefix as an absolute path without ".", ".." or doubled slashes
 * (the string conda wrote into the files: symbolic links are not
 * resolved).  malloc'd or NULL. */
static char *absolute(const char *p)
{
    char *cwd = p[0] == '/' ? NULL : getcwd(NULL, 0);
    if (p[0] != '/' && !cwd)
        return NULL;
    char *joined = cwd ? pm_path_join(cwd, p) : strdup(p);
    free(cwd);
    char *out = joined ? malloc(strlen(joined) + 2) : NULL;
    if (!out) {
        free(joined);
        return NULL;
    }
    size_t n = 0;
    for (const char *s = joined; *s;) {
        size_t len = strcspn(s, "/");
        if (len == 2 && s[0] == '.' && s[1] == '.') {
            while (n > 0 && out[--n] != '/')
                ;
        } else if (len > 0 && !(len == 1 && s[0] == '.')) {
            out[n++] = '/';
            memcpy(out + n, s, len);
            n += len;
        }
        s += len;
        while (*s == '/')
            s++;
    }
    if (n == 0)
        out[n++] = '/';
    out[n] = '\0';
    free(joined);
    return out;
}

static int exists(const char *dir, const char *a, const char *b, int want_dir)
{
    char *p = pm_printf_alloc("%s/%s/%s", dir, a, b);
    struct stat st;
    int ok = p && stat(p, &st) == 0 && (want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
    free(p);
    return ok;
}

/* Which Python the prefix is for: sets c->runtime, c->pydir, c->sitedir
 * (both NULL: no Python at all).  -1 after printing why (another version). */
static int find_python(conda_ctx *c, const char *prefix, const char *version)
{
    char *lib = pm_path_join(prefix, "lib");
    char *want = pm_printf_alloc("python%s", version);
    if (!lib || !want) {
        free(lib);
        free(want);
        pm_error(NULL, "out of memory");
        return -1;
    }
    int rc = 0;
    if (exists(lib, want, "os.py", 0) || exists(lib, want, "site-packages", 1)) {
        c->runtime = exists(lib, want, "os.py", 0);
        c->pydir = pm_printf_alloc("lib/%s", want);
        c->sitedir = pm_printf_alloc("lib/%s/site-packages", want);
        if (!c->pydir || !c->sitedir) {
            pm_error(NULL, "out of memory");
            rc = -1;
        }
    } else {
        /* Any other lib/python3.N with a stdlib or packages is a mismatch. */
        DIR *d = opendir(lib);
        for (struct dirent *e; d && rc == 0 && (e = readdir(d));) {
            unsigned major, minor;
            int used = 0;
            if (sscanf(e->d_name, "python%u.%u%n", &major, &minor, &used) != 2 || e->d_name[used])
                continue;
            int stdlib = exists(lib, e->d_name, "os.py", 0);
            if (stdlib || exists(lib, e->d_name, "site-packages", 1)) {
                pm_error(prefix, "holds %s of Python %u.%u (lib/%s), but python-mpi embeds Python %s",
                         stdlib ? "the standard library" : "packages", major, minor, e->d_name, version);
                rc = -1;
            }
        }
        if (d)
            closedir(d);
    }
    free(lib);
    free(want);
    return rc;
}

static int summary(const conda_ctx *c)
{
    if (pk_exclude_summary(&c->o->x) != 0)
        return -1;
    const pk_condameta *m = &c->meta;
    int n = printf("relocation: %zu text and %zu binary files carry %s; %zu package records: "
                   "%zu with paths_data, has_prefix: %s; neither (scan only): %s\n",
                   c->man.ntext, c->man.nbinary, c->prefix, m->npackages, m->n_paths_data,
                   *m->has_prefix ? m->has_prefix : "none", *m->unknown ? m->unknown : "none");
    if (n < 0 || fflush(stdout) != 0) {
        pm_error(NULL, "stdout: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int pk_cmd_conda(char **args, int n, pk_make_opts *o)
{
    (void)n;
    int rc = 1, have_meta = 0, have_man = 0;
    char *prefix = NULL, *meta_dir = NULL, *name = NULL, *site_src = NULL, *mpath = NULL;
    pk_pyinfo info = {0};
    conda_ctx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    const char *out = args[0], *arg = args[1];
    struct stat st, meta_st;
    if (pk_writer_check_suffix(out) != 0)
        goto done;
    if (stat(arg, &st) != 0) {
        pm_error(arg, "not a conda prefix: %s", strerror(errno));
        goto done;
    }
    prefix = absolute(arg);
    meta_dir = prefix ? pm_path_join(prefix, "conda-meta") : NULL;
    name = pk_bundle_stem(out);
    if (!meta_dir || !name) {
        pm_error(NULL, "out of memory");
        goto done;
    }
    if (!S_ISDIR(st.st_mode) || stat(meta_dir, &meta_st) != 0 || !S_ISDIR(meta_st.st_mode)) {
        pm_error(arg, "not a conda prefix (no conda-meta/)");
        goto done;
    }
    if (!*name) {
        pm_error(out, "the bundle needs a name before its suffix (it names the relocation manifest)");
        goto done;
    }
    c.prefix = prefix;
    c.rel_base = "";
    if (pk_pyinfo_query(&info, NULL, 0) != 0 || find_python(&c, prefix, info.version) != 0)
        goto done;
    if (pk_condameta_read(prefix, &c.meta) != 0)
        goto done;
    have_meta = 1;
    if (pk_py_finish() != 0)
        goto done;
    if (pk_manifest_init(&c.man, prefix) != 0)
        goto done;
    have_man = 1;
    mpath = pm_printf_alloc("%s/%s", PM_MANIFEST_DIR, name);
    site_src = c.sitedir ? pm_path_join(prefix, c.sitedir) : NULL;
    if (!mpath || (c.sitedir && !site_src)) {
        pm_error(NULL, "out of memory");
        goto done;
    }
    pk_writer *w = pk_writer_open(out, o->verbose);
    int ok = w && pk_writer_add_tree_with(w, prefix, "", NULL, conda_entry, &c) == 0;
    if (ok && !c.runtime && site_src && stat(site_src, &st) == 0) {
        c.rel_base = c.sitedir;
        ok = pk_writer_add_tree_with(w, site_src, PK_SITE_DEST, NULL, conda_entry, &c) == 0;
    }
    /* conda's site.py searches lib/pythonX.Y/site-packages only: the .pth
     * puts other bundles' packages (PK_SITE_DEST) on sys.path too. */
    if (ok && c.runtime) {
        static const char line[] = "../../python3/dist-packages\n";  /* from lib/pythonX.Y/site-packages */
        char *pth = pm_path_join(c.sitedir, PK_SITE_PTH);
        ok = pth && pk_writer_add_data(w, pth, line, sizeof line - 1, 0644, meta_st.st_mtime) == 0;
        if (!pth)
            pm_error(NULL, "out of memory");
        free(pth);
    }
    /* Written last: only now is every file that carries the prefix known. */
    if (ok)
        ok = pk_writer_add_data(w, mpath, c.man.buf, c.man.len, 0644, meta_st.st_mtime) == 0;
    int crc = w ? pk_writer_close(w, ok) : -1;
    if (!ok || crc != 0)
        goto done;
    rc = 0;
    if (c.undeclared)
        pm_error(prefix, "warning: %zu binary file(s) carry the prefix but no package record "
                 "declares them: left as they are, not relocated (first: %s)",
                 c.undeclared, c.first_undeclared);
    if (o->verbose && summary(&c) != 0)
        rc = 1;
done:
    if (have_meta)
        pk_condameta_free(&c.meta);
    if (have_man)
        pk_manifest_free(&c.man);
    free(c.pydir);
    free(c.sitedir);
    free(c.first_undeclared);
    free(prefix);
    free(meta_dir);
    free(name);
    free(site_src);
    free(mpath);
    pk_pyinfo_free(&info);
    return rc;
}
