# tests.mk - how every test is built and run (included by the Makefile).
#
#   make unit           cmocka units, tests/unit/test_*.c
#   make mpi-tests      mpiexec runs of python-mpi and bcast, tests/mpi/
#   make cluster-tests  the simulated multi-node cluster, tests/cluster/
#   make exit-tests     every way a program ends, on the cluster, tests/exit/
#   make mpi4py-tests MPI=openmpi  mpi4py on the cluster, tests/mpi4py/
#   make cpython-tests  CPython's start-up tests, python-mpi vs python3, tests/cpython/
#   make static-tests   the STATIC_PYTHON=1 build (no libpython.so mapped)
#   make security-tests two local users, each attack of issue 12 (root)
#   make check-build    all of them (make check = deps + this, for each MPI)
#   make check-python PYTHON=/path/to/python3.X   what depends on the Python,
#                       for another Python's build (make check: each of
#                       CHECK_PYTHONS, pyenv's, with MPICH)
#   make python-tests   every CPython the machine offers, side by side;
#                       refusals; another Python's runtime bundle
#   make slurm-tests    a real Slurm of simulated nodes (tests/cluster/test_slurm.sh)
#   make portability-tests  RHEL 8's floor (glibc 2.28, ld 2.30): symbols and
#                       exports; a clang build and a PM_FORCE_FALLBACKS=1
#                       build, each with the units (tests/portability/)

.PHONY: unit mpi-tests cluster-tests exit-tests script-tests static-tests mpi4py-tests \
        security-tests cpython-tests slurm-tests fuzz portability-tests

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

unit: $(UNIT_BINS)
	@sh tests/run-units.sh $(UNIT_BINS)

# The transaction suite's SIGKILL points (MPI- and Python-independent) run
# once, in MPICH's check-build with the default Python.
TXN_KILLS ?= 1
mpi-tests: all
	@MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) bash tests/mpi/test_mpi.sh
	@MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) bash tests/mpi/test_hardening.sh
	@MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) bash tests/mpi/test_dropin.sh
	@TXN_KILLS=$(TXN_KILLS) MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) bash tests/mpi/test_transaction.sh
	@MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) bash tests/mpi/test_relocate_bounds.sh
	@MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) bash tests/mpi/test_bounds.sh
	@MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) bash tests/mpi/test_env.sh

cluster-tests: all
	@BUILD=$(BUILD) bash tests/cluster/test_cluster.sh
	@BUILD=$(BUILD) bash tests/cluster/test_python_mpi_cluster.sh

# The other builds ($(BUILD)-clang/, $(BUILD)-fallback/) are made by the
# suite itself, with this make.
portability-tests: all $(UNIT_BINS)
	@MAKE='$(MAKE)' CC='$(CC)' BUILD=$(BUILD) bash tests/portability/test_portability.sh

# Every ending, 10 times each, on 2 simulated nodes x 2 ranks.
exit-tests: all
	@MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) bash tests/exit/test_exit.sh

script-tests: all
	@BUILD=$(BUILD) PKGROOT=$(BUILD)/bin/pkgroot MPIEXEC=$(MPIEXEC) bash tests/pkgroot/test_pkgroot.sh
	@BUILD=$(BUILD) PKGROOT=$(BUILD)/bin/pkgroot MPIEXEC=$(MPIEXEC) bash tests/pkgroot/test_makers.sh
	@BUILD=$(BUILD) PKGROOT=$(BUILD)/bin/pkgroot MPIEXEC=$(MPIEXEC) bash tests/pkgroot/test_conda.sh
	@BUILD=$(BUILD) PKGROOT=$(BUILD)/bin/pkgroot MPIEXEC=$(MPIEXEC) bash tests/pkgroot/test_verify.sh
	@bash tests/scripts/test_activate.sh
	@BUILD=$(BUILD) bash tests/scripts/test_jobs.sh
	@MPI=$(MPI) MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) bash tests/scripts/test_install.sh
	@bash tests/scripts/test_env_docs.sh
	@bash tests/scripts/test_doc_links.sh
	@MPI=$(MPI) MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) bash tests/scripts/test_modules.sh

# The STATIC_PYTHON=1 variant, built in its own directory.
static-tests:
	@$(MAKE) --no-print-directory STATIC_PYTHON=1 all
	@MPIEXEC=$(MPIEXEC) BUILD=build$(BUILD_SUFFIX)-static bash tests/mpi/test_static_python.sh

mpi4py-tests: all
	@MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) bash tests/mpi4py/test_mpi4py.sh

# A victim and an attacker made with useradd (so: as root), the build
# installed where both can run it; every attack of issue 12 repeated.
security-tests: all
	@BUILD=$(BUILD) bash tests/security/test_security.sh
	@BUILD=$(BUILD) bash tests/security/test_trust_paths.sh
	@MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) bash tests/security/test_unpack_race.sh
	@BUILD=$(BUILD) bash tests/security/test_foreign.sh
	@BUILD=$(BUILD) bash tests/security/test_pkgroot_race.sh

# Once per MPI build (not per Python): python-mpi directly, under mpiexec
# -n 1 and on a delivered runtime, each against /usr/bin/python3.
cpython-tests: all
	@MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) bash tests/cpython/test_cpython.sh

# srun (PMI2 with MPICH, PMIx with Open MPI), salloc, sbatch under a real
# Slurm; with MPICH also srun --bcast of the STATIC_PYTHON=1 build.
ifeq ($(MPI),openmpi)
slurm-tests: all
	@MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) bash tests/cluster/test_slurm.sh
else
slurm-tests: all
	@$(MAKE) --no-print-directory STATIC_PYTHON=1 all
	@MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) STATIC_BUILD=build$(BUILD_SUFFIX)-static bash tests/cluster/test_slurm.sh
endif

# MPICH runs everything; the Open MPI build runs what depends on the MPI
# (the mpiexec suites, python-mpi on the simulated cluster, and mpi4py,
# which Debian builds on Open MPI only).
ifeq ($(MPI),openmpi)
check-build: all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory TXN_KILLS=0 mpi-tests
	@MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) bash tests/cluster/test_python_mpi_cluster.sh
	@$(MAKE) --no-print-directory exit-tests
	@$(MAKE) --no-print-directory mpi4py-tests
	@MPI=$(MPI) MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) bash tests/scripts/test_install.sh
	@$(MAKE) --no-print-directory cpython-tests
	@$(MAKE) --no-print-directory slurm-tests
else
check-build: all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory portability-tests
	@$(MAKE) --no-print-directory fuzz
	@$(MAKE) --no-print-directory mpi-tests
	@$(MAKE) --no-print-directory script-tests
	@$(MAKE) --no-print-directory static-tests
	@$(MAKE) --no-print-directory cluster-tests
	@$(MAKE) --no-print-directory exit-tests
	@$(MAKE) --no-print-directory security-tests
	@$(MAKE) --no-print-directory cpython-tests
	@$(MAKE) --no-print-directory slurm-tests
endif

# Another Python's build: the units, the mpiexec suites, the pkgroot suites
# (pkgroot python of that Python, its venvs, a conda prefix of it), the
# static build, the simulated cluster and make install.
check-python: all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory TXN_KILLS=0 mpi-tests
	@BUILD=$(BUILD) PKGROOT=$(BUILD)/bin/pkgroot MPIEXEC=$(MPIEXEC) bash tests/pkgroot/test_pkgroot.sh
	@BUILD=$(BUILD) PKGROOT=$(BUILD)/bin/pkgroot MPIEXEC=$(MPIEXEC) bash tests/pkgroot/test_makers.sh
	@BUILD=$(BUILD) PKGROOT=$(BUILD)/bin/pkgroot MPIEXEC=$(MPIEXEC) bash tests/pkgroot/test_conda.sh
	@BUILD=$(BUILD) PKGROOT=$(BUILD)/bin/pkgroot MPIEXEC=$(MPIEXEC) bash tests/pkgroot/test_verify.sh
	@$(MAKE) --no-print-directory static-tests
	@BUILD=$(BUILD) bash tests/cluster/test_python_mpi_cluster.sh
	@MPI=$(MPI) MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) bash tests/scripts/test_install.sh

python-tests:
	@MPI=$(MPI) MPIEXEC=$(MPIEXEC) CHECK_PYTHONS='$(CHECK_PYTHONS)' bash tests/python/test_pythons.sh

# libFuzzer over the unpack path (clang, ASan + UBSan), seeded from the
# corpus in the repo; `make fuzz FUZZ_SECONDS=N` bounds the run.
FUZZ_SECONDS ?= 30
# The target is the core library itself, built again with the fuzzer's
# instrumentation: whatever the core does with a bundle is fuzzed.
FUZZ_SRC := tests/fuzz/fuzz_unpack.c $(CORE_SRC)
$(BUILD)/fuzz/fuzz_unpack: $(FUZZ_SRC) $(wildcard bcast/core/*.h) $(CONFIG_H)
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined $(CORE_INC) $(CONFIG_CFLAGS) $(AR_CFLAGS) -o $@ $(FUZZ_SRC) $(AR_LIBS) $(SYS_LIBS)

fuzz: $(BUILD)/fuzz/fuzz_unpack
	@mkdir -p $(BUILD)/fuzz/corpus
	$(BUILD)/fuzz/fuzz_unpack -max_total_time=$(FUZZ_SECONDS) -close_fd_mask=2 \
	    -timeout=10 -rss_limit_mb=1024 $(BUILD)/fuzz/corpus tests/fuzz/corpus
