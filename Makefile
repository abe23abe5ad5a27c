# SPDX-License-Identifier: MIT
# libtide - GNU make build. `make` configures with defaults if ./configure has not
# run. V=1 prints full commands (so does a Debian package build, unless
# DEB_BUILD_OPTIONS has "terse"). Targets: all check demo bench install
# install-tools uninstall man-check abi-check abi-baseline dist distcheck clean deps.
# CPPFLAGS, CFLAGS, CXXFLAGS and LDFLAGS from the environment or the command line
# are appended to the build's own flags (dpkg-buildflags' hardening included).
# Variables for package builds: TIDE_DEPS=no (never run apt-get),
# TIDE_BENCH_SMOKE=no (no benchmark programs in make check).

VERSION := 1.0.0
SOVERSION := 1

all:

# Goals that install missing build dependencies (tools/install-deps.sh) do it
# first, while the makefiles are read and before config.mk is made: configure must
# never probe a machine whose dependencies are about to be installed.
DEPS_GOALS := check demo bench deps distcheck
ifneq ($(filter $(DEPS_GOALS),$(MAKECMDGOALS)),)
ifneq ($(TIDE_DEPS),no)
ifeq ($(MAKELEVEL),0)
DEPS_STATUS := $(shell sh tools/install-deps.sh >&2; echo $$?)
ifneq ($(DEPS_STATUS),0)
$(error build dependencies are missing; see the deps: lines above)
endif
endif
endif
endif

# ./configure writes config.mk; without it, run configure with defaults first.
# Cleaning needs no configuration (debian/rules clean runs make distclean).
ifneq ($(filter-out clean distclean,$(or $(MAKECMDGOALS),all)),)
config.mk: configure
	./configure $(CONFIGURE_ARGS)
-include config.mk
endif

ifneq ($(DEB_BUILD_OPTIONS),)
ifeq ($(filter terse,$(DEB_BUILD_OPTIONS)),)
V ?= 1
endif
endif
ifeq ($(V),1)
Q :=
quiet = @true
else
Q := @
quiet = @printf '  %-8s %s\n'
endif

B := build
DESTDIR ?=
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
BINDIR ?= $(PREFIX)/bin
DOCDIR ?= $(PREFIX)/share/doc/libtide

WARN := -Wall -Wextra -Wshadow -Wno-missing-field-initializers
CPPFLAGS_LIB := -Iinclude -Isrc -I$(B) $(URING_CFLAGS) $(CPPFLAGS)
CXXFLAGS_LIB := -std=c++17 -O2 -g -fPIC -fvisibility=hidden -fvisibility-inlines-hidden \
  $(WARN) $(SAN_FLAGS) $(CXXFLAGS)
LDFLAGS_LIB := -shared -Wl,-soname,libtide.so.$(SOVERSION) \
  -Wl,--version-script=src/libtide.map -Wl,-z,defs $(SAN_FLAGS) $(LDFLAGS)

LIB_SRC := $(wildcard src/api/*.cc src/core/*.cc src/req/*.cc src/backend/*.cc src/sys/*.cc)
LIB_OBJ := $(LIB_SRC:src/%.cc=$(B)/obj/%.o)
LIB_SO := $(B)/libtide.so.$(VERSION)
LIB_A := $(B)/libtide.a

all: $(LIB_SO) $(B)/libtide.so.$(SOVERSION) $(B)/libtide.so $(LIB_A) $(B)/tide.pc

# configure also writes build/config.h; recreate it if only build/ was removed.
$(B)/config.h: config.mk
	@test -f $@ || ./configure $(CONFIGURE_ARGS)

$(B)/obj/%.o: src/%.cc $(B)/config.h $(wildcard src/*/*.hh) include/tide.h
	@mkdir -p $(dir $@)
	$(quiet) CXX $<
	$(Q)$(CXX) $(CPPFLAGS_LIB) $(CXXFLAGS_LIB) -c $< -o $@

$(LIB_SO): $(LIB_OBJ) src/libtide.map
	$(quiet) LINK $@
	$(Q)$(CXX) $(LDFLAGS_LIB) -o $@ $(LIB_OBJ) $(URING_LIBS) -lpthread

$(B)/libtide.so.$(SOVERSION) $(B)/libtide.so: $(LIB_SO)
	$(Q)ln -sf libtide.so.$(VERSION) $@

$(LIB_A): $(LIB_OBJ)
	$(quiet) AR $@
	$(Q)rm -f $@ && ar rcs $@ $(LIB_OBJ)

# tide.pc for the configured directories; `make install` writes it again for the
# directories given at install time.
make_pc = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
  -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
  -e 's|@URING_REQUIRES@|$(URING_REQUIRES)|' tide.pc.in > $(1)
$(B)/tide.pc: tide.pc.in config.mk
	@mkdir -p $(B)
	$(Q)$(call make_pc,$@)

# ---------------------------------------------------------------- programs
# Test and example programs link the shared library from build/ (rpath).
PROG_CFLAGS := -std=c99 -O2 -g -Iinclude $(WARN) $(SAN_FLAGS) $(CPPFLAGS) $(CFLAGS)
PROG_LDFLAGS := -L$(B) -Wl,-rpath,$(abspath $(B)) $(SAN_FLAGS) $(LDFLAGS)

EXAMPLES := $(patsubst examples/%.c,$(B)/examples/%,$(wildcard examples/*.c))
examples: $(EXAMPLES)
$(B)/examples/%: examples/%.c include/tide.h $(B)/libtide.so
	@mkdir -p $(dir $@)
	$(quiet) CC $<
	$(Q)$(CC) $(PROG_CFLAGS) -D_GNU_SOURCE $< -o $@ $(PROG_LDFLAGS) -ltide -lm

TESTS := $(patsubst tests/%.c,$(B)/tests/%,$(wildcard tests/test_*.c))
UNIT_TESTS := $(patsubst tests/%.cc,$(B)/tests/%,$(wildcard tests/unit_*.cc))
tests: $(TESTS) $(UNIT_TESTS) $(B)/tests/backends
$(B)/tests/test_%: tests/test_%.c tests/common.h include/tide.h $(B)/libtide.so
	@mkdir -p $(dir $@)
	$(quiet) CC $<
	$(Q)$(CC) $(PROG_CFLAGS) -D_GNU_SOURCE $< -o $@ $(PROG_LDFLAGS) -ltide -lcriterion -lpthread
$(B)/tests/backends: tests/backends.c include/tide.h $(B)/libtide.so
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(PROG_CFLAGS) $< -o $@ $(PROG_LDFLAGS) -ltide
# Fault-injection tests link libtide statically and wrap the syscalls they define
# __wrap_X for (-Wl,--wrap=X), so the library's own calls go through them.
wraps_of = $(shell grep -oE '__wrap_[a-z0-9_]+' $(1) | sort -u | sed 's/^__wrap_/-Wl,--wrap=/')
$(B)/tests/unit_req_%: tests/unit_req_%.cc $(LIB_A)
	@mkdir -p $(dir $@)
	$(quiet) CXX $<
	$(Q)$(CXX) -std=c++17 -O2 -g -Iinclude $(WARN) $(SAN_FLAGS) $< $(LIB_A) -o $@ \
	  $(call wraps_of,$<) $(URING_LIBS) -lcmocka -lpthread $(SAN_FLAGS)
# Unit tests compile the internal piece they test directly.
$(B)/tests/unit_timer_heap: tests/unit_timer_heap.cc src/core/timer_heap.cc src/core/timer_heap.hh
	@mkdir -p $(dir $@)
	$(quiet) CXX $<
	$(Q)$(CXX) -std=c++17 -O2 -g -Isrc $(WARN) $(SAN_FLAGS) $< src/core/timer_heap.cc -o $@ -lcmocka $(SAN_FLAGS)

# ---------------------------------------------------------------- checks
# deps: install missing Build-Depends of debian/control (apt-get build-dep, as
# root). The goals in DEPS_GOALS have already done it while make read this file.
deps:
	@true

# check: every test on every backend (tests/run.sh), the unit tests, and the
# header/install/man/ABI checks; TIDE_BENCH_SMOKE=no leaves out the benchmark
# programs (they need libev, libevent and libuv).
CHECK_PROGS := all tests $(if $(filter no,$(TIDE_BENCH_SMOKE)),,bench-progs)
check:
	$(MAKE) $(CHECK_PROGS)
	@B=$(B) SAN_FLAGS="$(SAN_FLAGS)" ENABLE_URING=$(ENABLE_URING) \
	  TIDE_BENCH_SMOKE=$(TIDE_BENCH_SMOKE) sh tests/run.sh

man-check:
	@sh tests/man-check.sh

# abi-check: the ABI of build/libtide.so.1 (abidw, public headers only) against
# the committed baseline abi/libtide.so.$(SOVERSION).abi (abidiff): an
# incompatible change fails, an addition passes and is reported.
# abi-baseline: write that baseline from the current build (after a release).
ABI_BASELINE := abi/libtide.so.$(SOVERSION).abi
abi-check: all
	@B=$(B) BASELINE=$(ABI_BASELINE) sh tests/abi-check.sh
abi-baseline: all
	@B=$(B) BASELINE=$(ABI_BASELINE) sh tests/abi-check.sh --write-baseline

demo:
	$(MAKE) all examples
	@BUILD_DIR=$(B) sh examples/demo.sh

# ---------------------------------------------------------------- benchmarks
# bench/<workload>/<peer>.c -> build/bench/<workload>/<peer>; the peer's name
# picks its library: tide* -ltide, libev* -lev, libevent* -levent, libuv* -luv,
# *uring* -luring; raw_* are plain C.
BENCH_PROGS := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/b*/*.c))
bench_libs = $(if $(findstring tide,$(1)),-ltide) $(if $(findstring libevent,$(1)),-levent,$(if \
  $(findstring libev,$(1)),-lev)) $(if $(findstring libuv,$(1)),-luv) $(if $(findstring uring,$(1)),-luring) -lpthread -lm
$(B)/bench/%: bench/%.c bench/common/bench.h $(wildcard bench/*/*.h) include/tide.h $(B)/libtide.so
	@mkdir -p $(dir $@)
	$(quiet) CC $<
	$(Q)$(CC) -std=gnu11 -O2 -g -Iinclude -Ibench/common $(WARN) $(SAN_FLAGS) $< -o $@ \
	  $(PROG_LDFLAGS) $(call bench_libs,$(notdir $@))
bench-progs: $(BENCH_PROGS)

bench: all bench-progs
	@sh tools/install-deps.sh --bench
	@python3 bench/run $(BENCH_ARGS)

# ---------------------------------------------------------------- install
install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) \
	  $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7
	install -m 644 $(LIB_SO) $(LIB_A) $(DESTDIR)$(LIBDIR)/
	ln -sf libtide.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libtide.so.$(SOVERSION)
	ln -sf libtide.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libtide.so
	install -m 644 include/tide.h $(DESTDIR)$(INCLUDEDIR)/
	$(call make_pc,$(DESTDIR)$(LIBDIR)/pkgconfig/tide.pc)
	install -m 644 man/man3/*.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 644 man/man7/*.7 $(DESTDIR)$(MANDIR)/man7/

# The demo programs as installed tools, under names of their own (a bare
# "echo-server" in /usr/bin would claim a name that is not ours), linked without
# the build tree's rpath.
TOOLS := tide-echo-server:echo-server tide-echo-load:echo-load tide-cp:tide-cp
tool_name = $(word 1,$(subst :, ,$(1)))
tool_src = examples/$(word 2,$(subst :, ,$(1))).c
TOOL_BINS := $(foreach t,$(TOOLS),$(B)/tools/$(call tool_name,$(t)))
define tool_rule
$(B)/tools/$(call tool_name,$(1)): $(call tool_src,$(1)) include/tide.h $(B)/libtide.so
	@mkdir -p $$(dir $$@)
	$$(quiet) CC $$@
	$$(Q)$$(CC) $$(PROG_CFLAGS) -D_GNU_SOURCE $$< -o $$@ -L$(B) $$(SAN_FLAGS) $$(LDFLAGS) -ltide -lm
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(t))))
tools: $(TOOL_BINS)

install-tools: $(TOOL_BINS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(TOOL_BINS) $(DESTDIR)$(BINDIR)/
	install -m 644 man/man1/*.1 $(DESTDIR)$(MANDIR)/man1/

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libtide.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libtide.so.$(SOVERSION) \
	  $(DESTDIR)$(LIBDIR)/libtide.so $(DESTDIR)$(LIBDIR)/libtide.a \
	  $(DESTDIR)$(LIBDIR)/pkgconfig/tide.pc $(DESTDIR)$(INCLUDEDIR)/tide.h
	for f in man/man3/*.3 man/man7/*.7 man/man1/*.1; do rm -f "$(DESTDIR)$(MANDIR)/$${f#man/}"; done
	for t in $(notdir $(TOOL_BINS)); do rm -f "$(DESTDIR)$(BINDIR)/$$t"; done

# dist: libtide-VERSION.tar.gz of the committed tree (HEAD).
# distcheck: unpack it in a temporary directory, configure, build, make check
# there (dependencies already installed), and make install DESTDIR=... .
DIST := libtide-$(VERSION)
dist:
	git archive --format=tar.gz --prefix=$(DIST)/ -o $(DIST).tar.gz HEAD
	@echo "dist: wrote $(DIST).tar.gz"

distcheck: dist
	@set -e; tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/tide-distcheck.XXXXXX"); \
	trap 'rm -rf "$$tmp"' EXIT; \
	tar -xzf $(DIST).tar.gz -C "$$tmp"; \
	cd "$$tmp/$(DIST)"; \
	./configure --prefix=/usr $(filter '--disable-uring' '--enable-sanitizers',$(CONFIGURE_ARGS)); \
	$(MAKE) check TIDE_DEPS=no; \
	$(MAKE) install install-tools DESTDIR="$$tmp/root"; \
	test -f "$$tmp/root/usr/lib/libtide.so.$(VERSION)"; \
	test -f "$$tmp/root/usr/include/tide.h"; \
	echo "distcheck: $(DIST).tar.gz builds, passes make check and installs"

clean:
	rm -rf $(B)

distclean: clean
	rm -f config.mk libtide-*.tar.gz

.PHONY: all examples tools tests bench-progs deps check man-check abi-check abi-baseline demo \
  bench install install-tools uninstall dist distcheck clean distclean
