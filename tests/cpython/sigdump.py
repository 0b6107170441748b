"""sigdump.py - the signal dispositions of this process, one line per signal.

    python3 sigdump.py            # or python-mpi sigdump.py, mpiexec -n 1 ...
    python3 sigdump.py --diff A B # two saved dumps: the signals that differ

For each signal 1..64: what signal.getsignal says (SIG_DFL, SIG_IGN, a
Python handler, or None: a handler Python did not install) and what the
kernel has (sigaction: SIG_DFL, SIG_IGN, or a C handler named by dladdr as
library:symbol), its sa_flags, and whether the signal is blocked in this
thread.  Used to compare a python-mpi rank's signals with python3's
(issue 17); not run by make check.
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
            c = "sigaction-failed(errno %d)" % ctypes.get_errno()
            flags = ""
        else:
            h = sa.handler or 0
            if h == 0:
                c = "SIG_DFL"
            elif h == 1:
                c = "SIG_IGN"
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


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--diff":
        diff(sys.argv[2], sys.argv[3])
    else:
        print("\n".join(dump()))
