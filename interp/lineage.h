/* lineage.h - is this python-mpi a process that a rank started, at any
 * depth (subprocess, os.system, a shell or a script in between)?
 *
 * Such a process inherits the rank's launcher variables (PMI_FD,
 * PMIX_NAMESPACE, SLURM_STEP_ID, ...): MPI_Init in it would speak to the
 * rank's process manager as if it were the rank, and fail or break the
 * rank.  So each rank leaves a mark in its environment, which only its
 * descendants inherit; a python-mpi that carries the mark and the same
 * launcher identity runs as plain Python on the rank's tree.  One started
 * with a cleared environment (no mark, no launcher variables) whose
 * ancestor was started as a rank runs as plain Python too.  A process
 * manager's own launches (MPI_Comm_spawn, a nested mpiexec, a new srun
 * step) come with a fresh identity (a new namespace, step or PMI socket)
 * and start MPI. */
#ifndef PM_LINEAGE_H
#define PM_LINEAGE_H

#include <stddef.h>
#include <stdint.h>

#define PM_LINEAGE_VAR "PYTHON_MPI_PARENT"

/* The launcher identity of this process's environment: a hash of the
 * launcher-set variables present, and the inode of the PMI socket named
 * by PMI_FD if that descriptor is open here (else 0); and the program. */
typedef struct pm_launch_id {
    uint64_t hash;
    uint64_t pmi_socket;
    uint64_t program;      /* the program: a hash of its build id (a copy is the same) */
    uint64_t file;         /* the executable file itself (a copy is another) */
} pm_launch_id;

void pm_launch_id_of(char *const *envp, pm_launch_id *id);

/* "HASH.SOCKET.PROGRAM.FILE" in hex, into buf (at least 72 bytes). */
void pm_launch_id_format(const pm_launch_id *id, char *buf, size_t len);

/* Does a mark (the value of PM_LINEAGE_VAR) name the identity id?  The
 * socket must match only where the descendant still holds it open. */
int pm_launch_id_matches(const char *mark, const pm_launch_id *id);

/* Is this process the program of the rank that marked it (that build, or a
 * copy of it, as in a venv: not another python-mpi, whose Python may not be
 * the one of the rank's tree)?  *same_file: and the very same file. */
int pm_lineage_same_program(int *same_file);

/* Ranks, after MPI_Init: put the mark in the environment.  0, or -1
 * after printing why. */
int pm_lineage_mark(void);

/* Is this process a descendant of a rank (the mark matches, or with no
 * launcher variables at all, an ancestor was started as a rank)? */
int pm_lineage_is_descendant(void);

#endif
