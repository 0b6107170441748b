# tests.mk - how every test is built and run (included by the Makefile).
#
# Every suite is named once, in tests/suites.list: its target, the cells of
# the MPI x Python matrix that run it, what it needs (root, a build) and its
# command.  tests/run-suites.sh reads it; tests/README.md explains it all.
#
#   make unit mpi-tests script-tests static-tests cluster-tests exit-tests
#        security-tests mpi4py-tests cpython-tests slurm-tests
#        portability-tests fuzz python-tests
#                       the suites of that target (suites.list's 2nd column)
#   make check-build    this MPI's default-Python cell (MPICH: everything)
#   make check-python PYTHON=/path/to/python3.X   the cell of another Python
#   make check-after    what runs once after every cell (python-tests)
#   make check          install what is missing, then every cell: each of
#                       CHECK_MPIS, each of CHECK_PYTHONS with the first MPI,
#                       then check-after (the Makefile)
#   make check-quick    the quick suites of the default cell, no apt-get,
#                       as any user (what needs root: counted skips)
#   SUITE=name          only that suite (or target, or unit: SUITE=test_unpack)
#   CASE=glob           only the cases whose names match (no * or ?: contain it)
#   FUZZ_SECONDS=N      bounds `make fuzz` (30)

SUITE_TARGETS := unit mpi-tests cluster-tests exit-tests script-tests static-tests mpi4py-tests \
                 security-tests cpython-tests slurm-tests fuzz portability-tests python-tests
.PHONY: $(SUITE_TARGETS) check-quick check-after

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# test_argv stands in for MPI_Init_thread to see what python-mpi hands on.
WRAP_test_argv := -Wl,--wrap=MPI_Init_thread
# test_manifest reads what pkgroot's writer wrote: one format, both sides.
OBJS_test_manifest := $(BUILD)/pkgroot-tools/manifest_writer.o $(BUILD)/pkgroot-tools/nameset.o
$(BUILD)/tests/test_manifest: $(BUILD)/pkgroot-tools/manifest_writer.o $(BUILD)/pkgroot-tools/nameset.o

# Each unit links the layer it tests and those below, no more: the core's
# units link neither MPI nor libpython (docs/architecture.md).
UNIT_DELIVERY := test_cache test_reaper test_ring test_timing test_topology test_unpackers
UNIT_PROGRAM  := test_argv test_lineage test_rank_end
$(UNIT_DELIVERY:%=$(BUILD)/tests/%): LAYER_CFLAGS = $(DELIVERY_INC) $(MPI_CFLAGS)
$(UNIT_DELIVERY:%=$(BUILD)/tests/%): UNIT_LIBS = $(DELIVERY_LIBS)
$(UNIT_PROGRAM:%=$(BUILD)/tests/%): LAYER_CFLAGS = $(DELIVERY_INC) -Iinterp $(MPI_CFLAGS) $(PY_CFLAGS) $(PY_DEFINES)
$(UNIT_PROGRAM:%=$(BUILD)/tests/%): UNIT_LIBS = $(INTERP_OBJ) $(PY_LDFLAGS) $(PY_LIBS) $(DELIVERY_LIBS)
$(UNIT_PROGRAM:%=$(BUILD)/tests/%): $(INTERP_OBJ)
$(BUILD)/tests/test_manifest: LAYER_CFLAGS = $(CORE_INC) -Ipkgroot-tools
UNIT_LIBS = $(CORE_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIBDELIVERY) $(LIBCORE) $(CONFIG_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP $(ALL_LDFLAGS) -o $@ $< $(OBJS_$*) $(WRAP_$*) -lcmocka $(UNIT_LIBS)


# The runner's environment: what the suites are told (suites.list's header).
# The lines start with + so that `make -n` runs the runner: it prints its plan.
FUZZ_SECONDS ?= 30
SUITE ?=
CASE  ?=
TXN_KILLS ?=
RUN_SUITES = MAKE='$(MAKE)' MPI=$(MPI) MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) \
    CC='$(CC)' UNIT_BINS='$(UNIT_BINS)' \
    FUZZ_SECONDS=$(FUZZ_SECONDS) TXN_KILLS=$(TXN_KILLS) CHECK_MPIS='$(CHECK_MPIS)' \
    CHECK_PYTHONS='$(CHECK_PYTHONS)' SUITE='$(SUITE)' CASE='$(CASE)' bash tests/run-suites.sh

# Each target runs its suites of the list, whatever the cell; the runner
# makes the builds a suite needs (the units, the fuzzer, the static build).
$(filter-out unit fuzz python-tests,$(SUITE_TARGETS)): all
$(SUITE_TARGETS):
	+@$(RUN_SUITES) target $@

check-build: all
	+@$(RUN_SUITES) cell default
check-python: all
	+@$(RUN_SUITES) cell other
check-after:
	+@$(RUN_SUITES) cell after
# The runner checks the build's packages first (one line if one is missing).
check-quick:
	+@$(RUN_SUITES) quick

# The units, one at a time under CASE=: cmocka 1.1 has a test filter but
# reads no variable for it, so a preloaded library sets it (case_filter.c).
$(BUILD)/tests/case_filter.so: tests/case_filter.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -shared -fPIC -o $@ $< -lcmocka

# libFuzzer over the unpack path (clang, ASan + UBSan), seeded from the
# corpus in the repo; `make fuzz FUZZ_SECONDS=N` bounds the run.
# The target is the core library itself, built again with the fuzzer's
# instrumentation: whatever the core does with a bundle is fuzzed.
FUZZ_SRC := tests/fuzz/fuzz_unpack.c $(CORE_SRC)
$(BUILD)/fuzz/fuzz_unpack: $(FUZZ_SRC) $(wildcard bcast/core/*.h) $(CONFIG_H)
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined $(CORE_INC) $(CONFIG_CFLAGS) $(AR_CFLAGS) -o $@ $(FUZZ_SRC) $(AR_LIBS) $(SYS_LIBS)

