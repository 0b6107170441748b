/* verify.h - `pkgroot verify BUNDLE [--python-mpi PATH] [--max-size SIZE]`:
 * would the unpacker accept every entry, how big is the bundle unpacked,
 * and does its Python match the python-mpi that will load it. */
#ifndef PK_VERIFY_H
#define PK_VERIFY_H

/* args/n: the words after "verify".  Exit status: 0 ok, 1 problems found
 * (one line each on stderr), 2 usage; PK_SHOW_HELP (makers.h) for -h. */
int pk_cmd_verify(char **args, int n, int verbose);

#endif
