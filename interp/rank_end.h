/* rank_end.h - python-mpi owns the end of every rank, whatever ends it.
 *
 * Python does not always return to its embedder: SystemExit (sys.exit(),
 * exit(), quit(), raise SystemExit, a script's sys.exit(main())) is
 * handled inside Python, which finalizes itself and calls exit(); after an
 * unhandled KeyboardInterrupt Py_RunMain kills its own process with SIGINT;
 * os._exit() leaves at once.  So the end of a rank is not the code after
 * Py_RunMain but one function, run exactly once, from whichever of these
 * comes first:
 *   - exit(status), from Python or from C (an on_exit handler sees the
 *     status; python-mpi's main ends with exit() too);
 *   - _exit(status) called by Python's os._exit or by any library (this
 *     module defines _exit, and the executable exports it, so calls from
 *     libpython and extension modules land here);
 *   - the self-kill after KeyboardInterrupt, which is held back (SIGINT is
 *     blocked once Python has finalized) so that it ends as status 130.
 * Only the process that armed it runs the end: processes forked from a rank
 * (multiprocessing, os.fork) leave as they would without python-mpi. */
#ifndef PM_RANK_END_H
#define PM_RANK_END_H

/* The end of a rank: status is what the program exited with; returns the
 * status the process leaves with.  how says what ended the program. */
enum pm_end_how {
    PM_END_EXIT,        /* exit(): a normal end, SystemExit, exit() from C */
    PM_END_INTERRUPT,   /* an unhandled KeyboardInterrupt (status 130) */
    PM_END_UNDERSCORE,  /* _exit() / os._exit(): Python did not finalize */
};
typedef int (*pm_end_fn)(int status, enum pm_end_how how, void *ctx);

/* Arm once, after MPI_Init: from now on fn(ctx) runs exactly once in this
 * process, whatever ends it.  0, or -1 after printing why. */
int pm_rank_end_arm(pm_end_fn fn, void *ctx);

/* Call after Py_Initialize, before running the program: registers the
 * hook (Py_AtExit) that keeps Python's SIGINT self-kill from bypassing the
 * end.  0, or -1 after printing why. */
int pm_rank_end_python_ready(void);

/* Has the end already begun in this process? */
int pm_rank_end_running(void);

#endif
