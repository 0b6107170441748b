# python-flags.py - how to embed the Python that runs this script, for the
# Makefile:
#
#   $(PYTHON) scripts/python-flags.py [--static] [--name PYTHON]
#
# prints KEY=WORD words on one line, one compiler or linker flag per word
# (KEY: ver, home, default, cflags, libs, ldflags, from), or one line
# saying why this Python cannot be embedded, and exits 1.  Everything comes
# from this Python itself: its sysconfig, and its own pkg-config file
# (PKG_CONFIG_LIBDIR = its LIBPC, so no other Python's .pc is ever found) or
# else its own pythonX.Y-config --embed.  Written to run on any Python far
# enough to refuse an old one in one line (no f-strings, no 3.x-only
# modules before the version check).
import os
import platform
import subprocess
import sys

NAME = "python3"


def refuse(why):
    sys.stdout.write("python-mpi: PYTHON=%s %s\n" % (NAME, why))
    sys.exit(1)


def run(argv, env=None):
    """The command's stdout split into words, or None if it failed."""
    try:
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        out, _ = p.communicate()
    except OSError:
        return None
    if p.returncode != 0:
        return None
    return out.decode("utf-8", "surrogateescape").split()


def main(args):
    global NAME
    static = False
    while args:
        a = args.pop(0)
        if a == "--static":
            static = True
        elif a == "--name" and args:
            NAME = args.pop(0)
        else:
            refuse("(python-flags.py: unknown argument %r)" % a)
    impl = getattr(sys, "implementation", None)
    impl = impl.name if impl is not None else platform.python_implementation().lower()
    full = ".".join(str(n) for n in sys.version_info[:3])
    if impl != "cpython":
        refuse("is %s %s, not CPython: python-mpi embeds CPython 3.8 or newer" % (impl, full))
    if sys.version_info < (3, 8):
        refuse("is Python %s: python-mpi embeds CPython 3.8 or newer" % full)

    import sysconfig
    cv = sysconfig.get_config_var
    ver = "%d.%d" % sys.version_info[:2]
    ldver = cv("LDVERSION") or ver           # 3.12, or 3.12d for a debug build
    if cv("Py_GIL_DISABLED"):
        # Its standard library is lib/python3.13t: not what python-mpi and
        # its bundles look for.
        refuse("is a free-threaded build (%s): not supported" % ldver)
    libdir, libpl = cv("LIBDIR") or "", cv("LIBPL") or ""
    include = sysconfig.get_path("include")
    if not os.path.isfile(os.path.join(include, "Python.h")):
        refuse("has no C headers (no %s/Python.h): install its development files" % include)

    # Compiler flags (and the shared library's), from its own files.
    pc_dir = cv("LIBPC") or os.path.join(libdir, "pkgconfig")
    pc = "python-%s-embed" % ldver
    config = os.path.join(cv("BINDIR") or "", "python%s-config" % ldver)
    env = dict(os.environ, PKG_CONFIG_LIBDIR=pc_dir)
    env.pop("PKG_CONFIG_PATH", None)
    cflags = libs = None
    if os.path.isfile(os.path.join(pc_dir, pc + ".pc")):
        cflags = run(["pkg-config", "--cflags", pc], env)
        libs = run(["pkg-config", "--libs", pc], env)
        source = os.path.join(pc_dir, pc + ".pc")
    if (cflags is None or libs is None) and os.access(config, os.X_OK):
        # --includes, not --cflags: the latter is the interpreter's own
        # build flags (-O3, warnings), not ours to impose.
        cflags = run([config, "--includes"])
        libs = run([config, "--ldflags", "--embed"])
        source = config
    if cflags is None or libs is None:
        refuse("has no usable pkg-config file (%s/%s.pc) or %s: install its development files"
               % (pc_dir, pc, config))

    ldflags = []
    if static:
        names = ["libpython%s-pic.a" % ldver, cv("LIBRARY") or "libpython%s.a" % ldver]
        found = [os.path.join(d, n) for n in names for d in (libpl, libdir)
                 if n and os.path.isfile(os.path.join(d, n))]
        if not found:
            refuse("has no static libpython (no %s in %s): build without STATIC_PYTHON=1"
                   % (" or ".join(names), libpl))
        archive = found[0]
        # Debian's -pic.a, or the objects of a --enable-shared build
        # (compiled with CCSHARED), link into our position-independent
        # executable; a static-only build's may not.
        if not (archive.endswith("-pic.a") or cv("CFLAGSFORSHARED")):
            ldflags.append("-no-pie")
        extra = " ".join(cv(v) or "" for v in ("MODLIBS", "LIBS", "SYSLIBS")).split()
        libs = [archive, "-Wl,--export-dynamic"] + extra
        source = archive
    else:
        shared = os.path.join(libdir, cv("LDLIBRARY") or "")
        if not cv("Py_ENABLE_SHARED") or not os.path.isfile(shared):
            lib = cv("LIBRARY") or "libpython%s.a" % ldver
            if os.path.isfile(os.path.join(libpl, lib)) or os.path.isfile(os.path.join(libdir, lib)):
                refuse("has no shared libpython (built without --enable-shared): "
                       "make STATIC_PYTHON=1 links its static %s" % lib)
            refuse("has neither a shared nor a static libpython: it cannot be embedded "
                   "(build it with --enable-shared)")
        # The dynamic linker's own directories need no rpath; any other
        # (pyenv, conda, /opt, /usr/local) does, or python-mpi would need
        # LD_LIBRARY_PATH on every node.
        multiarch = cv("MULTIARCH") or ""
        system = set()
        for d in ("/lib", "/usr/lib", "/lib64", "/usr/lib64"):
            system.add(d)
            if multiarch:
                system.add(os.path.join(d, multiarch))
        if os.path.realpath(libdir) not in system and os.path.normpath(libdir) not in system:
            libs = libs + ["-Wl,-rpath," + libdir]

    exe = os.path.realpath(sys.executable or "")
    default = exe == os.path.realpath("/usr/bin/python3")
    words = ["ver=" + ver, "home=" + os.path.normpath(sys.base_prefix),
             "default=%d" % default, "from=" + source]
    words += ["cflags=" + w for w in cflags]
    words += ["libs=" + w for w in libs]
    words += ["ldflags=" + w for w in ldflags]
    bad = [w for w in words if "%" in w or "$" in w] + [p for p in (sys.base_prefix, libdir) if " " in p]
    if bad:
        refuse("gives a flag make cannot carry: %s" % bad[0])
    sys.stdout.write(" ".join(words) + "\n")


main(sys.argv[1:])
