"""layers.py - the layers of the source tree and the arrows between them.

    python3 scripts/layers.py            print the arrows (make deps-graph)
    python3 scripts/layers.py --check    also exit 1 on a broken rule

Three layers, one direction (docs/architecture.md):
    core      bcast/core/       MPI-free: no mpi.h, no Python.h
    delivery  bcast/delivery/   the MPI delivery, on the core; no Python.h
    programs  python-mpi (python-mpi.c, interp/), bcast (bcast/bcast.c),
              pkgroot (pkgroot-tools/: on the core alone, no mpi.h)
A module is a .c and its .h; the rules: no module includes a higher
layer's header, no program another program's, and the modules' include
graph has no cycle.  The Makefile's per-layer -I paths already stop a
build that breaks the first rule; this names every arrow, and catches
what -I cannot (a cycle inside a layer, a stray mpi.h).
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = [  # name, rank (arrows go to a lower or equal rank), sources
    ("core", 0, ["bcast/core"]),
    ("delivery", 1, ["bcast/delivery"]),
    ("python-mpi", 2, ["python-mpi.c", "interp"]),
    ("bcast", 2, ["bcast/bcast.c"]),
    ("pkgroot", 2, ["pkgroot-tools"]),
]
FORBIDDEN = {"core": {"mpi.h", "Python.h"}, "delivery": {"Python.h"}, "pkgroot": {"mpi.h"}}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def files_of(paths):
    for p in paths:
        full = os.path.join(ROOT, p)
        if os.path.isfile(full):
            yield p
        else:
            for name in sorted(os.listdir(full)):
                if name.endswith((".c", ".h")):
                    yield os.path.join(p, name)


def main():
    check = "--check" in sys.argv[1:]
    layer_of, rank_of, home = {}, {}, {}   # file -> layer; layer -> rank; header -> file
    for name, rank, paths in LAYERS:
        rank_of[name] = rank
        for f in files_of(paths):
            layer_of[f] = name
            if f.endswith(".h"):
                home[os.path.basename(f)] = f
    broken, arrows, modules = [], {}, {}
    for f, layer in sorted(layer_of.items()):
        with open(os.path.join(ROOT, f), encoding="utf-8") as fh:
            text = fh.read()
        mod = f[:-2]
        for quote, h in INCLUDE.findall(text):
            base = os.path.basename(h)
            if base in FORBIDDEN.get(layer, ()):
                broken.append("%s (%s) includes %s" % (f, layer, h))
            target = home.get(base) if quote == '"' else None
            if not target:
                continue
            to = layer_of[target]
            if to != layer:
                arrows.setdefault((layer, to), set()).add(base)
                if rank_of[to] >= rank_of[layer]:
                    broken.append("%s (%s) includes %s (%s): not downward" % (f, layer, target, to))
            if target[:-2] != mod:
                modules.setdefault(mod, set()).add(target[:-2])
    # A cycle among modules: depth-first search with colours.
    colour, stack = {}, []

    def visit(m):
        colour[m] = 1
        stack.append(m)
        for n in sorted(modules.get(m, ())):
            if colour.get(n) == 1:
                broken.append("include cycle: " + " -> ".join(stack[stack.index(n):] + [n]))
            elif not colour.get(n):
                visit(n)
        stack.pop()
        colour[m] = 2

    for m in sorted(modules):
        if not colour.get(m):
            visit(m)

    for name, rank, paths in LAYERS:
        count = sum(1 for f in layer_of if layer_of[f] == name)
        print("%-10s %s (%d files)" % (name, " ".join(p + ("" if p.endswith(".c") else "/") for p in paths), count))
        outs = sorted(k for k in arrows if k[0] == name)
        if not outs:
            print("    -> (nothing of ours)")
        for _, to in outs:
            print("    -> %-9s %s" % (to, " ".join(sorted(arrows[(name, to)]))))
    for b in broken:
        print("layers: " + b, file=sys.stderr)
    if check:
        print("layers: %s" % ("%d broken rule(s)" % len(broken) if broken else "one direction, no cycle"))
        return 1 if broken else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
