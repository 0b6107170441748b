# condameta.py - conda's package records (PREFIX/conda-meta/*.json): which
# files carry the prefix they were installed at, and whether as text or as
# binary (condameta.c runs this file in pkgroot's embedded interpreter and
# calls main).
#
# main(prefix) returns (result, None) or (None, one line saying why).
# result = (declared, npackages, n_paths_data, has_prefix, unknown):
#   declared      [(path, is_binary)], sorted, path relative to the prefix
#                 (bytes, os.fsencode)
#   npackages     how many records were read
#   n_paths_data  how many of them list their files (paths_data)
#   has_prefix    the packages declared by their extracted info/has_prefix
#   unknown       the packages with neither (', '-joined names)
import glob
import json
import os
import shlex


def has_prefix_lines(path):
    # conda's own parsing: 'path', or 'placeholder mode path', quoted if need be
    with open(path, 'rb') as fp:
        text = fp.read().decode('utf-8', 'surrogateescape')
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [x.strip('"\'') for x in shlex.split(line, posix=False)]
        if len(parts) == 1:
            yield parts[0], False
        elif len(parts) == 3:
            yield parts[2], parts[1] == 'binary'
        else:
            raise LookupError('%s: cannot parse line %r' % (path, line))


def read(prefix):
    declared, n, n_pd, hp, unknown = {}, 0, 0, [], []
    for f in sorted(glob.glob(os.path.join(glob.escape(prefix), 'conda-meta', '*.json'))):
        try:
            with open(f, 'rb') as fp:
                meta = json.load(fp)
        except (OSError, ValueError) as e:
            raise LookupError('%s: cannot read the package record: %s' % (f, e))
        if not isinstance(meta, dict):
            raise LookupError('%s: not a conda package record' % f)
        n += 1
        name = str(meta.get('name') or os.path.basename(f)[:-5])
        pd = meta.get('paths_data')
        if isinstance(pd, dict) and isinstance(pd.get('paths'), list):
            n_pd += 1
            for p in pd['paths']:
                if isinstance(p, dict) and p.get('prefix_placeholder') and isinstance(p.get('_path'), str):
                    declared[p['_path']] = p.get('file_mode') == 'binary'
            continue
        link = meta.get('link') if isinstance(meta.get('link'), dict) else {}
        src = meta.get('extracted_package_dir') or link.get('source')
        path = os.path.join(src, 'info', 'has_prefix') if isinstance(src, str) and src else None
        if path and os.path.isfile(path):
            hp.append(name)
            for p, binary in has_prefix_lines(path):
                declared[p] = binary
        else:
            unknown.append(name)
    files = sorted((os.fsencode(p), b) for p, b in declared.items())
    return files, n, n_pd, ', '.join(hp), ', '.join(unknown)


def main(prefix):
    try:
        return read(prefix), None
    except LookupError as e:
        return None, str(e)
    except Exception as e:
        return None, 'conda-meta: %s: %s' % (type(e).__name__, e)
