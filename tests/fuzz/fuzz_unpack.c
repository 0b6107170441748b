/* fuzz_unpack.c - libFuzzer harness over the unpack-from-memory path.
 *
 * Every input is a would-be bundle: it goes through the same libarchive
 * reader, entry checks and disk writer as a broadcast bundle, into a
 * scratch directory that is emptied after each input.  Any write outside
 * it is caught by the check below (and so is a change of the
 * destination's own mode, or a python-mpi-reserved name planted in it);
 * memory errors by ASan/UBSan.  Each
 * input runs with links made as they come and with links made last. */
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
    /* Twice: links made as they come (into a tree that already holds
     * files), and links made last (links.h), the delivery path into a
     * fresh directory. */
    for (int deferred = 0; deferred < 2; deferred++) {
        if (mkdir(scratch, 0700) != 0)
            abort();
        pm_links *links = deferred ? pm_links_new() : NULL;
        if (deferred && !links)
            abort();
        /* The core hands back every refusal's reason and prints nothing:
         * a refusal (-1) without one is a bug. */
        pm_unpack_opts o = {.label = "fuzz-input", .links = links};
        pm_err err = PM_ERR_INIT;
        int rc = pm_is_parts_bundle(data, size)
                     ? pm_unpack_parts_memory(scratch, data, size, &o, NULL, &err)
                     : pm_unpack_memory(scratch, data, size, &o, NULL, &err);
        if (rc == 0 && links)
            rc = pm_links_create(links, scratch, &err) < 0 ? -1 : 0;
        if ((rc == -1) != err.set)
            abort();
        pm_err_clear(&err);
        pm_links_free(links);
        struct stat st;
        if (lstat(canary, &st) == 0)
            abort(); /* an entry escaped the destination */
        /* The destination keeps its mode ("." entries), and no bundle
         * plants python-mpi's own names (issue 12). */
        if (lstat(scratch, &st) != 0 || (st.st_mode & 07777) != 0700)
            abort();
        static const char *const reserved[] = {"/.python-mpi-stamps", "/.python-mpi-stamps.old",
                                               "/.python-mpi-stamps.new", "/.python-mpi-parts",
                                               "/.python-mpi-changing", "/.python-mpi-lock"};
        for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
            char p[4096];
            snprintf(p, sizeof p, "%s%s", scratch, reserved[i]);
            if (lstat(p, &st) == 0)
                abort();
        }
        if (pm_rmtree(scratch, NULL) != 0)
            abort();
    }
    return 0;
}
