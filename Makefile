# Build, test and install python-mpi, bcast and pkgroot.
#
#   make                 build build/bin/{python-mpi,bcast,pkgroot}
#   make check           install missing Debian packages, build, run every test
#   make demo            install missing Debian packages, build, run the demo
#   make install PREFIX=/opt/python-mpi [DESTDIR=...]
#
# Flags come from pkg-config so the MPI and the Python are named, never
# guessed: Open MPI's Debian package switches the mpicc/mpiexec alternatives.

MPI        ?= mpich
PYTHON     ?= /usr/bin/python3
PREFIX     ?= /usr/local
DESTDIR    ?=
# Each variant builds in its own directory, so MPICH and Open MPI builds
# (and the sanitizer build) live side by side.
ifeq ($(MPI),openmpi)
BUILD_SUFFIX := -openmpi
endif
ifeq ($(STATIC_PYTHON),1)
BUILD_SUFFIX := $(BUILD_SUFFIX)-static
endif
ifeq ($(SANITIZE),1)
BUILD      ?= build-san$(BUILD_SUFFIX)
# MPI and libpython are not built for leak checking; ASan/UBSan still check ours.
export ASAN_OPTIONS ?= detect_leaks=0:abort_on_error=1:verify_asan_link_order=0
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
else
BUILD      ?= build$(BUILD_SUFFIX)
endif

ifeq ($(MPI),openmpi)
MPI_PC     := ompi-c
MPIEXEC    ?= mpiexec.openmpi
else
MPI_PC     := mpich
MPIEXEC    ?= mpiexec.mpich
endif

# Lazy (=) so that a sub-make started after `deps` sees the installed packages.
PY_PC       = python3-embed
MPI_CFLAGS  = $(shell pkg-config --cflags $(MPI_PC))
MPI_LIBS    = $(shell pkg-config --libs $(MPI_PC))
PY_CFLAGS   = $(shell pkg-config --cflags $(PY_PC))
ifeq ($(STATIC_PYTHON),1)
# libpython linked in: start-up maps no libpython from the (shared) file
# system (Debian's position-independent archive, since we build PIE).
# Extension modules find the C API in the executable, so it
# exports its symbols, as python3 does (LINKFORSHARED).
PY_LIBPL    = $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("LIBPL"))')
PY_LIBS     = $(PY_LIBPL)/libpython$(PY_VER)-pic.a -Wl,--export-dynamic \
              $(shell $(PYTHON) -c 'import sysconfig as s; print(s.get_config_var("MODLIBS"), s.get_config_var("LIBS"), s.get_config_var("SYSLIBS"))')
PY_VER      = $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
else
PY_LIBS     = $(shell pkg-config --libs $(PY_PC))
endif
AR_CFLAGS   = $(shell pkg-config --cflags libarchive)
AR_LIBS     = $(shell pkg-config --libs libarchive libxxhash)
PY_HOME     = $(shell $(PYTHON) -c 'import sys; print(sys.base_prefix)')

CC         ?= cc
WARN       := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 -Wvla
CFLAGS     ?= -O2 -g
ifeq ($(SANITIZE),1)
CFLAGS     += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS    += -fsanitize=address,undefined
endif
ALL_CFLAGS  = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Ibcast -Iinterp -Ipkgroot-tools \
              $(MPI_CFLAGS) $(PY_CFLAGS) $(AR_CFLAGS) \
              -DPYMPI_DEFAULT_HOME='"$(PY_HOME)"' -DPYMPI_VERSION='"$(VERSION)"'
VERSION    := 0.1.0

LIB_SRC    := $(filter-out bcast/bcast.c,$(wildcard bcast/*.c))
INTERP_SRC := $(wildcard interp/*.c)
PKGROOT_SRC:= $(wildcard pkgroot-tools/*.c)
LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/%.o)
INTERP_OBJ := $(INTERP_SRC:%.c=$(BUILD)/%.o)
PKGROOT_OBJ:= $(PKGROOT_SRC:%.c=$(BUILD)/%.o)
LIBBCAST   := $(BUILD)/libbcast.a

BINS       := $(BUILD)/bin/python-mpi $(BUILD)/bin/bcast $(BUILD)/bin/pkgroot

.PHONY: all deps check check-build unit mpi-tests cluster-tests demo install clean
all: $(BINS)

$(BUILD)/%.o: %.c $(wildcard bcast/*.h interp/*.h pkgroot-tools/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBBCAST): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# python-mpi's own MPI_Comm_spawn wrappers (interp/spawn_tree.c) must be what
# mpi4py's MPI module calls, and its _exit and kill (interp/rank_end.c) what
# libpython calls, so the executable exports them.
SPAWN_EXPORTS := -Wl,--export-dynamic-symbol=MPI_Comm_spawn \
                 -Wl,--export-dynamic-symbol=MPI_Comm_spawn_multiple \
                 -Wl,--export-dynamic-symbol=_exit -Wl,--export-dynamic-symbol=kill
$(BUILD)/bin/python-mpi: $(BUILD)/python-mpi.o $(INTERP_OBJ) $(LIBBCAST)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(SPAWN_EXPORTS) -o $@ $^ $(PY_LIBS) $(AR_LIBS) $(MPI_LIBS) -lm

$(BUILD)/bin/bcast: $(BUILD)/bcast/bcast.o $(LIBBCAST)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(AR_LIBS) $(MPI_LIBS)

$(BUILD)/bin/pkgroot: $(PKGROOT_OBJ) $(LIBBCAST)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PY_LIBS) $(AR_LIBS) $(MPI_LIBS) -lm

# `make check` tests both MPIs (CI does); `make check MPI=X` only X.
CHECK_MPIS ?= $(if $(filter command line,$(origin MPI)),$(MPI),mpich openmpi)

deps:
	@sh scripts/install-deps.sh $(MPI)

include tests/tests.mk

check:
	@sh scripts/install-deps.sh $(CHECK_MPIS)
	@for m in $(CHECK_MPIS); do \
	    echo "=== make check-build MPI=$$m"; \
	    $(MAKE) --no-print-directory MPI=$$m check-build || exit 1; \
	done

demo: deps
	@$(MAKE) --no-print-directory all
	@MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) bash tests/demo.sh

MAN_PAGES  := $(wildcard docs/man/*.1)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/python-mpi \
	    $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 scripts/activate.sh $(DESTDIR)$(PREFIX)/share/python-mpi/
	install -m 0755 scripts/job-slurm.sh scripts/job-pbs-aprun.sh scripts/job-mpiexec.sh \
	    $(DESTDIR)$(PREFIX)/share/python-mpi/
	install -m 0644 $(MAN_PAGES) $(DESTDIR)$(PREFIX)/share/man/man1/

clean:
	rm -rf $(BUILD)
