/* cleanup.h - what SIGINT/SIGTERM/SIGHUP must undo before pkgroot dies:
 * the bundle's temporary file, a maker's private temporary directory and a
 * child process (pip) still writing into it.  The handler only makes
 * async-signal-safe calls, then re-raises the signal with its default
 * action, so the exit status still says which signal it was. */
#ifndef PK_CLEANUP_H
#define PK_CLEANUP_H

#include <sys/types.h>

/* Register (or, with NULL / 0, forget) each thing to undo.  The strings
 * must stay valid until forgotten.  Handlers are installed while anything
 * is registered and the previous ones restored after. */
void pk_cleanup_file(const char *path);
void pk_cleanup_dir(const char *path);
void pk_cleanup_child(pid_t pid);

/* Block / unblock those signals around a create-and-register pair, so a
 * signal cannot land between the two. */
void pk_cleanup_hold(void);
void pk_cleanup_release(void);

/* Remove a directory tree without allocating (also used by the handler).
 * Returns 0, or -1 with errno set if something could not be removed. */
int pk_remove_tree(const char *path);

#endif
