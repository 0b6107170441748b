/* runprog.h - running another program (pip, a python-mpi to ask) with
 * posix_spawn: an argv array, never a shell; the child is registered with
 * cleanup.h while it runs, so a signal that ends pkgroot ends it too. */
#ifndef PK_RUNPROG_H
#define PK_RUNPROG_H

#include <stddef.h>

/* A copy of environ without the variables whose names start with one of
 * drop[] (NULL-terminated, may be NULL), then set[] ("NAME=VALUE",
 * NULL-terminated, may be NULL) added.  malloc'd, or NULL if out of
 * memory; free with pk_env_free. */
char **pk_env_build(const char *const *drop, const char *const *set);
void pk_env_free(char **env);

/* Run argv[0] (a path: PATH is never searched; give an absolute one) in a process group of its
 * own (a signal to pkgroot ends the group: cleanup.h) with envp, stdin from
 * /dev/null, stdout to out_fd and stderr to err_fd (-1: /dev/null).  With
 * capture not NULL, stdout is read into *capture (malloc'd, NUL-ended)
 * instead.  Returns the exit status, 128 + N if killed by signal N, or -1
 * after printing why it could not be run. */
int pk_run(char *const argv[], char *const envp[], int out_fd, int err_fd, char **capture);

/* pk_run with the child's working directory cwd (pk_run: "/"): never the
 * caller's, which another user may be able to write (a Python run with -m
 * or -c imports from it).  A cwd the child cannot enter: -1 after saying
 * so (posix_spawn fails). */
int pk_run_in(const char *cwd, char *const argv[], char *const envp[], int out_fd, int err_fd,
              char **capture);

#endif
