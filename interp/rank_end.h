/* rank_end.h - python-mpi owns the end of a rank, for the endings it can
 * catch without replacing libc's exit functions.
 *
 * Python does not always return to its embedder: SystemExit (sys.exit(),
 * exit(), quit(), raise SystemExit, a script's sys.exit(main())) is
 * handled inside Python, which finalizes itself and calls exit(); after an
 * unhandled KeyboardInterrupt Py_RunMain kills its own process with SIGINT;
 * os._exit() leaves at once.  So the end of a rank is one function, run at
 * most once, in the process that armed it, from whichever of these comes
 * first.
 *
 * Caught (the end runs; its status is the one the process leaves with):
 *   - python-mpi's own return from Py_RunMain (the program ended, an
 *     uncaught exception, -m, the prompt): pm_rank_end_exit runs the end
 *     before exit() is called, so every exit handler runs after it;
 *   - exit(status), from Python (SystemExit) or from C: an on_exit handler,
 *     registered after MPI_Init and so run before the MPI library's, runs
 *     the end.  If the end changes the status it calls exit() again:
 *     glibc runs the handlers registered before ours (MPI's, the shared
 *     libraries' destructors) and stdio's clean-up with the new status
 *     (its __run_exit_handlers supports exit() from a handler: "We call
 *     everyone on the list and use the status value in the last exit ()",
 *     glibc 2.28 to 2.41, whose recursive exit lock states the same);
 *   - an unhandled KeyboardInterrupt: Py_RunMain's kill(getpid(), SIGINT)
 *     after Python has finalized is not sent (this module's kill, which the
 *     executable exports, returns 0 for that one call), so Py_RunMain
 *     returns 130 and the end runs as above;
 *   - os._exit(status) / posix._exit(status) from Python: once Python is
 *     ready (pm_rank_end_python_ready) both names are a builtin of ours
 *     that runs the end and then calls libc's _exit with its status.  A
 *     reference taken during start-up (sitecustomize, a .pth file) is
 *     Python's own and is not caught.
 * Not caught (the end does not run: no barrier, no MPI_Finalize, no
 * MPI_Abort, no tree removal by this process):
 *   - _exit(), _Exit(), quick_exit() called from C (an extension module, a
 *     library, ctypes) and a raw exit_group system call: they stay what
 *     libc makes them (async-signal-safe where POSIX says so);
 *   - a signal that kills the rank (SIGKILL, SIGSEGV, SIGTERM's default).
 *   Then the launcher sees the rank die without MPI_Finalize: hydra, Open
 *   MPI's mpirun and Slurm end the job when a rank dies by a signal; an
 *   exit without MPI_Finalize ends it under Open MPI, while hydra and srun
 *   without --kill-on-bad-exit may leave the other ranks waiting in a
 *   collective until the time limit.  The node's tree is removed by the
 *   leader's watcher once the leader is gone (reaper.h).
 * Only the process that armed it runs the end: processes forked from a rank
 * (multiprocessing, os.fork) leave by exit() or os._exit() as they would
 * without python-mpi. */
#ifndef PM_RANK_END_H
#define PM_RANK_END_H

/* The end of a rank: status is what the program exited with; returns the
 * status the process leaves with.  how says what ended the program. */
enum pm_end_how {
    PM_END_EXIT,        /* exit(): a normal end, SystemExit, exit() from C */
    PM_END_INTERRUPT,   /* an unhandled KeyboardInterrupt (status 130) */
    PM_END_UNDERSCORE,  /* os._exit(): Python did not finalize */
};
typedef int (*pm_end_fn)(int status, enum pm_end_how how, void *ctx);

/* Arm once, after MPI_Init: from now on fn(ctx) runs at most once in this
 * process, for the endings caught above.  0, or -1 after printing why. */
int pm_rank_end_arm(pm_end_fn fn, void *ctx);

/* Call after Py_Initialize, before running the program, in an armed
 * process (elsewhere it does nothing): registers the hook (Py_AtExit)
 * that keeps Python's SIGINT self-kill from bypassing the end, and
 * replaces os._exit and posix._exit.  0, or -1 after printing why. */
int pm_rank_end_python_ready(void);

/* End the process where the caller controls the call: run the end (if
 * armed and not yet begun) with status, then exit() with its result. */
_Noreturn void pm_rank_end_exit(int status);

/* Has the end already begun in this process? */
int pm_rank_end_running(void);

#endif
