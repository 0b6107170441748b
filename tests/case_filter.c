/* case_filter.c - CASE= for the cmocka units (make check CASE=glob).
 *
 * cmocka 1.1 (Debian 12: 1.1.5) filters tests with cmocka_set_test_filter()
 * but reads no environment variable for it, and each unit's main() is
 * ours to keep plain: tests/run-units.sh preloads this library, which
 * hands PM_TEST_CASE (a glob: * and ?) to cmocka before main() runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

__attribute__((constructor)) static void pm_case_filter(void)
{
    const char *pattern = getenv("PM_TEST_CASE");

    /* cmocka keeps the pointer: the environment's string outlives main(). */
    if (pattern != NULL && *pattern != '\0')
        cmocka_set_test_filter(pattern);
}
