/* test_ring.c - the node's shared chunk ring (ring.h) between real
 * processes: a writer and forked readers on shared memory.  Every reader
 * sees every chunk, in order, intact while it holds it (the writer never
 * overwrites a slot still in use); a failed writer wakes the readers; a
 * waiting reader sleeps instead of spinning; slots free by bundle; each
 * part goes to exactly one of the processes that claim it at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ring.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SLOT 8192
#define NSLOTS 3

static void *shared(size_t bytes)
{
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    memset(m, 0, bytes);
    return m;
}

static void fill(unsigned char *b, uint64_t seq)
{
    for (size_t i = 0; i < SLOT; i++)
        b[i] = (unsigned char)(seq * 131 + i * 7);
}

static int intact(const unsigned char *b, uint64_t seq)
{
    for (size_t i = 0; i < SLOT; i++)
        if (b[i] != (unsigned char)(seq * 131 + i * 7))
            return 0;
    return 1;
}

static void nap_us(long us)
{
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

/* A reader child: chunks [from, to), checking each on arrival and again
 * after a pause (a slot overwritten while held shows then). */
static void reader(void *mem, int me, int nreaders, uint64_t from, uint64_t to)
{
    pm_ring *r = pm_ring_attach(mem, NSLOTS, SLOT, nreaders, me);
    if (!r)
        _exit(2);
    srand((unsigned)(me * 7919));
    for (uint64_t seq = from; seq < to; seq++) {
        const unsigned char *b = pm_ring_read(r, seq, NULL);
        if (!b || !intact(b, seq))
            _exit(3);
        nap_us(rand() % 300);
        if (!intact(b, seq))
            _exit(4);
    }
    pm_ring_release(r, to);
    free(r);
    _exit(0);
}

static pid_t spawn_reader(void *mem, int me, int nreaders, uint64_t from, uint64_t to)
{
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0)
        reader(mem, me, nreaders, from, to);
    return p;
}

static void expect_exit(pid_t p, int code)
{
    int st;
    assert_int_equal(waitpid(p, &st, 0), p);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), code);
}

/* The writer (reader 0, holding nothing) puts chunks [from, to) in. */
static void write_chunks(pm_ring *w, uint64_t from, uint64_t to, uint64_t base, int nactive, int pace_us)
{
    pm_ring_release(w, to);
    for (uint64_t seq = from; seq < to; seq++) {
        pm_ring_wait_writable(w, seq, base, nactive, NULL, NULL);
        fill(pm_ring_slot(w, seq), seq);
        pm_ring_publish(w, seq);
        if (pace_us)
            nap_us(pace_us);
    }
}

/* A ring of NSLOTS x SLOT for nranks ranks in shared memory, with the
 * writer (rank 0) attached; ring_close undoes it. */
typedef struct {
    void *mem;
    size_t bytes;
    pm_ring *w;
} ring_fx;

static ring_fx ring_open(int nranks)
{
    ring_fx f = {.bytes = pm_ring_bytes(NSLOTS, SLOT, nranks)};
    f.mem = shared(f.bytes);
    f.w = pm_ring_attach(f.mem, NSLOTS, SLOT, nranks, 0);
    assert_non_null(f.w);
    return f;
}

static void ring_close(ring_fx *f)
{
    free(f->w);
    munmap(f->mem, f->bytes);
}

static void every_reader_sees_every_chunk(void **state)
{
    (void)state;
    /* A fast writer (readers are the bottleneck), then a slow one. */
    for (int pace = 0; pace < 2; pace++) {
        ring_fx f = ring_open(4);
        pm_ring *w = f.w;
        void *mem = f.mem;
        pid_t kids[3];
        for (int i = 0; i < 3; i++)
            kids[i] = spawn_reader(mem, i + 1, 4, 0, 200);
        write_chunks(w, 0, 200, 0, 4, pace ? 200 : 0);
        for (int i = 0; i < 3; i++)
            expect_exit(kids[i], 0);
        ring_close(&f);
    }
}

/* Two bundles: three readers for the first, two for the second (the third
 * has no part in it and never reads again). */
static void bundles_follow_each_other(void **state)
{
    (void)state;
    ring_fx f = ring_open(4);
    pm_ring *w = f.w;
    void *mem = f.mem;
    pid_t kids[3];
    for (int i = 0; i < 3; i++)
        kids[i] = spawn_reader(mem, i + 1, 4, 0, 17);
    write_chunks(w, 0, 17, 0, 4, 0);
    for (int i = 0; i < 3; i++)
        expect_exit(kids[i], 0);
    /* The next bundle starts at 17; reader 3 is stale (done = 17) and inactive. */
    for (int i = 0; i < 2; i++)
        kids[i] = spawn_reader(mem, i + 1, 4, 17, 60);
    write_chunks(w, 17, 60, 17, 3, 0);
    for (int i = 0; i < 2; i++)
        expect_exit(kids[i], 0);
    ring_close(&f);
}

/* Slot reuse without processes: the writer may run nslots - 1 chunks
 * ahead of the slowest active reader, no further; releases before a
 * bundle's base do not hold it back. */
static void writable_rules(void **state)
{
    (void)state;
    size_t bytes = pm_ring_bytes(NSLOTS, SLOT, 3);
    void *mem = shared(bytes);
    pm_ring *w = pm_ring_attach(mem, NSLOTS, SLOT, 3, 0);
    pm_ring *r1 = pm_ring_attach(mem, NSLOTS, SLOT, 3, 1);
    pm_ring *r2 = pm_ring_attach(mem, NSLOTS, SLOT, 3, 2);
    assert_non_null(w);
    assert_non_null(r1);
    assert_non_null(r2);
    for (uint64_t seq = 0; seq < NSLOTS; seq++)
        assert_true(pm_ring_writable(w, seq, 0, 3));    /* empty slots */
    assert_false(pm_ring_writable(w, NSLOTS, 0, 3));    /* slot 0 holds chunk 0 */
    pm_ring_release(w, 1);
    pm_ring_release(r1, 1);
    assert_false(pm_ring_writable(w, NSLOTS, 0, 3));    /* reader 2 still has it */
    assert_true(pm_ring_writable(w, NSLOTS, 0, 2));     /* unless reader 2 takes no part */
    pm_ring_release(r2, 1);
    assert_true(pm_ring_writable(w, NSLOTS, 0, 3));
    assert_false(pm_ring_writable(w, NSLOTS + 1, 0, 3));
    pm_ring_release(r2, 0);                              /* releases never go back */
    assert_true(pm_ring_writable(w, NSLOTS, 0, 3));
    /* A new bundle at base 10: its first nslots chunks go in at once. */
    for (uint64_t seq = 10; seq < 10 + NSLOTS; seq++)
        assert_true(pm_ring_writable(w, seq, 10, 3));
    assert_false(pm_ring_writable(w, 10 + NSLOTS, 10, 3));
    assert_int_equal(pm_ring_slots(w), NSLOTS);
    assert_ptr_equal(pm_ring_slot(w, 0), pm_ring_slot(w, NSLOTS));
    assert_ptr_not_equal(pm_ring_slot(w, 0), pm_ring_slot(w, 1));
    free(w);
    free(r1);
    free(r2);
    munmap(mem, bytes);
}

/* Readers waiting for a chunk that never comes are woken by a failure,
 * and asleep meanwhile: a quarter second of waiting costs next to no CPU. */
static void failure_wakes_sleeping_readers(void **state)
{
    (void)state;
    ring_fx f = ring_open(4);
    pm_ring *w = f.w;
    void *mem = f.mem;
    pid_t kids[3];
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    for (int i = 0; i < 3; i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0) {
            pm_ring *r = pm_ring_attach(mem, NSLOTS, SLOT, 4, i + 1);
            double waited = 0;
            char c = 'r';
            if (write(ready[1], &c, 1) != 1)
                _exit(6);
            /* The failure comes 300 ms after every reader is here: a
             * reader that slept waited well over 0.1 s, however late a
             * loaded machine ran it. */
            _exit(r && pm_ring_read(r, 0, &waited) == NULL && waited > 0.1 ? 0 : 5);
        }
    }
    close(ready[1]);
    for (int i = 0; i < 3; i++) {
        char c;
        assert_int_equal(read(ready[0], &c, 1), 1);
    }
    close(ready[0]);
    nap_us(300000);
    pm_ring_fail(w);
    for (int i = 0; i < 3; i++)
        expect_exit(kids[i], 0);
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_CHILDREN, &ru), 0);
    double cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                 (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
    /* Spinning, three readers would have burnt about 0.9 s (all the
     * children of this test binary so far count, hence the margin). */
    assert_true(cpu < 0.5);
    ring_close(&f);
}

/* A writer waiting for a slow reader sleeps too, and calls progress. */
static int progress_calls;
static void count_progress(void *ctx)
{
    (void)ctx;
    progress_calls++;
}

static void writer_waits_for_slowest(void **state)
{
    (void)state;
    ring_fx f = ring_open(2);
    pm_ring *w = f.w;
    void *mem = f.mem;
    pm_ring_release(w, 100);
    for (uint64_t seq = 0; seq < NSLOTS; seq++) {
        fill(pm_ring_slot(w, seq), seq);
        pm_ring_publish(w, seq);
    }
    pid_t kid = fork();
    assert_true(kid >= 0);
    if (kid == 0) {
        pm_ring *r = pm_ring_attach(mem, NSLOTS, SLOT, 2, 1);
        const unsigned char *b = r ? pm_ring_read(r, 0, NULL) : NULL;
        nap_us(200000);   /* holds chunk 0 a while */
        _exit(b && intact(b, 0) && pm_ring_read(r, 1, NULL) ? 0 : 6);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    progress_calls = 0;
    pm_ring_wait_writable(w, NSLOTS, 0, 2, count_progress, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    expect_exit(kid, 0);
    assert_true(took > 0.15);
    assert_true(progress_calls > 10);        /* about one a millisecond */
    assert_true(progress_calls < 100000);    /* but not a spin */
    ring_close(&f);
}

/* Parts claimed by four processes at once: each exactly once; then the
 * next bundle's parts, numbered from 0 again, are free again.  (Fewer
 * parts than claim words: in a delivery, the parts whose headers are in
 * the ring at once never share one.) */
static void claims_are_exclusive(void **state)
{
    (void)state;
    enum { PARTS = 3000, BIG = 512 * 1024 };   /* 3 x 512 KiB / 512 = 3072 words */
    size_t bytes = pm_ring_bytes(NSLOTS, BIG, 4);
    void *mem = shared(bytes);
    _Atomic int *owner = shared(2 * PARTS * sizeof *owner);
    for (uint64_t gen = 1; gen <= 2; gen++) {
        pid_t kids[3];
        for (int i = 0; i < 3; i++) {
            kids[i] = fork();
            assert_true(kids[i] >= 0);
            if (kids[i] == 0) {
                pm_ring *r = pm_ring_attach(mem, NSLOTS, BIG, 4, i + 1);
                for (uint64_t p = 0; r && p < PARTS; p++)
                    if (pm_ring_claim(r, gen, p))
                        atomic_fetch_add(&owner[(gen - 1) * PARTS + p], 1 << (8 * (i + 1)));
                _exit(r ? 0 : 7);
            }
        }
        pm_ring *w = pm_ring_attach(mem, NSLOTS, BIG, 4, 0);
        assert_non_null(w);
        for (uint64_t p = 0; p < PARTS; p++)
            if (pm_ring_claim(w, gen, p))
                atomic_fetch_add(&owner[(gen - 1) * PARTS + p], 1);
        for (int i = 0; i < 3; i++)
            expect_exit(kids[i], 0);
        /* Exactly one claimant per part: one byte set to 1, the rest 0. */
        for (uint64_t p = 0; p < PARTS; p++) {
            int o = owner[(gen - 1) * PARTS + p];
            assert_true(o == 1 || o == 1 << 8 || o == 1 << 16 || o == 1 << 24);
        }
        assert_false(pm_ring_claim(w, gen, 0));     /* taken already */
        free(w);
    }
    munmap(owner, 2 * PARTS * sizeof *owner);
    munmap(mem, bytes);
}

/* Part numbers past the claim words wrap onto them: still one claim each
 * as the stream moves on, and an earlier number, once passed, stays taken. */
static void claims_wrap(void **state)
{
    (void)state;
    size_t bytes = pm_ring_bytes(NSLOTS, SLOT, 2);
    void *mem = shared(bytes);
    pm_ring *a = pm_ring_attach(mem, NSLOTS, SLOT, 2, 0);
    pm_ring *b = pm_ring_attach(mem, NSLOTS, SLOT, 2, 1);
    assert_non_null(a);
    assert_non_null(b);
    for (uint64_t p = 0; p < 1000; p++) {
        assert_true(pm_ring_claim(p % 2 ? a : b, 7, p));
        assert_false(pm_ring_claim(p % 2 ? b : a, 7, p));
    }
    assert_false(pm_ring_claim(a, 7, 3));
    assert_false(pm_ring_claim(b, 6, 999));      /* an older bundle's */
    assert_true(pm_ring_claim(b, 8, 999));       /* the next bundle's */
    free(a);
    free(b);
    munmap(mem, bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writable_rules),
        cmocka_unit_test(every_reader_sees_every_chunk),
        cmocka_unit_test(bundles_follow_each_other),
        cmocka_unit_test(writer_waits_for_slowest),
        cmocka_unit_test(failure_wakes_sleeping_readers),
        cmocka_unit_test(claims_are_exclusive),
        cmocka_unit_test(claims_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
