# pyinfo.py - what to bundle for the Python that python-mpi embeds, asked of
# that Python itself (pyinfo.c runs this file in pkgroot's embedded
# interpreter and calls main).
#
# main(packages, site_dest, site_pth) returns (result, None) or (None, one
# line saying why; a LookupError names the package).  result is a dict:
#   version    'X.Y';  soabi, cache_tag: str;  magic: bytes (4)
#   interpreter  sys.base_prefix/bin/pythonX.Y (bytes; may not exist)
#   site       the site directory below the prefix (bytes)
#   pth        None, or (name, line, mtime): a .pth to add in site that puts
#              site_dest on sys.path, for a Python whose site.py does not
#   stdlib     (src, dest)  the standard library tree
#   items      [(src, dest)]  each package's files and metadata
# Paths are bytes (os.fsencode): any file name survives.  Only find_spec:
# nothing is imported, so a package whose import would fail here (no MPI,
# no GPU) can still be bundled.
import importlib.util
import os
import re
import site
import sys
import sysconfig


def identity():
    ver = '%d.%d' % sys.version_info[:2]
    return {'soabi': sysconfig.get_config_var('SOABI') or '',
            'cache_tag': sys.implementation.cache_tag or '',
            'magic': bytes(importlib.util.MAGIC_NUMBER),
            'interpreter': os.fsencode(os.path.join(sys.base_prefix, 'bin', 'python' + ver))}


def describe(packages, site_dest, site_pth):
    prefix = os.path.normpath(sys.base_prefix)
    ver = '%d.%d' % sys.version_info[:2]

    def rel(path):
        r = os.path.relpath(path, prefix)
        if os.path.isabs(r) or r == os.curdir or r.split(os.sep)[0] == os.pardir:
            raise ValueError('%s is not below sys.base_prefix %s' % (path, prefix))
        return r

    def inside(path, top):
        return path == top or path.startswith(top + os.sep)

    def norm(n):
        return re.sub(r'[-_.]+', '_', n).lower()

    stdlib = os.path.normpath(sysconfig.get_paths()['stdlib'])
    items, seen = [], set()

    def add(src, dest):
        if src not in seen:
            seen.add(src)
            items.append((os.fsencode(src), os.fsencode(dest)))

    # Extension modules: inside stdlib on Debian; elsewhere on some builds.
    dynload = [os.path.normpath(p) for p in sys.path if os.path.basename(p) == 'lib-dynload']
    for d in dynload[:1]:
        if os.path.isdir(d) and not inside(d, stdlib):
            add(d, os.path.join(rel(stdlib), 'lib-dynload'))
    # The site directories site.py adds for a prefix (Debian: local/lib/
    # python3.11/dist-packages, lib/python3/dist-packages, ...).
    sites = [os.path.normpath(d) for d in site.getsitepackages([prefix])]
    existing = [d for d in sites if os.path.isdir(d)]
    system = [d for d in existing if 'local' not in rel(d).split(os.sep)]
    default = rel((system or existing)[0]) if existing else os.path.join('lib', 'python' + ver, 'site-packages')
    for name in packages:
        missing = LookupError("package '%s' not found by the embedded Python %s" % (name, ver))
        if '.' in name or os.sep in name:
            raise LookupError("package '%s': name a top-level module (bundling one bundles all of it)" % name)
        if not name:
            raise missing
        try:
            spec = importlib.util.find_spec(name)
        except Exception as e:
            raise LookupError("package '%s': %s: %s" % (name, type(e).__name__, e))
        if spec is None:
            raise missing
        locs = list(spec.submodule_search_locations or [])
        if not locs and spec.origin in (None, 'built-in', 'frozen', 'namespace'):
            if spec.origin in ('built-in', 'frozen'):
                continue  # compiled into the interpreter
            raise missing
        # A namespace package may have several portions: bundle each.
        for path in [os.path.normpath(p) for p in locs or [spec.origin]]:
            where = os.path.dirname(path)
            if inside(where, stdlib) and not any(inside(where, s) for s in sites):
                continue  # part of the standard library, bundled anyway
            dest = rel(where) if where in sites else default
            add(path, os.path.join(dest, os.path.basename(path)))
            for entry in sorted(os.listdir(where)):
                stem, ext = os.path.splitext(entry)
                if (ext in ('.dist-info', '.egg-info') and norm(stem.split('-')[0]) == norm(name)
                        or ext == '.libs' and norm(stem).startswith(norm(name))):
                    add(os.path.join(where, entry), os.path.join(dest, entry))
    # Package bundles go to site_dest, which Debian's site.py adds for any
    # prefix; another Python's does not, so its site directory gets a .pth.
    pth = None
    if site_dest not in [rel(d) for d in sites]:
        pth = (os.fsencode(os.path.join(default, site_pth)),
               os.fsencode(os.path.relpath(site_dest, default) + '\n'),
               int(os.stat(os.__file__).st_mtime))
    return dict(identity(), version=ver, site=os.fsencode(default), pth=pth,
                stdlib=(os.fsencode(stdlib), os.fsencode(rel(stdlib))), items=items)


def main(packages, site_dest, site_pth):
    try:
        return describe(packages, site_dest, site_pth), None
    except LookupError as e:
        return None, str(e)
    except Exception as e:
        return None, 'embedded Python: %s: %s' % (type(e).__name__, e)
