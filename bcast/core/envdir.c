/* envdir.c - what a PYTHON_MPI_ENV directory is (see envdir.h). */
#include "envdir.h"
#include "strutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* dir/name is there (links followed) and of type (S_IFDIR, S_IFREG). */
static int has(const char *dir, const char *name, mode_t type)
{
    char *p = pm_path_join(dir, name);
    struct stat st;
    int ok = p && stat(p, &st) == 0 && (st.st_mode & S_IFMT) == type;
    free(p);
    return ok;
}

int pm_envdir_has_dir(const char *dir, const char *name)
{
    return has(dir, name, S_IFDIR);
}

int pm_envdir_has_file(const char *dir, const char *name)
{
    return has(dir, name, S_IFREG);
}

pm_envdir_kind pm_envdir_kind_of(const char *dir, const char *home)
{
    if (home && strcmp(home, dir) == 0)
        return PM_ENVDIR_RUNTIME;
    if (pm_envdir_has_file(dir, "pyvenv.cfg"))
        return PM_ENVDIR_VENV;
    if (pm_envdir_has_dir(dir, "conda-meta"))
        return PM_ENVDIR_CONDA;
    return PM_ENVDIR_NONE;
}

int pm_envdir_check_version(const char *dir, int major, int minor, pm_err *err)
{
    char *mine = pm_printf_alloc("lib/python%d.%d", major, minor);
    int ok = mine && pm_envdir_has_dir(dir, mine);
    free(mine);
    if (ok)
        return 0;
    char *lib = pm_path_join(dir, "lib");
    DIR *d = lib ? opendir(lib) : NULL;
    char other[64] = "";
    for (struct dirent *e; d && (e = readdir(d));) {
        int ma, mi, n = 0;
        if (sscanf(e->d_name, "python%d.%d%n", &ma, &mi, &n) == 2 && !e->d_name[n])
            snprintf(other, sizeof other, "%d.%d", ma, mi);
    }
    if (d)
        closedir(d);
    free(lib);
    if (*other)
        pm_err_set(err, dir, "PYTHON_MPI_ENV: an environment of Python %s (lib/python%s), but python-mpi "
                   "embeds Python %d.%d: its packages would not work", other, other, major, minor);
    else
        pm_err_set(err, dir, "PYTHON_MPI_ENV: no lib/python%d.%d: not an environment of the Python "
                   "python-mpi embeds", major, minor);
    return -1;
}

int pm_envdir_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0' || (n == 1 && dir[0] == '/'));
}
