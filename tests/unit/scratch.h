/* scratch.h - a scratch directory for the units that build trees in one:
 * a new directory under /tmp, resolved, removed whole
 * after; every helper asserts.  Include after <cmocka.h>. */
#ifndef TEST_SCRATCH_H
#define TEST_SCRATCH_H

#include "jobdir.h"
#include "strutil.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A new directory /tmp/NAME.XXXXXX, resolved; malloc'd. */
static inline char *scratch_new(const char *name)
{
    char *tmpl = pm_printf_alloc("/tmp/%s.XXXXXX", name);
    assert_non_null(tmpl);
    assert_non_null(mkdtemp(tmpl));
    char *top = realpath(tmpl, NULL);
    assert_non_null(top);
    free(tmpl);
    return top;
}

static inline void scratch_free(char *top)
{
    assert_int_equal(pm_rmtree(top, NULL), 0);
    free(top);
}

/* dir/rel, a new directory 0755. */
static inline void scratch_mkdir(const char *dir, const char *rel)
{
    char *p = pm_path_join(dir, rel);
    assert_int_equal(mkdir(p, 0755), 0);
    free(p);
}

/* dir/rel holding data: created or truncated, 0644. */
static inline void scratch_put(const char *dir, const char *rel, const char *data)
{
    char *p = pm_path_join(dir, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    assert_int_equal(close(fd), 0);
    free(p);
}

#endif
