/* shebang.h - scripts' "#!" lines, rewritten so that a bundled script runs
 * wherever the tree is unpacked (the interpreter path it was installed
 * with does not exist on the nodes, or is a temporary directory). */
#ifndef PK_SHEBANG_H
#define PK_SHEBANG_H

#include <stddef.h>
#include <sys/stat.h>

/* If the regular file at path (st: its stat) starts with a "#!" naming a
 * Python (/any/bin/python3.11, /usr/bin/env python, or distlib's
 * /bin/sh "exec" wrapper for long paths), return 1 with *data and *len its
 * contents, that line replaced by "#!/usr/bin/env python3" (options kept
 * through "env -S").  With prefix not NULL, an interpreter below prefix
 * that is not a Python becomes "#!/usr/bin/env NAME" too, as conda-pack
 * does.  0: left as it is (*data NULL).  -1 after printing why. */
int pk_shebang_rewrite(const char *path, const struct stat *st, const char *prefix,
                       char **data, size_t *len);

#endif
