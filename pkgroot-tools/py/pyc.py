# pyc.py - .py to .pyc at bundle time, in the embedded Python (pyc.c runs
# this file once per start of pkgroot's embedded interpreter, then reads
# tag and calls pyc for each file): the same interpreter as the ranks', so
# the same magic number and cache tag.
#
# tag: sys.implementation.cache_tag, for __pycache__/NAME.TAG.pyc.
# pyc(source, name, mtime, mode) returns the .pyc's bytes, or None when
# the source does not compile (it is bundled as it is); mode is
# 'unchecked', 'checked' (hash-based) or 'timestamp'.  importlib's own
# serialisers: byte-for-byte what py_compile writes.
import importlib.util
import sys
from importlib import _bootstrap_external as _be

tag = sys.implementation.cache_tag


def pyc(source, name, mtime, mode):
    try:
        code = compile(source, name, 'exec', dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    if mode == 'timestamp':
        return bytes(_be._code_to_timestamp_pyc(code, mtime, len(source)))
    return bytes(_be._code_to_hash_pyc(code, importlib.util.source_hash(source),
                                       mode == 'checked'))
