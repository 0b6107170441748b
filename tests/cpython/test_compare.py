"""test_compare.py - compare.py on made-up regrtest results: every verdict it can give.

Run by test_cpython.sh before the real runs (python3 test_compare.py).
"""
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
COMPARE = os.path.join(HERE, "compare.py")


def junit(*suites):
    """suites: lists of (name, kind, text); kind: pass, skip, fail, error, anon."""
    out = ["<testsuites>"]
    for cases in suites:
        out.append("<testsuite>")
        for name, kind, text in cases:
            if kind == "anon":
                out.append("<testcase />")
            elif kind == "pass":
                out.append('<testcase name="%s" status="run" result="completed" />' % name)
            elif kind == "skip":
                out.append('<testcase name="%s" status="run" result="completed">'
                           "<skipped>%s</skipped></testcase>" % (name, text))
            else:
                out.append('<testcase name="%s" status="run" result="completed"><%s type="x" '
                           'message="%s">tb</%s></testcase>' % (name, "failure" if kind == "fail"
                                                               else "error", text, kind == "fail"
                                                               and "failure" or "error"))
        out.append("</testsuite>")
    out.append("</testsuites>")
    return "\n".join(out)


A = "test.test_a.T."
B = "test.test_b.T."
BASE_A = [(A + "test_1", "pass", ""), (A + "test_2", "pass", ""), (A + "test_3", "skip", "no way")]
BASE_B = [(B + "test_1", "pass", "")]
OK_LOG = "== Tests result: SUCCESS ==\n\nAll 2 tests OK.\n\nTests result: SUCCESS\n"


class CompareTests(unittest.TestCase):
    def run_compare(self, ref, pm, pm_log=OK_LOG, expected="", mode="direct", mpi="mpich",
                    modules="test_a test_b"):
        d = tempfile.mkdtemp()
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", d]))
        files = {"ref.xml": ref, "ref.log": OK_LOG, "pm.xml": pm, "pm.log": pm_log,
                 "exp.md": "# list\n\n" + textwrap.dedent(expected)}
        for n, text in files.items():
            with open(os.path.join(d, n), "w") as f:
                f.write(text)
        p = lambda n: os.path.join(d, n)
        proc = subprocess.run([sys.executable, COMPARE, "--mode", mode, "--mpi", mpi,
                               "--expected", p("exp.md"), "--ref", p("ref.xml"), p("ref.log"),
                               "--pm", p("pm.xml"), p("pm.log"), "--modules", modules,
                               "--counts", p("counts")], capture_output=True, text=True)
        counts = None
        if os.path.exists(p("counts")):
            with open(p("counts")) as f:
                counts = tuple(int(x) for x in f.read().split())
        return proc, counts

    def test_same_results_pass_and_skips_are_counted(self):
        proc, counts = self.run_compare(junit(BASE_A, BASE_B), junit(BASE_A, BASE_B))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(counts, (3, 0, 1))
        self.assertIn("ok - direct: test_a: 1 test # SKIP skipped under python3: no way", proc.stdout)
        self.assertNotIn("not ok", proc.stdout)

    def test_a_failure_under_python_mpi_only_fails(self):
        pm = junit([(A + "test_1", "fail", "AssertionError: 1 != 2")] + BASE_A[1:], BASE_B)
        proc, counts = self.run_compare(junit(BASE_A, BASE_B), pm)
        self.assertEqual(counts, (2, 1, 1))
        self.assertIn("not ok - direct: test.test_a.T.test_1 passes under python3, not under python-mpi",
                      proc.stdout)
        self.assertIn("AssertionError: 1 != 2", proc.stdout)

    def test_a_skip_under_python_mpi_only_fails(self):
        pm = junit([(A + "test_1", "skip", "dodged")] + BASE_A[1:], BASE_B)
        proc, counts = self.run_compare(junit(BASE_A, BASE_B), pm)
        self.assertEqual(counts[1], 1)
        self.assertIn("skipped under python-mpi only: dodged", proc.stdout)

    def test_listed_difference_is_a_counted_skip(self):
        pm = junit([(A + "test_1", "error", "OSError: no")] + BASE_A[1:], BASE_B)
        proc, counts = self.run_compare(junit(BASE_A, BASE_B), pm,
                                        expected="- expect: test.test_a.T.test_1 [direct] a reason\n")
        self.assertEqual(counts, (2, 0, 2))
        self.assertIn("# SKIP expected difference (OSError: no): a reason", proc.stdout)

    def test_listed_difference_that_passes_fails(self):
        proc, counts = self.run_compare(junit(BASE_A, BASE_B), junit(BASE_A, BASE_B),
                                        expected="- expect: test.test_a.T.test_1 [all] stale\n")
        self.assertEqual(counts[1], 1)
        self.assertIn("is listed as an expected difference but passes under python-mpi", proc.stdout)

    def test_listed_test_that_no_run_has_fails(self):
        proc, counts = self.run_compare(junit(BASE_A, BASE_B), junit(BASE_A, BASE_B),
                                        expected="- expect: test.test_a.T.test_gone [direct] old\n")
        self.assertEqual(counts[1], 1)
        self.assertIn("test.test_a.T.test_gone is listed as an expected difference but no run has it",
                      proc.stdout)

    def test_entries_for_other_modes_and_mpis_do_not_apply(self):
        pm = junit([(A + "test_1", "fail", "E")] + BASE_A[1:], BASE_B)
        exp = ("- expect: test.test_a.T.test_1 [mpiexec,delivered] not here\n"
               "- expect: test.test_b.T.test_1 [direct@openmpi] not this MPI\n")
        proc, counts = self.run_compare(junit(BASE_A, BASE_B), pm, expected=exp)
        self.assertEqual(counts, (2, 1, 1))
        self.assertIn("not ok - direct: test.test_a.T.test_1 passes under python3", proc.stdout)
        proc, counts = self.run_compare(junit(BASE_A, BASE_B), pm, expected=exp, mode="mpiexec")
        self.assertEqual(counts, (2, 0, 2))

    def test_failed_subtests_are_named_from_the_log(self):
        # regrtest leaves a test whose subtests failed as <testcase/>.
        pm = junit([BASE_A[0], ("", "anon", ""), BASE_A[2]], BASE_B)
        log = ("=" * 70 + "\nFAIL: test_2 (test.test_a.T.test_2) [case=1]\nDoc.\n" + "-" * 70 +
               "\nTraceback (most recent call last):\n  File \"x\", line 1\n"
               "AssertionError: 'a' != 'b'\n\n" + "-" * 70 + "\nRan 3 tests\n")
        proc, counts = self.run_compare(junit(BASE_A, BASE_B), junit([BASE_A[0], ("", "anon", ""),
                                                                      BASE_A[2]], BASE_B), pm_log=log)
        self.assertEqual(counts, (2, 1, 1))
        self.assertIn("not ok - direct: test.test_a.T.test_2 passes under python3", proc.stdout)
        self.assertIn("[case=1] AssertionError: 'a' != 'b'", proc.stdout)

    def test_an_unnamed_failure_still_fails(self):
        pm = junit([BASE_A[0], ("", "anon", ""), BASE_A[2]], BASE_B)
        proc, counts = self.run_compare(junit(BASE_A, BASE_B), pm)
        # test_2 is missing, and the anonymous failure is reported as well.
        self.assertEqual(counts[1], 2)
        self.assertIn("test.test_a.<unnamed failure 1>", proc.stdout)

    def test_a_module_without_results_fails(self):
        log = "== Tests result: FAILURE ==\n\n1 test failed:\n    test_b\n\nTests result: FAILURE\n"
        proc, counts = self.run_compare(junit(BASE_A, BASE_B), junit(BASE_A), pm_log=log)
        self.assertEqual(counts, (2, 2, 1))
        self.assertIn("not ok - direct: test_b: python-mpi has no results (failed)", proc.stdout)
        self.assertIn("not ok - direct: test.test_b.T.test_1 passes under python3, not under python-mpi",
                      proc.stdout)

    def test_no_python3_results_fails(self):
        proc, counts = self.run_compare(junit(BASE_B), junit(BASE_A, BASE_B))
        self.assertIn("not ok - direct: test_a: python3 has no results", proc.stdout)
        self.assertGreaterEqual(counts[1], 1)

    def test_a_missing_xml_fails(self):
        proc, counts = self.run_compare(junit(BASE_A, BASE_B), "")
        self.assertIn("not ok - direct: python-mpi's run: no junit xml", proc.stdout)

    def test_python3_failures_are_skips_not_passes(self):
        ref = junit([(A + "test_1", "fail", "E: env")] + BASE_A[1:], BASE_B)
        proc, counts = self.run_compare(ref, junit(BASE_A, BASE_B))
        self.assertEqual(counts, (2, 0, 2))
        self.assertIn("# SKIP fails under python3 too (E: env); python-mpi: pass", proc.stdout)

    def test_an_unreadable_entry_stops_the_run(self):
        proc, counts = self.run_compare(junit(BASE_A), junit(BASE_A), modules="test_a",
                                        expected="- expect: test.test_a.T.test_1 direct no brackets\n")
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("cannot read", proc.stderr)
        self.assertIsNone(counts)


SIGDUMP = os.path.join(HERE, "sigdump.py")


class SigdumpCompareTests(unittest.TestCase):
    def dump(self, changed=None):
        lines = []
        for n in range(1, 65):
            line = "%2d SIG%-9d py=SIG_DFL c=SIG_DFL -" % (n, n)
            if changed and n in changed:
                line = "%2d SIG%-9d py=None c=libx.so:0x10 SIGINFO" % (n, n)
            lines.append(line)
        return "\n".join(lines) + "\n"

    def run_sig(self, ref, pm, expected=""):
        d = tempfile.mkdtemp()
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", d]))
        for n, text in (("ref", ref), ("pm", pm), ("exp.md", expected)):
            with open(os.path.join(d, n), "w") as f:
                f.write(text)
        p = lambda n: os.path.join(d, n)
        proc = subprocess.run([sys.executable, SIGDUMP, "--compare", p("ref"), p("pm"), "--mode",
                               "mpiexec", "--mpi", "mpich", "--expected", p("exp.md"),
                               "--counts", p("counts")], capture_output=True, text=True)
        with open(p("counts")) as f:
            return proc, tuple(int(x) for x in f.read().split())

    def test_same_dispositions_pass(self):
        proc, counts = self.run_sig(self.dump(), self.dump())
        self.assertEqual(counts, (64, 0, 0))

    def test_a_changed_signal_fails(self):
        proc, counts = self.run_sig(self.dump(), self.dump({10}))
        self.assertEqual(counts, (63, 1, 0))
        self.assertIn("not ok - mpiexec: signal.SIG10 differs from python3's", proc.stdout)

    def test_a_listed_signal_is_a_skip_and_must_differ(self):
        exp = "- expect: signal.SIG10 [mpiexec@mpich] the MPI's\n"
        proc, counts = self.run_sig(self.dump(), self.dump({10}), exp)
        self.assertEqual(counts, (63, 0, 1))
        proc, counts = self.run_sig(self.dump(), self.dump(), exp)
        self.assertEqual(counts[1], 1)
        self.assertIn("listed as an expected difference but is as python3's", proc.stdout)

    def test_a_short_dump_fails(self):
        proc, counts = self.run_sig(self.dump(), "")
        self.assertGreaterEqual(counts[1], 1)


if __name__ == "__main__":
    unittest.main()
