#!/usr/bin/env python3
"""compare.py - python-mpi's CPython test results against python3's, test by test.

    compare.py --mode MODE --mpi MPI --expected docs/cpython-differences.md \
        --ref XML LOG --pm XML LOG --modules "test_a test_b" --counts FILE

Each run is regrtest's --junit-xml file plus its log (run with -W, so the
log names every failing test, subtests included: regrtest 3.11 leaves a
test whose subtests failed as an empty <testcase/> in the XML).  Prints
lines in the tests/lib.sh style and writes "PASSED FAILED SKIPPED" (counts
of tests, not of lines) to the counts file; the runner adds them up.

A test id is unittest's (test.test_mod.Class.test_name).  Outcomes: pass,
skip, fail, missing.  A test fails here when python3 passes it and
python-mpi does not (or skips it), unless docs/cpython-differences.md
lists it for this mode; a listed test that passes under python-mpi, or
that no run has, fails here too, so the list stays true.
"""
import argparse
import collections
import fnmatch
import re
import sys
import xml.etree.ElementTree as ET

MODES = ("direct", "mpiexec", "delivered")
EXPECT_RE = re.compile(r"^- expect: (\S+) \[([^\]]+)\] (.+)$")
HEADER_RE = re.compile(r"^(FAIL|ERROR|UNEXPECTED SUCCESS): (\S+) \(([^)]*)\)(.*)$")
SUMMARY_RE = re.compile(r"^(\d+|All \d+) tests? ([A-Za-z][A-Za-z ]*[A-Za-z])[:.]$")
EXC_RE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Failure)\b.*")

Result = collections.namedtuple("Result", "outcome detail")   # detail: message or skip reason


def norm_id(name, paren=None):
    """unittest's id from "test_x (test.mod.Class.test_x)" or a setUpClass
    holder's "setUpClass (test.mod.Class)"."""
    if paren is None:
        m = re.match(r"^(\S+) \(([^)]*)\)$", name)
        if not m:
            return name
        name, paren = m.groups()
    return paren if paren == name or paren.endswith("." + name) else paren + "." + name


def module_of(test_id):
    parts = test_id.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "test" else parts[0]


def short(text, n=160):
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 3] + "..."


def first_exception_line(text):
    lines = [l for l in (text or "").splitlines() if l.strip()]
    for l in lines:
        if EXC_RE.match(l):
            return l
    return lines[-1] if lines else ""


def read_log(path):
    """Failing tests named in the log (from -W output) and regrtest's
    verdict per module (from its closing summary)."""
    fails, modules = {}, {}
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError:
        return fails, modules
    section = None
    for i, line in enumerate(lines):
        s = SUMMARY_RE.match(line)
        if s:
            section = {"OK": "passed"}.get(s.group(2), s.group(2))
            continue
        if section and line.startswith("    ") and line.strip():
            for mod in line.split():
                modules.setdefault(mod, section)
            continue
        section = None
        h = HEADER_RE.match(line)
        if h:
            kind, name, paren, sub = h.groups()
            tid = norm_id(name, paren)
            block = []
            for l in lines[i + 1:]:
                if l.startswith("=" * 20) or l.startswith("Ran "):
                    break
                block.append(l)
            msg = first_exception_line("\n".join(block))
            label = (sub.strip() + " " if sub.strip() else "") + msg
            if tid not in fails:
                fails[tid] = Result("fail", short(kind + ": " + label))
    # "All 11 tests OK." or "6 tests OK." lists nobody: the rest passed.
    if any(SUMMARY_RE.match(l) and SUMMARY_RE.match(l).group(2) == "OK" for l in lines):
        modules["*"] = "passed"
    return fails, modules


def verdict(verdicts, mod):
    """regrtest's word on a module: passed, failed, skipped, ... or "no
    verdict" when the run never reached its summary."""
    return verdicts.get(mod, verdicts.get("*", "no verdict"))


def read_run(xml_path, log_path):
    """{test id: Result}, {module: regrtest's verdict}, [problems]."""
    results, problems = {}, []
    log_fails, verdicts = read_log(log_path)
    anonymous = collections.Counter()
    try:
        root = ET.parse(xml_path).getroot()
    except (OSError, ET.ParseError) as e:
        return results, verdicts, ["no junit xml (%s)" % e]
    for suite in root.iter("testsuite"):
        names = [tc.get("name") for tc in suite.iter("testcase") if tc.get("name")]
        suite_module = module_of(norm_id(names[0])) if names else None
        for tc in suite.iter("testcase"):
            if not tc.get("name"):
                anonymous[suite_module] += 1
                continue
            tid = norm_id(tc.get("name"))
            kids = {k.tag: k for k in tc}
            if "failure" in kids or "error" in kids:
                k = kids.get("failure", kids.get("error"))
                res = Result("fail", short(first_exception_line(k.get("message", ""))))
            elif "skipped" in kids:
                res = Result("skip", short(kids["skipped"].text or ""))
            elif "outcome" in kids:   # unexpected success
                res = Result("fail", "unexpected success")
            else:
                res = Result("pass", "")
            if res.outcome == "fail" and tid in log_fails:
                res = log_fails[tid]
            results[tid] = res
    # Tests that regrtest's XML left unnamed (failed subtests): the log
    # names them; any left unnamed stay failures.
    named_from_log = collections.Counter()
    for tid, res in log_fails.items():
        if tid not in results:
            results[tid] = res
            named_from_log[module_of(tid)] += 1
    for mod, n in anonymous.items():
        missing = n - named_from_log.get(mod, 0)
        for k in range(max(missing, 0)):
            results["test.%s.<unnamed failure %d>" % (mod, k + 1)] = Result(
                "fail", "a failing test that neither the junit xml nor the log names")
    return results, verdicts, problems


def read_expected(path, mode, mpi):
    """{test id: reason} for this mode and MPI.  Modes: all, direct,
    mpiexec, delivered, each optionally @mpich or @openmpi."""
    out = {}
    for lineno, line in enumerate(open(path, encoding="utf-8"), 1):
        m = EXPECT_RE.match(line.rstrip("\n"))
        if not m:
            if line.startswith("- expect:"):
                sys.exit("%s:%d: cannot read: %s" % (path, lineno, line.strip()))
            continue
        tid, modes, reason = m.groups()
        for tok in modes.split(","):
            tmode, _, tmpi = tok.strip().partition("@")
            if tmode not in MODES + ("all",) or tmpi not in ("", "mpich", "openmpi"):
                sys.exit("%s:%d: unknown mode '%s'" % (path, lineno, tok))
            if tmode in (mode, "all") and tmpi in ("", mpi):
                out[tid] = reason.strip()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", required=True, choices=MODES)
    ap.add_argument("--mpi", required=True)
    ap.add_argument("--expected", required=True)
    ap.add_argument("--ref", nargs=2, required=True, metavar=("XML", "LOG"))
    ap.add_argument("--pm", nargs=2, required=True, metavar=("XML", "LOG"))
    ap.add_argument("--modules", required=True)
    ap.add_argument("--counts", required=True)
    ap.add_argument("--verbose", action="store_true", help="an ok line for every passing test")
    a = ap.parse_args()
    mode = a.mode
    expected = read_expected(a.expected, mode, a.mpi)
    ref, ref_verdicts, ref_problems = read_run(*a.ref)
    pm, pm_verdicts, pm_problems = read_run(*a.pm)
    passed = failed = skipped = 0

    def ok(text):
        print("ok - %s: %s" % (mode, text))

    def not_ok(text, detail=None):
        nonlocal failed
        failed += 1
        print("not ok - %s: %s" % (mode, text))
        if detail:
            print("#   " + detail)

    for p in ref_problems:
        not_ok("python3's run: " + p)
    for p in pm_problems:
        not_ok("python-mpi's run: " + p)

    used = set()
    by_module = collections.defaultdict(list)
    for tid in set(ref) | set(pm):
        by_module[module_of(tid)].append(tid)
    for mod in a.modules.split():
        tids = sorted(by_module.get(mod, []))
        if not any(t in ref for t in tids):
            not_ok("%s: python3 has no results (%s)" % (mod, verdict(ref_verdicts, mod)),
                   "nothing to compare python-mpi with: see the python3 log")
            continue
        if not any(t in pm for t in tids):
            not_ok("%s: python-mpi has no results (%s)" % (mod, verdict(pm_verdicts, mod)))
        mod_pass = 0
        skips = collections.Counter()   # (why) -> n
        for tid in tids:
            r = ref.get(tid, Result("missing", ""))
            p = pm.get(tid, Result("missing", "not in python-mpi's results (module %s)" %
                                   verdict(pm_verdicts, mod)))
            why = expected.get(tid)
            if why is not None:
                used.add(tid)
            if r.outcome == "pass":
                if p.outcome == "pass":
                    if why is not None:
                        not_ok("%s is listed as an expected difference but passes under python-mpi"
                               % tid, "remove it from %s (%s)" % (a.expected, why))
                    else:
                        mod_pass += 1
                        if a.verbose:
                            ok(tid)
                elif why is not None:
                    skipped += 1
                    print("ok - %s: %s # SKIP expected difference (%s): %s" %
                          (mode, tid, short(p.detail, 100), why))
                else:
                    what = "skipped under python-mpi only: " if p.outcome == "skip" else ""
                    not_ok("%s passes under python3, not under python-mpi" % tid, what + p.detail)
            elif r.outcome == "skip":
                if why is not None:
                    not_ok("%s is listed as an expected difference but python3 skips it (%s)" %
                           (tid, r.detail), "the list cannot be checked here; fix the entry")
                    continue
                note = {"skip": "", "pass": "; passes under python-mpi",
                        "fail": "; fails under python-mpi", "missing": "; not run by python-mpi"}[p.outcome]
                skips["skipped under python3: " + r.detail + note] += 1
            elif r.outcome == "fail":
                if why is not None:
                    not_ok("%s is listed as an expected difference but fails under python3 too" % tid,
                           r.detail)
                    continue
                skipped += 1
                print("ok - %s: %s # SKIP fails under python3 too (%s); python-mpi: %s" %
                      (mode, tid, r.detail, p.outcome))
            elif "<unnamed" in tid:
                not_ok("%s: %s" % (tid, p.detail))
            else:   # not in python3's results: run by python-mpi only
                skips["not run by python3; python-mpi: " + p.outcome] += 1
        passed += mod_pass
        ok("%s: %d tests pass as under python3 (regrtest under python-mpi: %s)" % (mod, mod_pass, verdict(pm_verdicts, mod)))
        for why, n in sorted(skips.items()):
            skipped += n
            print("ok - %s: %s: %d test%s # SKIP %s" % (mode, mod, n, "" if n == 1 else "s", why))

    # Entries for modules this run left out (CPYTHON_MODULES) say nothing.
    for tid in sorted(t for t in set(expected) - used if module_of(t) in a.modules.split()):
        not_ok("%s is listed as an expected difference but no run has it" % tid,
               "stale entry in %s: %s" % (a.expected, expected[tid]))
    with open(a.counts, "w") as f:
        f.write("%d %d %d\n" % (passed, failed, skipped))
    return 0


if __name__ == "__main__":
    sys.exit(main())
