# Build, test and install python-mpi, bcast and pkgroot.
#
#   make                 build build/bin/{python-mpi,bcast,pkgroot}
#   make deps-graph      the layers (core, delivery, programs) and their arrows
#   make check           install missing Debian packages, build, run every test
#                        (SUITE=name: one suite; CASE=glob: its matching cases)
#   make check-quick     the quick tests, as any user, no apt-get (tests/README.md)
#   make demo            install missing Debian packages, build, run the demo
#   make install PREFIX=/opt/python-mpi [DESTDIR=...]
#   make uninstall PREFIX=/opt/python-mpi [DESTDIR=...]
#                        (also module files: MODULEFILESDIR, TCL_MODULEFILESDIR)
#   make WERROR=1        warnings are errors (make check and CI set it)
#   make PYTHON=/path/to/python3.X   embed that CPython (3.8 or newer)
#   make CC=clang        build with clang (make check builds with it too)
#   make PM_FORCE_FALLBACKS=1   take every fallback, as on RHEL/Rocky 8
#                        (glibc 2.28, Linux 4.18 headers): see scripts/probe-config.sh
#
# Flags come from pkg-config so the MPI and the Python are named, never
# guessed: Open MPI's Debian package switches the mpicc/mpiexec alternatives,
# and the Python's own .pc file (or its pythonX.Y-config) is asked through
# scripts/python-flags.py, run by that Python.

MPI        ?= mpich
PYTHON     ?= /usr/bin/python3
PREFIX     ?= /usr/local
DESTDIR    ?=

# What to embed, asked of $(PYTHON) itself: its version, sys.base_prefix
# (the default home), its headers, its libpython (shared with an rpath to
# a non-system directory, or its static archive for STATIC_PYTHON=1).  A
# Python that cannot be embedded stops make here with one line.  Not asked
# for the goals that only install packages or start sub-makes (a fresh
# machine may not have the Python yet).
ifneq ($(filter-out deps deps-graph check demo,$(or $(MAKECMDGOALS),all)),)
PY_CONF    := $(shell if command -v '$(PYTHON)' >/dev/null 2>&1; then \
                '$(PYTHON)' $(CURDIR)/scripts/python-flags.py --name '$(PYTHON)' \
                $(if $(filter 1,$(STATIC_PYTHON)),--static) 2>&1 || echo py-conf-failed; \
                else echo "python-mpi: PYTHON=$(PYTHON): no such program py-conf-failed"; fi)
ifneq ($(filter py-conf-failed,$(PY_CONF)),)
$(error $(filter-out py-conf-failed,$(PY_CONF)))
endif
endif
py_conf     = $(patsubst $(1)=%,%,$(filter $(1)=%,$(PY_CONF)))
PY_VER     := $(call py_conf,ver)
PY_HOME    := $(call py_conf,home)
PY_CFLAGS  := $(call py_conf,cflags)
PY_LIBS    := $(call py_conf,libs)
PY_LDFLAGS := $(call py_conf,ldflags)

# Each variant builds in its own directory, so MPICH and Open MPI builds,
# each Python's (build-py3.12/; Debian's default stays build/), and the
# static and sanitizer builds live side by side.
ifeq ($(MPI),openmpi)
BUILD_SUFFIX := -openmpi
endif
ifeq ($(call py_conf,default),0)
BUILD_SUFFIX := $(BUILD_SUFFIX)-py$(PY_VER)
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
# The test suites ask this Python what to expect (tests/lib.sh).
export PYTHON

# Two Pythons of one version (pyenv's and conda's 3.12) share a build
# directory: what was built against the other is rebuilt, as the objects
# depend on this record of the Python's flags, rewritten when they change.
PY_STAMP   := $(BUILD)/python.conf
ifneq ($(PY_CONF),)
ifneq ($(file <$(PY_STAMP)),$(PY_CONF))
$(shell mkdir -p $(BUILD))
$(file >$(PY_STAMP),$(PY_CONF))
endif
endif

ifeq ($(MPI),openmpi)
MPI_PC     := ompi-c
MPIEXEC    ?= mpiexec.openmpi
else
MPI_PC     := mpich
MPIEXEC    ?= mpiexec.mpich
endif

# Lazy (=) so that a sub-make started after `deps` sees the installed packages.
MPI_CFLAGS  = $(shell pkg-config --cflags $(MPI_PC))
MPI_LIBS    = $(shell pkg-config --libs $(MPI_PC))
AR_CFLAGS   = $(shell pkg-config --cflags libarchive)
AR_LIBS     = $(shell pkg-config --libs libarchive libxxhash)
# dlsym (bcast/delivery/reaper.c): in libc since glibc 2.34, in libdl before (RHEL 8);
# newer glibc keeps an empty libdl.a, so -ldl links everywhere.
SYS_LIBS   := -ldl -lm

# CFLAGS and LDFLAGS are the user's (make CFLAGS=-O3 keeps everything else);
# what the build needs goes into ALL_CFLAGS and ALL_LDFLAGS.  Warnings are
# errors in `make check` and CI (WERROR=1), not in a user's plain `make`
# with a newer compiler.
CC         ?= cc
WARN       := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2 -Wvla
WERROR     ?=
ifeq ($(WERROR),1)
WARN       += -Werror
endif
CFLAGS     ?= -O2 -g
ifeq ($(SANITIZE),1)
SAN_CFLAGS := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
SAN_LDFLAGS:= -fsanitize=address,undefined
endif
# Three layers, one direction (docs/architecture.md): each compiles with
# its own include path, so a lower layer cannot even name a higher one's
# header, and with only the flags of what it uses - the core sees neither
# mpi.h nor Python.h.  `make deps-graph` prints the arrows.
CORE_INC    := -Ibcast/core
DELIVERY_INC:= $(CORE_INC) -Ibcast/delivery
COMMON_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SAN_CFLAGS) $(CONFIG_CFLAGS) $(AR_CFLAGS)
LAYER_CFLAGS  = $(CORE_INC)
ALL_CFLAGS  = $(COMMON_CFLAGS) $(LAYER_CFLAGS)
PY_DEFINES  = -DPYMPI_DEFAULT_HOME='"$(PY_HOME)"' -DPYMPI_VERSION='"$(VERSION)"'
$(BUILD)/bcast/delivery/%.o: LAYER_CFLAGS = $(DELIVERY_INC) $(MPI_CFLAGS)
$(BUILD)/bcast/bcast.o:      LAYER_CFLAGS = $(DELIVERY_INC) $(MPI_CFLAGS) -DPYMPI_VERSION='"$(VERSION)"'
$(BUILD)/python-mpi.o $(BUILD)/interp/%.o: \
                             LAYER_CFLAGS = $(DELIVERY_INC) -Iinterp $(MPI_CFLAGS) $(PY_CFLAGS) $(PY_DEFINES)
$(BUILD)/pkgroot-tools/%.o:  LAYER_CFLAGS = $(CORE_INC) -Ipkgroot-tools $(PY_CFLAGS) $(PY_DEFINES)
ALL_LDFLAGS = $(LDFLAGS) $(SAN_LDFLAGS)
VERSION    := 0.1.0

# What the C library and kernel headers offer (features newer than glibc
# 2.28 / Linux 4.18, RHEL/Rocky 8), probed by compiling tiny programs with
# $(CC): $(CONFIG_H) says which are there; a fallback stands in for each
# missing one (compat/: headers in place of missing ones).  Probed again
# when the compiler, its flags or PM_FORCE_FALLBACKS change.
PM_FORCE_FALLBACKS ?=
CONFIG_DIR := $(BUILD)/config
CONFIG_H   := $(CONFIG_DIR)/pm_config.h
CONFIG_IN  := $(CONFIG_DIR)/probe.in
CONFIG_CFLAGS = -I$(CONFIG_DIR) -I$(CONFIG_DIR)/compat
CONFIG_ARGS := CC='$(CC)' CFLAGS='$(CFLAGS) $(SAN_CFLAGS)' LDFLAGS='$(LDFLAGS) $(SAN_LDFLAGS)' \
               PM_FORCE_FALLBACKS='$(PM_FORCE_FALLBACKS)'
ifneq ($(PY_CONF),)
ifneq ($(file <$(CONFIG_IN)),$(CONFIG_ARGS))
$(shell mkdir -p $(CONFIG_DIR))
$(file >$(CONFIG_IN),$(CONFIG_ARGS))
endif
endif

CORE_SRC   := $(wildcard bcast/core/*.c)
DELIVERY_SRC:= $(wildcard bcast/delivery/*.c)
INTERP_SRC := $(wildcard interp/*.c)
PKGROOT_SRC:= $(wildcard pkgroot-tools/*.c)
CORE_OBJ   := $(CORE_SRC:%.c=$(BUILD)/%.o)
DELIVERY_OBJ:= $(DELIVERY_SRC:%.c=$(BUILD)/%.o)
INTERP_OBJ := $(INTERP_SRC:%.c=$(BUILD)/%.o)
PKGROOT_OBJ:= $(PKGROOT_SRC:%.c=$(BUILD)/%.o)
# pkgroot's Python (pkgroot-tools/py/*.py, pysrc.h) is built in as C that
# scripts/embed-py.sh writes into $(BUILD): a .py change rebuilds pkgroot.
PKGROOT_PY := $(wildcard pkgroot-tools/py/*.py)
PKGROOT_PYC:= $(PKGROOT_PY:%.py=$(BUILD)/%.c)
PKGROOT_OBJ+= $(PKGROOT_PYC:.c=.o)
LIBCORE    := $(BUILD)/libpmcore.a
LIBDELIVERY:= $(BUILD)/libpmdelivery.a
# What each layer links (a program names the layers it stands on).
CORE_LIBS   = $(LIBCORE) $(AR_LIBS) $(SYS_LIBS)
DELIVERY_LIBS = $(LIBDELIVERY) $(LIBCORE) $(AR_LIBS) $(MPI_LIBS) $(SYS_LIBS)

BINS       := $(BUILD)/bin/python-mpi $(BUILD)/bin/bcast $(BUILD)/bin/pkgroot

.PHONY: all deps deps-graph check check-build check-python python-tests demo demo-run install uninstall clean
all: $(BINS)

$(CONFIG_H): $(CONFIG_IN) scripts/probe-config.sh
	$(CONFIG_ARGS) sh scripts/probe-config.sh $(CONFIG_DIR)

# Header dependencies come from the compiler (-MMD -MP: a .d beside each
# object, and a removed header does not break the build).
$(BUILD)/%.o: %.c $(PY_STAMP) $(CONFIG_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<
-include $(wildcard $(BUILD)/*.d $(BUILD)/*/*.d $(BUILD)/*/*/*.d)

$(PKGROOT_PYC): $(BUILD)/%.c: %.py scripts/embed-py.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-py.sh $< pk_py_$(notdir $*) > $@.tmp && mv $@.tmp $@
$(PKGROOT_PYC:.c=.o): %.o: %.c pkgroot-tools/pysrc.h $(PY_STAMP) $(CONFIG_H)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBCORE): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(LIBDELIVERY): $(DELIVERY_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# python-mpi's own MPI_Comm_spawn wrappers (interp/spawn_tree.c) must be what
# mpi4py's MPI module calls, and its kill (interp/rank_end.c) what
# libpython's Py_RunMain calls, so the executable exports them: a list file, which GNU
# ld (2.30 on RHEL 8 too; --export-dynamic-symbol needs 2.35), gold and
# lld all take.
SPAWN_EXPORTS := -Wl,--dynamic-list=interp/exports.dynamic-list
$(BUILD)/bin/python-mpi: $(BUILD)/python-mpi.o $(INTERP_OBJ) $(LIBDELIVERY) $(LIBCORE) interp/exports.dynamic-list
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $(SPAWN_EXPORTS) -o $@ $(filter %.o,$^) $(PY_LDFLAGS) $(PY_LIBS) $(DELIVERY_LIBS)

$(BUILD)/bin/bcast: $(BUILD)/bcast/bcast.o $(LIBDELIVERY) $(LIBCORE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(DELIVERY_LIBS)

# pkgroot embeds Python and stands on the core alone: no MPI.
$(BUILD)/bin/pkgroot: $(PKGROOT_OBJ) $(LIBCORE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(PY_LDFLAGS) $(PY_LIBS) $(CORE_LIBS)

# `make check` tests both MPIs (CI does); `make check MPI=X` only X.  What
# runs in each cell: tests/suites.list.
CHECK_MPIS ?= $(if $(filter command line,$(origin MPI)),$(MPI),mpich openmpi)
# ... with Debian's Python, then (with the first of them) each of these
# Pythons, pyenv's builds found by tests/find-python.sh: one that is
# missing is a counted skip (the python-tests suite counts it).
CHECK_PYTHONS ?= 3.12 3.13

deps:
	@sh scripts/install-deps.sh $(MPI)

# The layers and the arrows between them (docs/architecture.md).
deps-graph:
	@/usr/bin/python3 scripts/layers.py --check

include tests/tests.mk

# The suites build what they test with warnings as errors.
check: export WERROR = 1
check:
	@sh scripts/install-deps.sh $(CHECK_MPIS)
	+@$(RUN_SUITES) matrix

demo: deps
	@$(MAKE) --no-print-directory demo-run
demo-run: all
	@MPIEXEC=$(MPIEXEC) BUILD=$(BUILD) bash tests/demo.sh

MAN_PAGES  := $(wildcard docs/man/*.1)

# Environment modules, so a site can `module use DIR; module load
# python-mpi-bcast`: Lmod's VERSION.lua under MODULEFILESDIR, and the Tcl one
# (environment-modules; Lmod reads it too) under TCL_MODULEFILESDIR, each in
# a python-mpi-bcast/ directory.  Both name PREFIX (not DESTDIR), so PREFIX
# must be absolute and plain (it goes into Lua and Tcl strings as it is).
MODULEFILESDIR     ?= $(PREFIX)/share/modulefiles
TCL_MODULEFILESDIR ?= $(PREFIX)/share/modulefiles-tcl
MODULE_LUA  = $(DESTDIR)$(MODULEFILESDIR)/python-mpi-bcast/$(VERSION).lua
MODULE_TCL  = $(DESTDIR)$(TCL_MODULEFILESDIR)/python-mpi-bcast/$(VERSION)
MODULE_SED  = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g'

install: all
	@case '$(PREFIX)' in \
	    /*[!A-Za-z0-9/._+@%~,=-]*) echo "make install: PREFIX=$(PREFIX): only letters, digits and / . _ + @ % ~ , = - (it is written into the module files)" >&2; exit 1 ;; \
	    /*) ;; \
	    *) echo "make install: PREFIX=$(PREFIX): not an absolute path (the module files name it)" >&2; exit 1 ;; \
	esac
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/python-mpi \
	    $(DESTDIR)$(PREFIX)/share/man/man1 $(dir $(MODULE_LUA)) $(dir $(MODULE_TCL)) $(BUILD)/modulefiles
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 scripts/activate.sh $(DESTDIR)$(PREFIX)/share/python-mpi/
	install -m 0755 scripts/job-slurm.sh scripts/job-pbs-aprun.sh scripts/job-mpiexec.sh \
	    $(DESTDIR)$(PREFIX)/share/python-mpi/
	install -m 0644 $(MAN_PAGES) $(DESTDIR)$(PREFIX)/share/man/man1/
	$(MODULE_SED) scripts/modulefiles/python-mpi-bcast.lua.in > $(BUILD)/modulefiles/python-mpi-bcast.lua
	$(MODULE_SED) scripts/modulefiles/python-mpi-bcast.tcl.in > $(BUILD)/modulefiles/python-mpi-bcast.tcl
	install -m 0644 $(BUILD)/modulefiles/python-mpi-bcast.lua $(MODULE_LUA)
	install -m 0644 $(BUILD)/modulefiles/python-mpi-bcast.tcl $(MODULE_TCL)

# What install put there, and the directories of ours if they are then empty.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/bin/,$(notdir $(BINS))) \
	    $(addprefix $(DESTDIR)$(PREFIX)/share/python-mpi/,activate.sh job-slurm.sh job-pbs-aprun.sh job-mpiexec.sh) \
	    $(addprefix $(DESTDIR)$(PREFIX)/share/man/man1/,$(notdir $(MAN_PAGES))) $(MODULE_LUA) $(MODULE_TCL)
	-rmdir $(DESTDIR)$(PREFIX)/share/python-mpi $(dir $(MODULE_LUA)) $(dir $(MODULE_TCL)) 2>/dev/null

clean:
	rm -rf $(BUILD)
