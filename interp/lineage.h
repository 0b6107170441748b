/* lineage.h - is this python-mpi a process that a rank started, at any
 * depth (subprocess, os.system, a shell or a script in between)?
 *
 * Such a process inherits the rank's launcher variables (PMI_FD,
 * PMIX_NAMESPACE, SLURM_STEP_ID, ...): MPI_Init in it would speak to the
 * rank's process manager as if it were the rank, and fail or break the
 * rank.  So each rank leaves a mark in its environment, which only its
 * descendants inherit; a python-mpi that carries the mark and the same
 * launcher identity runs as plain Python on the rank's tree.  A process
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
 * by PMI_FD if that descriptor is open here (else 0). */
typedef struct pm_launch_id {
    uint64_t hash;
    uint64_t pmi_socket;
} pm_launch_id;

void pm_launch_id_of(char *const *envp, pm_launch_id *id);

/* "HASH.SOCKET" in hex, into buf (at least 34 bytes). */
void pm_launch_id_format(const pm_launch_id *id, char *buf, size_t len);

/* Does a mark (the value of PM_LINEAGE_VAR) name the identity id?  The
 * socket must match only where the descendant still holds it open. */
int pm_launch_id_matches(const char *mark, const pm_launch_id *id);

/* Ranks, after MPI_Init: put the mark in the environment.  0, or -1
 * after printing why. */
int pm_lineage_mark(void);

/* Is this process a descendant of a rank (the mark matches)? */
int pm_lineage_is_descendant(void);

#endif
