/* maker_venv.c - `pkgroot venv OUT VENVDIR`: a virtual environment's
 * packages (its site-packages, at the bundle's site directory) and its
 * scripts, for the same Python version as the embedded one; the venv's own
 * interpreter links, activate scripts and, unless --keep-installers,
 * pip/setuptools/wheel stay out. */
#include "fileio.h"
#include "log.h"
#include "makers.h"
#include "pyembed.h"
#include "pyinfo.h"
#include "strutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The X.Y of pyvenv.cfg's "version" (venv) or "version_info"
 * (virtualenv): malloc'd; NULL after printing why. */
static char *venv_version(const char *venv)
{
    char *cfg = pm_path_join(venv, "pyvenv.cfg");
    if (!cfg) {
        pm_error(NULL, "out of memory");
        return NULL;
    }
    int fd = pm_open_regular_at(AT_FDCWD, cfg, 0, NULL);   /* never blocks on a FIFO */
    FILE *fp = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!fp) {
        if (fd >= 0)
            close(fd);
        if (errno == ENOENT)
            pm_error(venv, "not a virtual environment (no pyvenv.cfg)");
        else
            pm_error(cfg, "cannot read: %s", strerror(errno));
        free(cfg);
        return NULL;
    }
    char *line = NULL, *ver = NULL;
    size_t cap = 0;
    while (!ver && getline(&line, &cap, fp) >= 0) {
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        size_t klen = strcspn(p, " \t=");
        if (!((klen == 7 && strncmp(p, "version", 7) == 0) ||
              (klen == 12 && strncmp(p, "version_info", 12) == 0)))
            continue;
        p += klen;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p++ != '=')
            continue;
        while (*p == ' ' || *p == '\t')
            p++;
        /* "3.11.2" or "3.11.2.final.0": the first two numbers. */
        unsigned major, minor;
        int used = 0;
        if (sscanf(p, "%u.%u%n", &major, &minor, &used) == 2 && used > 0)
            ver = pm_printf_alloc("%u.%u", major, minor);
        else {
            pm_error(cfg, "cannot read the Python version in '%.*s'", (int)strcspn(p, "\r\n"), p);
            free(line);
            fclose(fp);
            free(cfg);
            return NULL;
        }
    }
    free(line);
    fclose(fp);
    if (!ver)
        pm_error(cfg, "no 'version' line: cannot tell which Python the venv belongs to");
    free(cfg);
    return ver;
}

int pk_cmd_venv(char **args, int n, pk_make_opts *o)
{
    (void)n;
    int rc = 1;
    char *ver = NULL, *site = NULL, *bin = NULL;
    pk_pyinfo info = {0};
    const char *out = args[0], *venv = args[1];
    struct stat st;
    if (pk_writer_check_suffix(out) != 0)
        goto done;
    if (stat(venv, &st) != 0) {
        pm_error(venv, "not a virtual environment: %s", strerror(errno));
        goto done;
    }
    if (!S_ISDIR(st.st_mode)) {
        pm_error(venv, "not a virtual environment: not a directory");
        goto done;
    }
    if (!(ver = venv_version(venv)) || pk_pyinfo_query(&info, NULL, 0) != 0 || pk_py_finish() != 0)
        goto done;
    if (strcmp(ver, info.version) != 0) {
        pm_error(venv, "a venv of Python %s (pyvenv.cfg), but python-mpi embeds Python %s: "
                 "its packages would not work", ver, info.version);
        goto done;
    }
    site = pm_printf_alloc("%s/lib/python%s/site-packages", venv, ver);
    bin = pm_path_join(venv, "bin");
    if (!site || !bin) {
        pm_error(NULL, "out of memory");
        goto done;
    }
    if (stat(site, &st) != 0 || !S_ISDIR(st.st_mode)) {
        pm_error(site, "no site-packages in the venv");
        goto done;
    }
    static const char *const venv_own[] = {"python*", "pip*", "activate*", NULL};
    static const char *const installers[] = {"wheel", "easy_install*", NULL};
    pk_writer *w = pk_writer_open(out, o->verbose);
    int ok = w && pk_add_site(w, site, o, !o->keep_installers) == 0;
    if (ok && stat(bin, &st) == 0 && S_ISDIR(st.st_mode))
        ok = pk_add_bin(w, bin, o, venv_own, o->keep_installers ? NULL : installers) == 0;
    int crc = w ? pk_writer_close(w, ok) : -1;
    if (!ok || crc != 0)
        goto done;
    rc = o->verbose && pk_exclude_summary(&o->x) != 0 ? 1 : 0;
done:
    free(ver);
    free(site);
    free(bin);
    pk_pyinfo_free(&info);
    return rc;
}
