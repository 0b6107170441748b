/* treewrite.h - writing a bundle's entries into a tree through descriptors.
 *
 * Several unpackers of a node write one tree at once (the parts of a
 * .ptar), and a hostile bundle can make any of them put a symbolic link
 * where another is about to write.  So every name is resolved once,
 * beneath the tree's root descriptor, one component at a time with
 * O_NOFOLLOW|O_DIRECTORY, and the entry is made relative to the parent's
 * descriptor: no symbolic link is ever followed, whoever planted it and
 * whenever.  Writers never remove or rename a directory, so a directory
 * descriptor once opened stays where it was: the descriptors of the last
 * parent's components are kept, and entries in tar order cost about one
 * openat per new directory.  A non-directory in the way of an entry is
 * unlinked and the entry made anew (a new inode: a process that mapped
 * the old file keeps it); a directory in the way is refused, and so is a
 * symbolic link where a directory goes.  A hard link's target is opened
 * (O_PATH|O_NOFOLLOW) and checked, and the new name is made for that very
 * inode, so a hard link can never end as a link to anything else.
 *
 * Nothing here prints: a call that fails returns -1 (or -2, see
 * pm_tree_hardlink) and pm_tree_why says why. */
#ifndef PM_TREEWRITE_H
#define PM_TREEWRITE_H

#include <sys/types.h>
#include <time.h>

typedef struct pm_tree pm_tree;

/* Open destdir as a trusted directory of ours (trust.h, PM_TRUST_MINE).
 * NULL on failure, with *why a malloc'd reason (NULL if out of memory). */
pm_tree *pm_tree_open(const char *destdir, char **why);
int pm_tree_root(const pm_tree *t);   /* the root's descriptor (borrowed) */
void pm_tree_close(pm_tree *t);

/* Why the last failing call failed: a short reason, and *err the errno
 * that completes it (0 when the reason says all). */
const char *pm_tree_why(const pm_tree *t, int *err);

/* path with empty and "." components dropped ("./a//b/" is "a/b", "./"
 * is ""): the one spelling of a name, which is what is compared.  ".."
 * components are kept (pm_entry_check refuses them first).  malloc'd or
 * NULL. */
char *pm_path_normal(const char *path);

/* The rel arguments below are normalised (pm_path_normal), not empty, and
 * hold no "..". */

/* The directory that holds rel's last component, missing directories made
 * (0755); *base points at that component in rel.  The descriptor is
 * borrowed: valid until the next call on t.  -1 on failure (errno set). */
int pm_tree_parent(pm_tree *t, const char *rel, const char **base);

/* A directory: made, or an existing real directory accepted (a regular
 * file there is replaced, a symbolic link refused); mode applied; mtime
 * (may be NULL) set at pm_tree_finish_dirs, after its contents. */
int pm_tree_mkdir(pm_tree *t, const char *rel, mode_t mode, const struct timespec *mtime);

/* The bytes of the names kept for pm_tree_finish_dirs (each directory
 * once, however often a bundle repeats it): the caller charges them to
 * its budget, as it does links' names. */
size_t pm_tree_dir_bytes(const pm_tree *t);

/* A regular file, created O_EXCL|O_NOFOLLOW (what is in the way replaced,
 * see above), mode as given.  Returns its write descriptor, for
 * pm_tree_write and pm_tree_finish_file. */
int pm_tree_create(pm_tree *t, const char *rel, mode_t mode);

/* len bytes at offset (libarchive's blocks: holes stay holes). */
int pm_tree_write(pm_tree *t, int fd, const void *buf, size_t len, off_t offset);

/* The size (end: where the data written ended; short of size, the file
 * ends in a hole), mode, times (ts: atime and mtime for futimens, NULL to
 * leave them); closes fd whatever happens. */
int pm_tree_finish_file(pm_tree *t, int fd, off_t end, off_t size, mode_t mode,
                        const struct timespec ts[2]);

/* A symbolic link to target at rel, replacing a non-directory there. */
int pm_tree_symlink(pm_tree *t, const char *rel, const char *target);

/* A hard link at rel to the regular file target (normalised, beneath the
 * root, reached without following any link).  The target is opened
 * O_PATH|O_NOFOLLOW and checked, then the link is made to that descriptor
 * (linkat of /proc/self/fd/N); without /proc, by name, and the new name
 * is checked to be the opened inode (else removed and refused).  -1 for a
 * failure to write; -2 when the target is at fault, pm_tree_why then
 * completing "hard link to 'T', ..." (e.g. "which is a symbolic link"). */
int pm_tree_hardlink(pm_tree *t, const char *rel, const char *target);

/* Set the times of the directories made by pm_tree_mkdir (writing into a
 * directory changes its mtime, so this comes last).  -1 with *name the
 * directory that failed (valid until pm_tree_close). */
int pm_tree_finish_dirs(pm_tree *t, const char **name);

/* Tests only: behave as if /proc were absent (hard links by name, then
 * checked), and a function called between opening a hard link's target
 * and linking it (the moment another unpacker could swap the target). */
extern int pm_unpack_force_no_proc;
extern void (*pm_tree_test_before_link)(const char *target);

#endif
