/* trust.h - may we rely on a directory that other users of the node share?
 *
 * On a multi-user node /dev/shm and /tmp are writable by everybody: a name
 * there can be planted, renamed away or swapped for a symbolic link by
 * another user at any moment.  A directory is trusted only if nobody else
 * can change what its path means:
 *   - every component, from "/" on, is a real directory (never a symbolic
 *     link: each is opened with O_NOFOLLOW|O_DIRECTORY relative to the one
 *     before, so what is checked is what is used);
 *   - each is owned by root or by us (the effective uid);
 *   - none is writable by group or others, except a sticky directory owned
 *     by root (/tmp, /dev/shm: there others cannot rename or remove our
 *     entries), and never the last component.
 * Callers then work through the returned directory descriptor, not the
 * path. */
#ifndef PM_TRUST_H
#define PM_TRUST_H

#include <sys/types.h>

#include "err.h"

enum {
    PM_TRUST_MINE = 1,     /* the last component is owned by us (not root) */
    PM_TRUST_PRIVATE = 2,  /* ... and has no group or other permission */
    PM_TRUST_CREATE = 4,   /* create the last component if missing (0700) */
    PM_TRUST_RESOLVE = 8,  /* resolve symbolic links first
                            * (pm_trust_realpath_flags), then check the resolved
                            * path: for PYTHONHOME-like settings, where a
                            * root-owned link is fine */
    PM_TRUST_CONTAINER = 16, /* the last component is only a place to work
                              * in (a chroot, the parent of what is removed):
                              * checked like the ones above it, so sticky,
                              * root-owned /dev/shm and /tmp are fine */
    PM_TRUST_CREATE_ALL = 32, /* create every missing component (mkdir -p) */
    PM_TRUST_GROUP = 64,   /* a site's or a team's installation: directories
                            * of other owners and group-writable ones are
                            * accepted (the group is trusted by its members),
                            * but none may be writable by everybody (but a
                            * sticky, root-owned one), and below such a
                            * shared directory (/tmp, /dev/shm) every one
                            * must be root's or ours: for PYTHONHOME */
};

/* Links followed in one resolution at most (the kernel's limit). */
#define PM_TRUST_MAX_LINKS 40

/* realpath(3) for a path a user hands us (PYTHONHOME, PYTHON_MPI_CHROOT,
 * PYTHON_MPI_PKGROOT, bundles): the same canonical absolute path, walked
 * one component at a time through directory descriptors (lstat, readlink
 * beneath the directory that holds the link), at most PM_TRUST_MAX_LINKS
 * links.  One rule, that no other user can steer: an entry is used on the
 * way only if nobody else could have placed or replaced it.  In a
 * directory others may write to (writable by everybody, or by a group we
 * are not alone in: scripts/activate.sh applies the same rule)
 *   - sticky (/tmp, /dev/shm): others may add names but not replace ours,
 *     so a symbolic link is followed only if it is ours (the effective
 *     uid) or the directory owner's (root's there): the rule
 *     fs.protected_symlinks would apply; any other entry is used;
 *   - not sticky (a 0777 scratch): anyone there can rename any entry away
 *     and put their own, link or directory, in its place, so no entry of
 *     it is used at all.  pm_trust_open's checks of the resolved path
 *     would catch a real directory there too, but callers of the resolver
 *     alone (bundles, the chroot, pkgroot's source) have no such check,
 *     and a link would hide the directory from it: refused here, always.
 * Our group alone is the user-private-group convention: our primary group,
 * named as we are, no other member listed.  A relative path is taken from
 * the working directory.  Returns the malloc'd path, or NULL with errno
 * and *why a malloc'd reason (NULL: out of memory):
 *   EPERM  refused by that rule: "/dev/shm/x is a symbolic link owned by
 *          uid N in the shared sticky directory /dev/shm", or "/srv/x is
 *          writable by other users and not sticky (mode 0777): anyone
 *          there can replace /srv/x/y";
 *   ELOOP  more than PM_TRUST_MAX_LINKS links;
 *   other  the failing step's errno: the bare strerror when the whole
 *          path failed, else "cannot resolve /a/b: REASON". */
char *pm_trust_realpath(const char *path, char **why);

/* The same, where flags may hold PM_TRUST_GROUP: a group-writable
 * directory that is not sticky is then trusted like one of ours (a team's
 * installation: the group is trusted by its members); one writable by
 * everybody never is.  pm_trust_open with PM_TRUST_RESOLVE resolves
 * so. */
char *pm_trust_realpath_flags(const char *path, unsigned flags, char **why);

/* May a directory be bundled and delivered as code (PYTHON_MPI_ENV's DIR,
 * each SRC, each editable directory a .pth or finder names)?  Everything in
 * it runs as us on every node, so no other user may have been able to put
 * files there.  real is a resolved path (pm_trust_realpath: the sticky-link
 * rule and the no-entry-of-a-shared-non-sticky-directory rule are applied
 * there).  Refused (-1, errno EPERM, *why a malloc'd reason naming the
 * directory; NULL: out of memory):
 *   - one of ours writable by other users (everybody, or a group that is
 *     not ours alone), or one of root's writable by everybody (/tmp):
 *     others can plant modules in it;
 *   - one owned by neither us nor root that is writable by other users, or
 *     that lies below a directory everybody can write to (sticky or not:
 *     anyone could have made it there, and its owner changes it at will);
 * Root's directories are otherwise trusted.  Another errno (ENOTDIR: not a directory;
 * a failed stat) with *why saying so.  0: fine. */
int pm_trust_input_check(const char *real, char **why);

/* pm_trust_realpath(path) then pm_trust_input_check: the resolved path
 * (malloc'd), or NULL with errno (EPERM: refused) and *why. */
char *pm_trust_input_dir(const char *path, char **why);

/* A file about to be written: path with its directory resolved as above
 * (the file itself need not exist), so nothing is written where another
 * user's link in /tmp or /dev/shm leads, nor in a directory others can
 * write that is not sticky (they could replace the file: refused with the
 * resolver's words).  Returns "DIR/BASE" (malloc'd);
 * a directory that cannot be resolved for another reason (missing) gives
 * path as it is, so creating the file says why.  NULL with *refused set
 * and *why the reason when the rule refuses, *refused 0 if out of
 * memory. */
char *pm_trust_realpath_parent(const char *path, int *refused, char **why);

/* Open path (absolute; a relative one is walked from the working directory,
 * which is then taken as trusted) as a directory under the rules above.
 * Returns an O_RDONLY|O_DIRECTORY|O_CLOEXEC descriptor; *created (may be
 * NULL) says whether this call made the last component.  On refusal or
 * failure returns -1 with errno set and *why a malloc'd reason naming the
 * component at fault, e.g. "/dev/shm/x is owned by uid 1001" (NULL if out
 * of memory); one we may not enter is named by its owner too ("is owned by
 * uid N, not M"), not as "Permission denied".  With PM_TRUST_RESOLVE, *resolved (may be NULL) receives
 * the malloc'd path that was checked. */
int pm_trust_open(const char *path, unsigned flags, int *created, char **resolved, char **why);

/* pm_trust_open with the reason in *err (err.h) as
 *     PATH: refusing to use: REASON
 * on refusal (-1). */
int pm_trust_open_err(const char *path, unsigned flags, int *created, pm_err *err);

/* A directory named by an inherited environment variable (PYTHON_MPI_HOME,
 * PYTHONHOME): 0 with *value the directory to use (NULL when var is unset
 * or empty; with PM_TRUST_RESOLVE the resolved path, kept until exit), or
 * -1 with the reason in *err:
 *     VALUE: refusing to use VAR: REASON
 * A directory that does not exist is refused too: a missing name in a
 * shared directory is one that somebody else can create. */
int pm_trust_env_dir(const char *var, unsigned flags, const char **value, pm_err *err);

/* Open rel (relative, no "..") beneath dirfd without following any
 * symbolic link in any component: openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), or a component-by-component O_NOFOLLOW walk
 * where the kernel lacks openat2.  flags/mode as for openat (O_CREAT
 * applies to the last component only).  -1 with errno (ELOOP for a
 * link, EXDEV/EINVAL for a path that would leave dirfd). */
int pm_openat_beneath(int dirfd, const char *rel, int flags, mode_t mode);

/* The directory that holds rel's last component, opened beneath dirfd as
 * above; *base points into rel at that component.  -1 with errno. */
int pm_openat_parent_beneath(int dirfd, const char *rel, const char **base);

/* want (0666 for a file) as open(2) would give it under the process's
 * umask: for files made with mkstemp (always 0600) that are not private by
 * nature, such as bundles and timing reports, so that a umask of 077 keeps
 * a private project's files private and 022 makes them 0644. */
mode_t pm_umask_mode(mode_t want);

/* Tests only: behave as if the kernel had no openat2. */
extern int pm_trust_force_walk;

#endif
