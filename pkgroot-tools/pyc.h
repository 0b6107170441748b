/* pyc.h - compiling a bundle's .py files to bytecode with the embedded
 * Python at bundle time, so that no rank compiles anything at start-up.
 *
 * Modes (pkgroot --pyc MODE):
 *   unchecked  hash-based pycs that the import system never validates
 *              against the source (PEP 552): the default.  Bundles are
 *              immutable once unpacked, so checking is pointless.
 *   checked    hash-based pycs validated by hashing the source on import.
 *   timestamp  classic pycs (source mtime and size), as Debian ships them.
 *   sourceless each module as NAME.pyc (unchecked hash) in place of NAME.py:
 *              the import system then never looks at a source at all, at
 *              the price of tracebacks without source lines.
 *   keep       no compiling; the tree's own __pycache__ go as they are
 *              (the default of `pkgroot dir`).
 *   none       no bytecode at all: __pycache__ and *.pyc left out (every
 *              rank then compiles what it imports; for measuring). */
#ifndef PK_PYC_H
#define PK_PYC_H

#include <stddef.h>
#include <time.h>

/* Modes before PK_PYC_KEEP compile. */
enum pk_pyc_mode {
    PK_PYC_UNCHECKED, PK_PYC_CHECKED, PK_PYC_TIMESTAMP, PK_PYC_SOURCELESS, PK_PYC_KEEP, PK_PYC_NONE
};

/* "unchecked" ... -> mode; -1 if unknown. */
int pk_pyc_parse(const char *s, enum pk_pyc_mode *mode);

/* Where the pyc of bundle path NAME.py goes: DIR/__pycache__/NAME.TAG.pyc
 * (TAG = the embedded Python's cache tag, e.g. cpython-311).  malloc'd, or
 * NULL after printing why. */
char *pk_pyc_path(const char *py_name);

/* Compile source (len bytes, as the file NAME would be at run time) to a
 * pyc of the given mode; mtime is the source's (timestamp mode).
 * Returns 0 with *pyc (malloc'd) and *pyc_len; 1 if the source does not
 * compile (not Python 3: some packages ship such files; the caller adds the
 * source alone); -1 after printing why. */
int pk_pyc_compile(const char *source, size_t len, const char *name, time_t mtime,
                   enum pk_pyc_mode mode, char **pyc, size_t *pyc_len);

#endif
