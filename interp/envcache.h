/* envcache.h - PYTHON_MPI_ENV=DIR[:SRC...]: an environment delivered with
 * no bundle step.
 *
 * Rank 0 alone looks at the environment: it decides its state key (a walk
 * of every directory in it: each entry's path, type, mode, size, mtime,
 * ctime and inode, no link followed), and finds that state's bundles in the
 * cache (PYTHON_MPI_CACHE, default $HOME/.cache/python-mpi) or makes them
 * there with the pkgroot that sits beside python-mpi (posix_spawn, never a
 * shell or PATH): into a temporary directory, delivered from there, and
 * renamed into place only when every node has unpacked it (the unpacker's
 * rules and hashes are its check; see pm_env_commit).  A state is a
 * directory CACHE/ENVID/KEY holding the bundles and a list of them
 * ("bundles"), where ENVID hashes the environment's
 * real paths; the oldest states beyond PYTHON_MPI_CACHE_STATES or
 * PYTHON_MPI_CACHE_MAX bytes are removed.  Two pieces, each a cached
 * environment of its own: the runtime (the embedded Python's standard
 * library: `pkgroot python`; none for a conda prefix that carries its
 * own), and DIR's (`pkgroot venv` / `pkgroot conda`, `pkgroot dir` for
 * each SRC and each directory outside DIR that a .pth file of DIR's
 * site-packages names - an editable install - delivered at
 * lib/python-mpi-ext/N, with the .pth rewritten to name it).
 *
 * This file is the collective and the plan; the parts are the core's
 * (envdir.h, envkey.h, envscan.h, envstore.h: no MPI, no Python, nothing
 * printed) and pkgroot's spawning (envmake.h). */
#ifndef PM_ENVCACHE_H
#define PM_ENVCACHE_H

#include "pkglist.h"
#include "topology.h"

/* Collective over t->world: when spec (PYTHON_MPI_ENV) is set, the
 * environment's bundles, in delivery order, are appended to *out on every
 * rank.  Returns 0, or 1 on every rank after rank 0 printed why (one
 * line). */
int pm_env_bundles(const pm_topology *t, const char *spec, pm_pkglist *out);

/* After the delivery (any rank may call it; rank 0 acts): the states this
 * job made are renamed into the cache if delivered (every node unpacked
 * them under the unpacker's rules and checked their hashes: that is their
 * verification), else removed.  Idempotent. */
void pm_env_commit(int rank, int delivered);

#endif
