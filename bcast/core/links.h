/* links.h - symbolic links of a delivery, created after everything else.
 *
 * While the bundles of a delivery are extracted into a fresh directory, no
 * symbolic link exists in it, so none can be in any entry's way (nor be
 * swapped in by another unpacker of the node).  The links, checked like
 * every entry when read, are recorded instead and made at the end, each
 * parent directory resolved as the unpacker resolves it (treewrite.h:
 * beneath the root, no link followed), so a link still never leads a later
 * one outside the tree; a name that is taken already is refused. */
#ifndef PM_LINKS_H
#define PM_LINKS_H

#include "err.h"

typedef struct pm_links pm_links;

pm_links *pm_links_new(void);
void pm_links_free(pm_links *l);

/* Remember a link (path relative to the tree, target as in the bundle);
 * label names the bundle.  0, or -1 with the reason in *err (out of
 * memory). */
int pm_links_add(pm_links *l, const char *label, const char *path, const char *target, pm_err *err);

/* Create every remembered link under destdir, in the order added, making
 * missing parent directories; then forget them.  Returns the number made,
 * or -1 with the reason in *err, naming the bundle and the entry. */
long pm_links_create(pm_links *l, const char *destdir, pm_err *err);

#endif
