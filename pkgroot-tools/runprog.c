/* runprog.c - posix_spawn and wait (see runprog.h). */
#include "runprog.h"
#include "cleanup.h"
#include "fileio.h"
#include "log.h"
#include "pm_config.h"
#include "strutil.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int dropped(const char *var, const char *const *drop)
{
    for (; drop && *drop; drop++)
        if (strncmp(var, *drop, strlen(*drop)) == 0)
            return 1;
    return 0;
}

char **pk_env_build(const char *const *drop, const char *const *set)
{
    size_t n = 0, k = 0, ns = 0;
    while (environ && environ[n])
        n++;
    while (set && set[ns])
        ns++;
    char **env = calloc(n + ns + 1, sizeof *env);
    if (!env)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t name_len = strcspn(environ[i], "=");
        int replaced = 0;
        for (size_t j = 0; j < ns; j++)
            if (strncmp(set[j], environ[i], name_len + 1) == 0)
                replaced = 1;
        if (replaced || dropped(environ[i], drop))
            continue;
        if (!(env[k++] = strdup(environ[i])))
            goto oom;
    }
    for (size_t j = 0; j < ns; j++)
        if (!(env[k++] = strdup(set[j])))
            goto oom;
    return env;
oom:
    pk_env_free(env);
    return NULL;
}

void pk_env_free(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}

/* glibc 2.29's posix_spawn_file_actions_addchdir_np, looked up when the
 * program runs (the binaries need nothing newer than glibc 2.28, as
 * reaper.c's closefrom).  Without it the child keeps our working
 * directory: the Pythons we run get -I, which keeps it off sys.path, and
 * pip's operands are made absolute, so it is only a second guard. */
typedef int addchdir_fn(posix_spawn_file_actions_t *, const char *);

static int add_chdir(posix_spawn_file_actions_t *fa, const char *cwd)
{
#if PM_FORCED_FALLBACKS
    (void)fa;
    (void)cwd;
    return 0;
#else
    void *f = dlsym(RTLD_DEFAULT, "posix_spawn_file_actions_addchdir_np");
    addchdir_fn *fn;
    memcpy(&fn, &f, sizeof fn);   /* ISO C has no object-to-function cast */
    return fn ? fn(fa, cwd) : 0;
#endif
}

int pk_run(char *const argv[], char *const envp[], int out_fd, int err_fd, char **capture)
{
    return pk_run_in("/", argv, envp, out_fd, err_fd, capture);
}

int pk_run_in(const char *cwd, char *const argv[], char *const envp[], int out_fd, int err_fd,
              char **capture)
{
    posix_spawn_file_actions_t fa;
    int pipefd[2] = {-1, -1};
    int rc = -1, err;
    if ((err = posix_spawn_file_actions_init(&fa)) != 0) {
        pm_error(argv[0], "cannot run: %s", strerror(err));
        return -1;
    }
    if (capture && pipe2(pipefd, O_CLOEXEC) != 0) {
        err = errno;
        goto fail;
    }
    /* Never the caller's working directory: a Python puts it first on
     * sys.path (-m, -c), and another user may write it (/tmp). */
    if ((err = add_chdir(&fa, cwd)) != 0 ||
        (err = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) != 0)
        goto fail;
    if (capture)
        err = posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    else if (out_fd >= 0)
        err = posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    else
        err = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (err != 0)
        goto fail;
    err = err_fd >= 0 ? posix_spawn_file_actions_adddup2(&fa, err_fd, 2)
                      : posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (err != 0)
        goto fail;
    /* Its own process group, so that cleanup can end it with whatever it
     * started (pip's build backends); registered with signals held, or a
     * signal now would leave a child running that nobody waits for. */
    posix_spawnattr_t attr;
    if ((err = posix_spawnattr_init(&attr)) != 0)
        goto fail;
    /* Signals are held around the spawn (below): the child must not
     * inherit that mask, nor a SIG_IGN, or it would outlive our cleanup. */
    sigset_t none, deflt;
    sigemptyset(&none);
    sigemptyset(&deflt);
    sigaddset(&deflt, SIGINT);
    sigaddset(&deflt, SIGTERM);
    sigaddset(&deflt, SIGHUP);
    if ((err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                   POSIX_SPAWN_SETSIGDEF)) != 0 ||
        (err = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
        (err = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
        (err = posix_spawnattr_setsigdefault(&attr, &deflt)) != 0) {
        posix_spawnattr_destroy(&attr);
        goto fail;
    }
    /* The child changes directory before exec: a relative program is
     * named from ours. */
    errno = 0;
    char *here = argv[0][0] == '/' ? NULL : getcwd(NULL, 0);
    char *prog = here ? pm_path_join(here, argv[0]) : NULL;
    free(here);
    if (argv[0][0] != '/' && !prog) {
        err = errno ? errno : ENOMEM;
        posix_spawnattr_destroy(&attr);
        goto fail;
    }
    pid_t pid;
    pk_cleanup_hold();
    err = posix_spawn(&pid, prog ? prog : argv[0], &fa, &attr, argv, envp);
    free(prog);
    if (err == 0)
        pk_cleanup_child(pid);
    pk_cleanup_release();
    posix_spawnattr_destroy(&attr);
    if (err != 0)
        goto fail;
    char *out = NULL;
    int rerr = 0;
    if (capture) {
        size_t olen;
        close(pipefd[1]);
        pipefd[1] = -1;
        if (pm_read_fd(pipefd[0], SIZE_MAX, 0, &out, &olen) != 0) {
            out = NULL;
            rerr = errno;
        }
    }
    int status;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    int werr = errno;
    pk_cleanup_child(0);
    if (w < 0) {
        free(out);
        pm_error(argv[0], "waitpid: %s", strerror(werr));
        goto done;
    }
    if (capture) {
        if (!out) {
            pm_error(argv[0], "reading its output: %s", strerror(rerr));
            goto done;
        }
        *capture = out;
    }
    rc = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
    goto done;
fail:
    pm_error(argv[0], "cannot run: %s", strerror(err));
done:
    for (int i = 0; i < 2; i++)
        if (pipefd[i] >= 0)
            close(pipefd[i]);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}
