/* signals.c - python3's signal dispositions in a rank (signals.h). */
#include "signals.h"
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static struct sigaction saved[NSIG];
static int have_saved[NSIG];
static int user_configured;   /* the user set the libraries' signal variables */

/* Signals an MPI library may drive itself: left as it sets them. */
static int mpi_owned(int sig)
{
    return sig == SIGALRM || sig == SIGIO || sig == SIGCHLD || sig == SIGKILL || sig == SIGSTOP ||
           (sig >= SIGRTMIN && sig <= SIGRTMAX);
}

/* The libraries' fault and debug signals, which a user may ask them for. */
static int fault_or_debug(int sig)
{
    return sig == SIGHUP || sig == SIGILL || sig == SIGABRT || sig == SIGBUS || sig == SIGFPE ||
           sig == SIGSEGV;
}

static int has_handler(const struct sigaction *sa)
{
    if (sa->sa_flags & SA_SIGINFO)
        return 1;
    return sa->sa_handler != SIG_DFL && sa->sa_handler != SIG_IGN;
}

/* Does a variable ask the library for signal handlers?  Empty (or a
 * signal number 0) asks for none, as our own setting does: a rank's
 * children inherit that. */
static int asks_for_handlers(const char *var)
{
    const char *v = getenv(var);
    return v && *v && strcmp(v, "0") != 0;
}

int pm_signals_before_mpi(void)
{
    user_configured = asks_for_handlers("UCX_ERROR_SIGNALS") || asks_for_handlers("UCX_DEBUG_SIGNO") ||
                      asks_for_handlers("OMPI_MCA_opal_signal");
    if (!user_configured && setenv("OMPI_MCA_opal_signal", "", 0) != 0) {
        pm_error(NULL, "setenv OMPI_MCA_opal_signal: %s", strerror(errno));
        return -1;
    }
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; sig++) {
        if (mpi_owned(sig) || sigaction(sig, NULL, &saved[sig]) != 0)
            continue;
        /* A handler at this point was installed by a library's
         * constructor (UCX's), not inherited: exec resets handlers. */
        if (has_handler(&saved[sig]) && !(user_configured && fault_or_debug(sig))) {
            if (sigaction(sig, &dfl, NULL) != 0) {
                pm_error(NULL, "cannot reset the disposition of signal %d: %s", sig, strerror(errno));
                return -1;
            }
            saved[sig] = dfl;
        }
        have_saved[sig] = 1;
    }
    return 0;
}

static int same(const struct sigaction *a, const struct sigaction *b)
{
    if ((a->sa_flags & SA_SIGINFO) != (b->sa_flags & SA_SIGINFO))
        return 0;
    if (a->sa_flags & SA_SIGINFO)
        return a->sa_sigaction == b->sa_sigaction;
    return a->sa_handler == b->sa_handler;
}

int pm_signals_after_mpi(void)
{
    int restored = 0;
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction now;
        if (!have_saved[sig] || (user_configured && fault_or_debug(sig)) ||
            sigaction(sig, NULL, &now) != 0 || same(&now, &saved[sig]))
            continue;
        if (sigaction(sig, &saved[sig], NULL) == 0)
            restored++;
        else
            pm_error(NULL, "cannot restore the disposition of signal %d: %s", sig, strerror(errno));
    }
    return restored;
}
