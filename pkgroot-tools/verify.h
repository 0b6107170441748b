/* verify.h - `pkgroot verify BUNDLE [--python-mpi PATH] [--max-size SIZE]`:
 * would the unpacker accept every entry, how big is the bundle unpacked,
 * and does its Python match the python-mpi that will load it. */
#ifndef PK_VERIFY_H
#define PK_VERIFY_H

#include "makers.h"

/* args/n: the operand after "verify" (BUNDLE), o its options (python_mpi,
 * max_size, as given).  Exit status: 0 ok, 1 problems found (one line each
 * on stderr), or PK_USAGE_SAID (makers.h) for a --max-size that is not a
 * size. */
int pk_cmd_verify(char **args, int n, pk_make_opts *o);

#endif
