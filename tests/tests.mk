# tests.mk - how every test is built and run (included by the Makefile).
#
#   make unit           cmocka units, tests/unit/test_*.c
#   make mpi-tests      mpiexec runs of python-mpi and bcast, tests/mpi/
#   make cluster-tests  the simulated multi-node cluster, tests/cluster/
#   make check-build    all of them (make check = deps + this)

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# test_argv stands in for MPI_Init_thread to see what python-mpi hands on.
WRAP_test_argv := -Wl,--wrap=MPI_Init_thread

$(BUILD)/tests/%: tests/unit/%.c $(INTERP_OBJ) $(LIBBCAST)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(INTERP_OBJ) $(LIBBCAST) $(WRAP_$*) \
	    -lcmocka $(PY_LIBS) $(AR_LIBS) $(MPI_LIBS) -lm

unit: $(UNIT_BINS)
	@sh tests/run-units.sh $(UNIT_BINS)

mpi-tests: all
	@MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) bash tests/mpi/test_mpi.sh

cluster-tests: all
	@BUILD=$(BUILD) bash tests/cluster/test_cluster.sh
	@BUILD=$(BUILD) bash tests/cluster/test_python_mpi_cluster.sh

script-tests: all
	@BUILD=$(BUILD) PKGROOT=$(BUILD)/bin/pkgroot bash tests/pkgroot/test_pkgroot.sh
	@bash tests/scripts/test_activate.sh

check-build: all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory mpi-tests
	@$(MAKE) --no-print-directory script-tests
	@$(MAKE) --no-print-directory cluster-tests
