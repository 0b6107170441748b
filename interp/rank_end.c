/* rank_end.c - the one end of a rank: exit(), _exit() and Python's SIGINT
 * self-kill all lead to the function armed here (see rank_end.h).
 *
 * _exit and kill are defined here, in the executable, which exports them:
 * the dynamic linker then binds libpython's and extension modules' calls
 * to these (a static libpython binds to them at link time).  glibc's own
 * internal calls (exit() ending in _exit) do not come here.  Both pass
 * straight to the system call except in the one case each exists for. */
#include "rank_end.h"
#include "log.h"

#include <Python.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { IDLE, ARMED, ENDING };
static atomic_int state = IDLE;
static pid_t owner;                 /* the process that armed; 0: none */
static pm_end_fn end_fn;
static void *end_ctx;
static atomic_int python_finalized; /* Py_FinalizeEx has run (owner only) */
static atomic_int interrupted;      /* Python's SIGINT self-kill was held back */

static _Noreturn void leave(int status)
{
    for (;;)
        syscall(SYS_exit_group, status);
}

/* The first caller in the owner process wins; everyone else passes. */
static int begin_end(void)
{
    if (owner == 0 || getpid() != owner)
        return 0;
    int expected = ARMED;
    return atomic_compare_exchange_strong(&state, &expected, ENDING);
}

static void at_exit(int status, void *arg)
{
    (void)arg;
    if (!begin_end())
        return;
    enum pm_end_how how = atomic_load(&interrupted) ? PM_END_INTERRUPT : PM_END_EXIT;
    int final = end_fn(status, how, end_ctx);
    if ((final & 0xff) != (status & 0xff)) {
        /* exit() cannot change its status: leave with ours, stdio flushed
         * as exit() would have. */
        (void)fflush(NULL);
        leave(final);
    }
}

int pm_rank_end_arm(pm_end_fn fn, void *ctx)
{
    if (atomic_load(&state) != IDLE) {
        pm_error(NULL, "internal error: the end of the rank armed twice");
        return -1;
    }
    end_fn = fn;
    end_ctx = ctx;
    owner = getpid();
    atomic_store(&state, ARMED);
    /* on_exit, not atexit: the handler needs exit()'s status.  Handlers
     * run last-registered first, so this one runs before any that the MPI
     * library registered during MPI_Init. */
    if (on_exit(at_exit, NULL) != 0) {
        pm_error(NULL, "on_exit failed");
        atomic_store(&state, IDLE);
        owner = 0;
        return -1;
    }
    return 0;
}

static void python_done(void)
{
    if (owner != 0 && getpid() == owner)
        atomic_store(&python_finalized, 1);
}

int pm_rank_end_python_ready(void)
{
    /* Py_AtExit functions run at the very end of Py_FinalizeEx, after the
     * program's own atexit handlers: from then on a SIGINT this process
     * sends itself is Py_RunMain's way of saying "KeyboardInterrupt". */
    if (Py_AtExit(python_done) != 0) {
        pm_error(NULL, "Py_AtExit: too many exit functions");
        return -1;
    }
    return 0;
}

int pm_rank_end_running(void)
{
    return atomic_load(&state) == ENDING;
}

/* os._exit(), or a library's _exit(): the program ends without Python's
 * finalization, but the rank still ends as every rank must. */
void _exit(int status)
{
    if (begin_end())
        status = end_fn(status, PM_END_UNDERSCORE, end_ctx);
    leave(status);
}

/* After an unhandled KeyboardInterrupt, Py_RunMain resets SIGINT to its
 * default action and sends it to its own process, so that a shell sees
 * the ^C (bpo-1054041); a rank would die before ending.  That one call is
 * held back: Py_RunMain then returns 130, and the end reports it. */
int kill(pid_t pid, int sig)
{
    if (sig == SIGINT && owner != 0 && atomic_load(&python_finalized) &&
        atomic_load(&state) == ARMED && pid == getpid() && getpid() == owner) {
        atomic_store(&interrupted, 1);
        return 0;
    }
    return (int)syscall(SYS_kill, pid, sig);
}
