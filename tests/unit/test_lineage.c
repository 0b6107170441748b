/* test_lineage.c - descendants of a rank are recognised at any depth, and
 * a process manager's own launches are not: the launcher identity, its
 * mark, and what counts in it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lineage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static pm_launch_id id_of(char **envp)
{
    pm_launch_id id;
    pm_launch_id_of(envp, &id);
    return id;
}

static void order_and_other_variables_do_not_count(void **state)
{
    (void)state;
    char *a[] = {"PMI_RANK=3", "PMI_SIZE=8", "HOME=/h", "PMI_FD=-1", NULL};
    char *b[] = {"UCX_TLS=tcp", "PMI_FD=-1", "PMI_SIZE=8", "PMI_RANK=3", "OMPI_MCA_btl=^tcp", NULL};
    pm_launch_id ia = id_of(a), ib = id_of(b);
    assert_true(ia.hash == ib.hash);
    assert_true(ia.pmi_socket == 0);
}

static void each_launch_is_its_own(void **state)
{
    (void)state;
    char *base[] = {"PMI_RANK=0", "PMI_SIZE=1", NULL};
    char *rank[] = {"PMI_RANK=1", "PMI_SIZE=1", NULL};
    char *pmix1[] = {"PMIX_NAMESPACE=123", "PMIX_RANK=0", NULL};
    char *pmix2[] = {"PMIX_NAMESPACE=124", "PMIX_RANK=0", NULL};
    char *step1[] = {"SLURM_JOB_ID=7", "SLURM_STEP_ID=0", "SLURM_PROCID=0", NULL};
    char *step2[] = {"SLURM_JOB_ID=7", "SLURM_STEP_ID=1", "SLURM_PROCID=0", NULL};
    char *uri[] = {"PMIX_NAMESPACE=123", "PMIX_RANK=0", "PMIX_SERVER_URI41=x;tcp4://1", NULL};
    char *none[] = {"HOME=/h", NULL};
    assert_true(id_of(base).hash != id_of(rank).hash);
    assert_true(id_of(pmix1).hash != id_of(pmix2).hash);
    assert_true(id_of(step1).hash != id_of(step2).hash);
    assert_true(id_of(pmix1).hash != id_of(uri).hash);   /* a prefix, URI2 ... URI41 */
    assert_true(id_of(none).hash != id_of(base).hash);
}

static void marks_parse_strictly(void **state)
{
    (void)state;
    pm_launch_id id = {0x1234abcdULL, 0, 0x801, 0x42};
    char mark[80];
    pm_launch_id_format(&id, mark, sizeof mark);
    assert_string_equal(mark, "000000001234abcd.0.801.42");
    assert_true(pm_launch_id_matches(mark, &id));
    assert_true(pm_launch_id_matches("1234abcd.0.0.0", &id));   /* lineage: any program */
    assert_false(pm_launch_id_matches(NULL, &id));
    assert_false(pm_launch_id_matches("", &id));
    assert_false(pm_launch_id_matches("1234abcd", &id));
    assert_false(pm_launch_id_matches("1234abcd.", &id));
    assert_false(pm_launch_id_matches("1234abcd.0", &id));
    assert_false(pm_launch_id_matches("1234abcd.0.1", &id));
    assert_false(pm_launch_id_matches("1234abcd.0.1.2x", &id));
    assert_false(pm_launch_id_matches("1234abcd.0.1.2.3", &id));
    assert_false(pm_launch_id_matches("1234abcd.-1.1.1", &id));
    assert_false(pm_launch_id_matches("12345", &id));   /* the old pid-only mark */
    assert_false(pm_launch_id_matches("1234abce.0.801.42", &id));
}

/* A descendant that still holds the PMI socket must hold the rank's; one
 * started with its descriptors closed has none, and the variables decide.
 * A nested launcher's rank holds a socket of its own. */
static void the_pmi_socket_tells_a_nested_launch(void **state)
{
    (void)state;
    int sv[2], other[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, other), 0);
    char fdvar[32];
    snprintf(fdvar, sizeof fdvar, "%d", sv[0]);
    assert_int_equal(setenv("PMI_FD", fdvar, 1), 0);
    char *env[] = {"PMI_RANK=0", "PMI_SIZE=1", NULL};
    pm_launch_id rank;
    pm_launch_id_of(env, &rank);
    struct stat st;
    assert_int_equal(fstat(sv[0], &st), 0);
    assert_true(rank.pmi_socket == (uint64_t)st.st_ino);
    char mark[80];
    pm_launch_id_format(&rank, mark, sizeof mark);

    pm_launch_id child = rank;
    assert_true(pm_launch_id_matches(mark, &child));   /* inherited the socket */
    child.pmi_socket = 0;
    assert_true(pm_launch_id_matches(mark, &child));   /* closed it (close_fds) */
    assert_int_equal(fstat(other[0], &st), 0);
    child.pmi_socket = (uint64_t)st.st_ino;
    assert_false(pm_launch_id_matches(mark, &child));  /* a new launcher's socket */

    /* PMI_FD naming no socket is no socket */
    close(sv[0]);
    pm_launch_id_of(env, &child);
    assert_true(child.pmi_socket == 0);
    assert_int_equal(setenv("PMI_FD", "not-a-number", 1), 0);
    pm_launch_id_of(env, &child);
    assert_true(child.pmi_socket == 0);
    unsetenv("PMI_FD");
    close(sv[1]);
    close(other[0]);
    close(other[1]);
}

static void mark_then_recognise(void **state)
{
    (void)state;
    unsetenv(PM_LINEAGE_VAR);
    assert_int_equal(setenv("PMIX_NAMESPACE", "555", 1), 0);
    assert_int_equal(setenv("PMIX_RANK", "2", 1), 0);
    assert_false(pm_lineage_is_descendant());        /* a rank: no mark yet */
    assert_int_equal(pm_lineage_mark(), 0);
    assert_true(pm_lineage_is_descendant());         /* what its children see */
    int same_file = 0;
    assert_true(pm_lineage_same_program(&same_file));   /* this very program ... */
    assert_true(same_file);                              /* ... and file */
    pm_launch_id id;
    extern char **environ;
    pm_launch_id_of(environ, &id);
    char mark[80];
    id.file ^= 1;                                        /* a copy of it */
    pm_launch_id_format(&id, mark, sizeof mark);
    assert_int_equal(setenv(PM_LINEAGE_VAR, mark, 1), 0);
    assert_true(pm_lineage_is_descendant());
    assert_true(pm_lineage_same_program(&same_file));
    assert_false(same_file);
    id.program ^= 1;                                     /* another build */
    pm_launch_id_format(&id, mark, sizeof mark);
    assert_int_equal(setenv(PM_LINEAGE_VAR, mark, 1), 0);
    assert_true(pm_lineage_is_descendant());
    assert_false(pm_lineage_same_program(&same_file));
    assert_int_equal(pm_lineage_mark(), 0);
    assert_int_equal(setenv("UCX_TLS", "self", 1), 0);
    assert_true(pm_lineage_is_descendant());         /* user settings do not count */
    assert_int_equal(setenv("PMIX_NAMESPACE", "556", 1), 0);
    assert_false(pm_lineage_is_descendant());        /* spawned: a new namespace */
    unsetenv("PMIX_NAMESPACE");
    unsetenv("PMIX_RANK");
    unsetenv(PM_LINEAGE_VAR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(order_and_other_variables_do_not_count),
        cmocka_unit_test(each_launch_is_its_own),
        cmocka_unit_test(marks_parse_strictly),
        cmocka_unit_test(the_pmi_socket_tells_a_nested_launch),
        cmocka_unit_test(mark_then_recognise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
