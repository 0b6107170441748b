"""sigdump.py - the signal dispositions of this process, one line per signal.

    python3 sigdump.py            # or python-mpi sigdump.py, mpiexec -n 1 ...
    python3 sigdump.py --diff A B # two saved dumps: the signals that differ
    python3 sigdump.py --compare REF PM --mode M --mpi X --expected FILE --counts FILE [--id-prefix P]

For each signal 1..64: what signal.getsignal says (SIG_DFL, SIG_IGN, a
Python handler, or None: a handler Python did not install) and what the
kernel has (sigaction: SIG_DFL, SIG_IGN, or a C handler named by dladdr as
library:symbol), its sa_flags, and whether the signal is blocked in this
thread.  --compare is test_cpython.sh's check that a python-mpi rank's
signals are python3's (same launcher), but for those that
docs/cpython-differences.md lists as `signal.SIGNAME` (the MPI library's
own; `child.signal.SIGNAME` for a process a rank starts); it prints
tests/lib.sh lines and writes "PASSED FAILED SKIPPED".
"""
import ctypes
import ctypes.util
import signal
import sys

SA_FLAGS = {0x4: "SIGINFO", 0x8000000: "ONSTACK", 0x10000000: "RESTART",
            0x40000000: "NODEFER", 0x80000000: "RESETHAND", 0x4000000: "RESTORER",
            0x1: "NOCLDSTOP", 0x2: "NOCLDWAIT"}


class Sigaction(ctypes.Structure):   # glibc's struct sigaction on Linux
    _fields_ = [("handler", ctypes.c_void_p), ("mask", ctypes.c_ulong * 16),
                ("flags", ctypes.c_int), ("restorer", ctypes.c_void_p)]


class DlInfo(ctypes.Structure):
    _fields_ = [("fname", ctypes.c_char_p), ("fbase", ctypes.c_void_p),
                ("sname", ctypes.c_char_p), ("saddr", ctypes.c_void_p)]


def name(n):
    try:
        return signal.Signals(n).name
    except ValueError:
        return "SIGRTMIN+%d" % (n - signal.SIGRTMIN) if n >= signal.SIGRTMIN else "SIG%d" % n


def dump():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.sigaction.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(Sigaction)]
    libc.dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(DlInfo)]
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    lines = []
    for n in range(1, 65):
        try:
            py = signal.getsignal(n)
        except (ValueError, OSError):
            py = "invalid"
        if py is signal.SIG_DFL:
            py = "SIG_DFL"
        elif py is signal.SIG_IGN:
            py = "SIG_IGN"
        elif py is None:
            py = "None"
        elif callable(py):
            py = "python:" + getattr(py, "__qualname__", repr(py))
        sa = Sigaction()
        if libc.sigaction(n, None, ctypes.byref(sa)) != 0:
            err = ctypes.get_errno()
            c = "reserved-by-glibc" if err == 22 and 32 <= n < signal.SIGRTMIN else \
                "sigaction-failed(errno %d)" % err
            flags = ""
        else:
            h = sa.handler or 0
            if h == 0:
                c = "SIG_DFL"
            elif h == 1:
                c = "SIG_IGN"
            elif py.startswith("python:"):
                c = "Python's signal_handler"   # in python3 or libpython: the same code
            else:
                info = DlInfo()
                if libc.dladdr(h, ctypes.byref(info)) and info.fname:
                    lib = info.fname.decode().rsplit("/", 1)[-1]
                    sym = info.sname.decode() if info.sname else hex(h - (info.fbase or 0))
                    c = "%s:%s" % (lib, sym)
                else:
                    c = hex(h)
            flags = "|".join(v for k, v in sorted(SA_FLAGS.items()) if sa.flags & k and v != "RESTORER")
        lines.append("%2d %-12s py=%-28s c=%-40s %s%s" % (
            n, name(n), py, c, flags or "-", " BLOCKED" if n in blocked else ""))
    return lines


def diff(a, b):
    la = open(a).read().splitlines()
    lb = open(b).read().splitlines()
    for x, y in zip(la, lb):
        if x.split() != y.split():
            print("- " + x)
            print("+ " + y)


def compare(argv):
    import argparse
    import os
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import compare as cmp
    ap = argparse.ArgumentParser()
    ap.add_argument("--compare", nargs=2, required=True, metavar=("REF", "PM"))
    for opt in ("--mode", "--mpi", "--expected", "--counts"):
        ap.add_argument(opt, required=True)
    ap.add_argument("--id-prefix", default="signal.", help="signal.: a rank; child.signal.: its child")
    a = ap.parse_args(argv)
    expected = cmp.read_expected(a.expected, a.mode, a.mpi)
    runs = []
    for path in a.compare:
        try:
            runs.append({int(l.split()[0]): l for l in open(path).read().splitlines()
                         if l[:2].strip().isdigit()})
        except OSError:
            runs.append({})
    ref, pm = runs
    passed = failed = skipped = 0
    if len(ref) != 64 or len(pm) != 64:
        failed += 1
        print("not ok - %s: signal dispositions of both (python3: %d, python-mpi: %d of 64 read)"
              % (a.mode, len(ref), len(pm)))
    used = set()
    for n in sorted(set(ref) & set(pm)):
        r, p = ref[n].split(), pm[n].split()
        tid = a.id_prefix + r[1]
        why = expected.get(tid)
        if why is not None:
            used.add(tid)
        if r[2:] == p[2:]:
            if why is not None:
                failed += 1
                print("not ok - %s: %s is listed as an expected difference but is as python3's"
                      % (a.mode, tid))
            else:
                passed += 1
        elif why is not None:
            skipped += 1
            print("ok - %s: %s # SKIP expected difference (%s): %s"
                  % (a.mode, tid, " ".join(p[2:]), why))
        else:
            failed += 1
            print("not ok - %s: %s differs from python3's" % (a.mode, tid))
            print("#   python3:    " + " ".join(r[2:]))
            print("#   python-mpi: " + " ".join(p[2:]))
    for tid in sorted(t for t in expected if t.startswith(a.id_prefix) and t not in used):
        failed += 1
        print("not ok - %s: %s is listed as an expected difference but no dump has it" % (a.mode, tid))
    print("ok - %s: %s*: %d of %d dispositions as python3's" % (a.mode, a.id_prefix, passed, len(ref)))
    with open(a.counts, "w") as f:
        f.write("%d %d %d\n" % (passed, failed, skipped))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--diff":
        diff(sys.argv[2], sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "--compare":
        compare(sys.argv[1:])
    else:
        print("\n".join(dump()))
