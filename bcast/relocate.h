/* relocate.h - rewriting the install prefix that a bundle's files carry
 * (conda environments, as conda-pack does) to where the tree was unpacked.
 *
 * A bundle that needs it holds a manifest `.python-mpi-relocate/NAME`
 * (written by `pkgroot conda`; its format: manifest.h) listing its files:
 *     text PATH        every occurrence of the prefix is replaced
 *     binary PATH      each NUL-terminated string that starts with the
 *                      prefix gets the new one, padded with NULs to its
 *                      old length (so offsets in the binary stay valid)
 * A manifest is parsed whole before any file is rewritten; manifests are
 * removed once applied. */
#ifndef PM_RELOCATE_H
#define PM_RELOCATE_H

#include <stddef.h>

/* Apply and remove every manifest in the tree.  Returns the number of files
 * rewritten, or -1 after printing one line naming the file and why. */
long pm_relocate_tree(const char *tree);

/* The rewriting itself, in memory (unit-testable).  data/len is the file;
 * on success returns 0 and *out and *out_len the new content (malloc'd; NULL
 * if nothing changed).  -1 with *why set (static string) on failure. */
int pm_relocate_text(const char *data, size_t len, const char *from, const char *to,
                     char **out, size_t *out_len, const char **why);
int pm_relocate_binary(const char *data, size_t len, const char *from, const char *to,
                       char **out, size_t *out_len, const char **why);

#endif
