/* fuzz_unpack.c - libFuzzer harness over the unpack-from-memory path.
 *
 * Every input is a would-be bundle: it goes through the same libarchive
 * reader, entry checks and disk writer as a broadcast bundle, into a
 * scratch directory that is emptied after each input.  Any write outside
 * it is caught by the check below; memory errors by ASan/UBSan. */
#include "jobdir.h"
#include "unpack.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *scratch;    /* .../dest, where entries may go */
static char *canary;     /* .../canary, which nothing may create */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!scratch) {
        char tmpl[] = "/tmp/fuzz-unpack.XXXXXX";
        char *base = mkdtemp(tmpl);
        if (!base)
            abort();
        size_t len = strlen(base) + sizeof "/canary";
        scratch = malloc(len);
        canary = malloc(len);
        if (!scratch || !canary)
            abort();
        snprintf(scratch, len, "%s/dest", base);
        snprintf(canary, len, "%s/canary", base);
    }
    if (mkdir(scratch, 0700) != 0)
        abort();
    if (pm_is_parts_bundle(data, size))
        (void)pm_unpack_parts_memory(scratch, "fuzz-input", data, size, 0, 1);
    else
        (void)pm_unpack_memory(scratch, "fuzz-input", data, size, NULL);
    struct stat st;
    if (lstat(canary, &st) == 0)
        abort(); /* an entry escaped the destination */
    if (pm_rmtree(scratch) != 0)
        abort();
    return 0;
}
