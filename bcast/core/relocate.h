/* relocate.h - rewriting the install prefix that a bundle's files carry
 * (conda environments, as conda-pack does) to where the tree was unpacked.
 *
 * A bundle that needs it holds a manifest `.python-mpi-relocate/NAME`
 * (written by `pkgroot conda`; its format: manifest.h) listing its files:
 *     text PATH        every occurrence of the prefix is replaced
 *     binary PATH      each NUL-terminated string that starts with the
 *                      prefix gets the new one, padded with NULs to its
 *                      old length (so offsets in the binary stay valid)
 *
 * Manifests belong to the delivery that unpacked them.  Each is parsed
 * whole and removed before any file it lists is touched, so a relocation
 * killed half-way leaves none to be applied again; when anything fails the
 * whole PM_MANIFEST_DIR goes too.  A delivery's first step drops what a
 * killed one left (pm_relocate_discard).
 *
 * Bounded work (issue 21).  One call of pm_relocate_tree, every manifest
 * and every file together, reads at most L bytes of listed files and
 * writes at most L, where L is max_bytes (PYTHON_MPI_MAX_UNPACKED) or,
 * when that is 0, the size of the tree's file system (as unpack.h's
 * limit): so the files grow by at most L in all, whatever the passes (a
 * file named by several manifests, a new path that contains the old
 * prefix), and the time is bounded as the bytes are (each rewrite is
 * linear in the file's size).  One file may also grow to at most twice
 * its size plus 64 KiB.  Over either: the reason names the file and the
 * limit, nothing more is rewritten, -1.
 *
 * No temporaries.  A listed file is opened through its directory, which is
 * opened beneath the tree without following any link (trust.h), read whole
 * (within the budget), and closed; then its name is unlinked and the new
 * content written to a file created under the same name with
 * O_CREAT|O_EXCL|O_NOFOLLOW through that directory, given the old mode
 * and times.  Not a temporary renamed over the file (as until issue 21): a
 * kill left FILE.relocate-PID, hundreds of MB that nothing removed.  Not
 * O_TMPFILE: not every file system has it (NFS, Lustre, older kernels),
 * and linking one to a name needs /proc or CAP_DAC_READ_SEARCH and a free
 * name all the same.  So no second name ever exists; a kill mid-rewrite
 * leaves that file missing or short, in a tree whose delivery did not
 * complete, which is therefore not trusted (the delivery is a
 * transaction: cache.h).  A failed write removes what it wrote.
 *
 * Hard links: a listed name that has other names in the tree becomes a
 * file of its own.  Only the listed names are rewritten, each once, from
 * the content it had; the other names keep the original content. */
#ifndef PM_RELOCATE_H
#define PM_RELOCATE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Apply and remove every manifest in the tree.  Returns the number of files
 * rewritten, or -1 with the reason in *err naming the file (and then every
 * manifest is removed). */
long pm_relocate_tree(const char *tree, uint64_t max_bytes, pm_err *err);

/* Before a delivery writes anything into the tree whose trusted descriptor
 * (trust.h) is treefd: remove PM_MANIFEST_DIR and all in it, never
 * following a link.  Any manifest there is stale by definition (applied
 * ones are removed), left by a delivery that was killed, and must never be
 * applied to the bundles of this one.  1 if there was one, 0 if not, -1
 * with the reason in *err. */
int pm_relocate_discard(int treefd, pm_err *err);
/* The same for the tree's path, opened as pm_relocate_tree opens it. */
int pm_relocate_discard_tree(const char *tree, pm_err *err);

/* The rewriting itself, in memory (unit-testable).  data/len is the file;
 * on success returns 0 and *out and *out_len the new content (malloc'd; NULL
 * if nothing changed).  -1 with *why set (static string) on failure. */
int pm_relocate_text(const char *data, size_t len, const char *from, const char *to,
                     char **out, size_t *out_len, const char **why);
int pm_relocate_binary(const char *data, size_t len, const char *from, const char *to,
                       char **out, size_t *out_len, const char **why);

#endif
