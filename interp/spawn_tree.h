/* spawn_tree.h - MPI_Comm_spawn children of python-mpi run on the parent's
 * node-local tree (see spawn_tree.c for how it is passed on). */
#ifndef PM_SPAWN_TREE_H
#define PM_SPAWN_TREE_H

#include <mpi.h>

/* The argument a spawning python-mpi puts first for its python-mpi children. */
#define PM_SPAWN_FLAG "--python-mpi-tree="

/* The tree this process runs on, passed on (by its run name) to python-mpi
 * processes it spawns if it is directly in CHROOT/python-mpi-UID; NULL:
 * nothing is passed.  0, or -1 after printing why. */
int pm_spawn_set_tree(const char *dir);

/* After MPI is started: if this process was spawned and argv[1] is the
 * flag, remove it from argc/argv and return the tree (malloc'd): its path
 * if it passes the checks or is simply missing from our own per-user
 * directory, else "" (naming no directory; one line said why, unless our
 * per-user directory does not exist here).  NULL when there is no flag or
 * out of memory. */
char *pm_spawn_take_tree(int *argc, char **argv);

#endif
