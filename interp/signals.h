/* signals.h - a rank's signal dispositions are python3's.
 *
 * MPI libraries install handlers for their own debugging and fault
 * reports: UCX (under MPICH's ch4:ucx) when it is loaded, before main
 * runs: SIGHUP for its debug mode, SIGILL, SIGSEGV, SIGBUS and SIGFPE for
 * backtraces; Open MPI in MPI_Init: SIGABRT, SIGBUS, SIGFPE, SIGSEGV for
 * backtraces; MPICH in MPI_Init: SIGUSR1, its process-failure notice (used
 * only with hydra's -disable-auto-cleanup, which python-mpi does not
 * support).  Under python3 a hangup or a SIGUSR1 ends the process,
 * signal.getsignal() tells the truth, and a fault prints Python's report
 * alone.  So, unless the user asked the library for its own signal
 * handlers (UCX_ERROR_SIGNALS, UCX_DEBUG_SIGNO, OMPI_MCA_opal_signal set
 * to signals: then the library's fault and debug handlers stay):
 *   - before MPI_Init, handlers that are already installed are taken down
 *     (a fresh process has none: exec resets them; ignored signals stay
 *     ignored, as python3 inherits them), and OMPI_MCA_opal_signal is set
 *     empty;
 *   - every disposition is saved, and after MPI_Init each one the library
 *     changed is put back.
 * Signals an MPI library drives itself are left alone: SIGALRM and SIGIO
 * (UCX's signal-driven progress mode), SIGCHLD, the real-time signals.
 * Python then installs its own (SIGINT, SIGPIPE, SIGXFSZ), as in python3. */
#ifndef PM_SIGNALS_H
#define PM_SIGNALS_H

/* Before MPI_Init.  0, or -1 after printing why. */
int pm_signals_before_mpi(void);

/* After MPI_Init: put back what MPI_Init changed.  Returns the number of
 * dispositions put back. */
int pm_signals_after_mpi(void);

#endif
