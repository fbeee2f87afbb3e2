# pymap: hand-written, non-recursive Makefile. One make process sees the whole graph.
#
#   make            build everything into build/release (runs configure when needed)
#   make demo       install missing packages, build, run the in-memory demo on 127.0.0.1:1143
#   make check      install missing packages, build, run unit + integration tests
#   make check SANITIZE=1   the same, built with ASan/UBSan into build/sanitize
#   make deps       install the Debian packages the build and tests need
#   make install    install under $(DESTDIR)$(prefix)
#   make bench / bench-quick / fuzz / clean / distclean

.DEFAULT_GOAL := all
SHELL := /bin/sh
PYTHON ?= /usr/bin/python3

NO_CONFIG_GOALS := deps clean distclean
ifeq ($(filter-out $(NO_CONFIG_GOALS),$(or $(MAKECMDGOALS),all)),)
else
-include config.mk
endif

ifeq ($(SANITIZE),1)
BUILD ?= build/sanitize
OPT_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
OPT_LDFLAGS := -fsanitize=address,undefined
else
BUILD ?= build/release
OPT_CFLAGS := -O2 -g -D_FORTIFY_SOURCE=2
OPT_LDFLAGS :=
endif

CC ?= cc
WARN_CFLAGS := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes
HARDEN_CFLAGS := -fstack-protector-strong -fPIE
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -I. -Isrc/lib $(WARN_CFLAGS) $(HARDEN_CFLAGS) $(OPT_CFLAGS) \
	$(JANSSON_CFLAGS) $(SSL_CFLAGS) $(SODIUM_CFLAGS) $(HIREDIS_CFLAGS) $(CRYPT_CFLAGS)
BASE_LDFLAGS := -pie -Wl,-z,relro,-z,now -Wl,--as-needed $(OPT_LDFLAGS)
ALL_CFLAGS = $(BASE_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(BASE_LDFLAGS) $(LDFLAGS)

# Libraries per program: each binary links only what it needs (--as-needed drops the rest).
LIB_LIBS := $(JANSSON_LIBS) $(SODIUM_LIBS) $(SSL_LIBS) $(HIREDIS_LIBS)
master_LIBS := $(LIB_LIBS)
imap_LIBS := $(LIB_LIBS)
auth_LIBS := $(LIB_LIBS) $(CRYPT_LIBS)
admin_LIBS := $(LIB_LIBS)
pymapctl_LIBS := $(LIB_LIBS)
lda_LIBS := $(LIB_LIBS)

# ---- sources -------------------------------------------------------------------------
# Every directory holds one program: main.c has main(), the other files go into that
# program's archive so unit tests can link them too.
lib_SRCS := $(wildcard src/lib/*.c src/lib/*/*.c)
master_SRCS := $(filter-out src/master/main.c,$(wildcard src/master/*.c))
imap_SRCS := $(filter-out src/imap/main.c,$(wildcard src/imap/*.c))
auth_SRCS := $(filter-out src/auth/main.c,$(wildcard src/auth/*.c))
admin_SRCS := $(filter-out src/admin/main.c,$(wildcard src/admin/*.c))
pymapctl_SRCS := $(filter-out src/admin/ctl/main.c,$(wildcard src/admin/ctl/*.c))
lda_SRCS := $(filter-out src/admin/lda/main.c,$(wildcard src/admin/lda/*.c))

objs = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBPYMAP := $(BUILD)/libpymap.a
PROGRAMS := master imap auth admin pymapctl lda
master_MAIN := src/master/main.c
imap_MAIN := src/imap/main.c
auth_MAIN := src/auth/main.c
admin_MAIN := src/admin/main.c
pymapctl_MAIN := src/admin/ctl/main.c
lda_MAIN := src/admin/lda/main.c
master_BIN := $(BUILD)/sbin/pymap
imap_BIN := $(BUILD)/libexec/pymap/imap
auth_BIN := $(BUILD)/libexec/pymap/auth
admin_BIN := $(BUILD)/libexec/pymap/admin
pymapctl_BIN := $(BUILD)/bin/pymapctl
lda_BIN := $(BUILD)/bin/pymap-lda

# Only programs whose main.c exists are built (the tree grows issue by issue).
BUILT_PROGRAMS := $(foreach p,$(PROGRAMS),$(if $(wildcard $($(p)_MAIN)),$(p)))
BINS := $(foreach p,$(BUILT_PROGRAMS),$($(p)_BIN))

UNIT_TEST_SRCS := $(wildcard tests/unit/test-*.c)
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_TEST_SRCS))
PROGRAM_ARCHIVES := $(foreach p,$(PROGRAMS),$(if $($(p)_SRCS),$(BUILD)/lib$(p).a))

ALL_SRCS := $(lib_SRCS) $(foreach p,$(PROGRAMS),$($(p)_SRCS) $(wildcard $($(p)_MAIN))) \
	$(UNIT_TEST_SRCS) tests/unit/test.c
-include $(patsubst %.o,%.d,$(call objs,$(ALL_SRCS)))

# ---- configure -----------------------------------------------------------------------
config.mk: configure.ac config.mk.in build-aux/deps.sh
	sh build-aux/deps.sh
	autoreconf -fi
	./configure --quiet
	touch build-config.h config.mk

build-config.h: config.mk

# ---- rules ---------------------------------------------------------------------------
# Keep objects of unit tests (make would delete them as intermediates).
.SECONDARY:

.PHONY: all deps demo check unit integration install clean distclean bench bench-quick fuzz

DEMO_FILES := $(shell find share/demo -type f 2>/dev/null)
BUILD_DEMO := $(patsubst share/demo/%,$(BUILD)/share/pymap/demo/%,$(DEMO_FILES))

all: $(BINS) $(UNIT_TESTS) $(BUILD_DEMO)

$(BUILD)/share/pymap/demo/%: share/demo/%
	@mkdir -p $(dir $@)
	cp $< $@

deps:
	sh build-aux/deps.sh

$(BUILD)/obj/%.o: %.c build-config.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIBPYMAP): $(call objs,$(lib_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/lib%.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

define program_rules
$(BUILD)/lib$(1).a: $(call objs,$($(1)_SRCS))
$($(1)_BIN): $(call objs,$($(1)_MAIN)) $(if $($(1)_SRCS),$(BUILD)/lib$(1).a) $(LIBPYMAP)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$^ $$($(1)_LIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call program_rules,$(p))))

$(BUILD)/tests/test-%: $(BUILD)/obj/tests/unit/test-%.o $(BUILD)/obj/tests/unit/test.o \
		$(PROGRAM_ARCHIVES) $(LIBPYMAP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PROGRAM_ARCHIVES) $(LIBPYMAP) $(LIB_LIBS) $(CRYPT_LIBS)

demo: deps all
	$(master_BIN) --port 1143 --host 127.0.0.1 --debug dict --demo-data

check: deps all
	sh tests/run-unit.sh $(UNIT_TESTS)
	PYMAP_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

unit: all
	sh tests/run-unit.sh $(UNIT_TESTS)

integration: all
	PYMAP_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

# BENCH_ARGS: e.g. --backend dict|maildir, --only login,mixed (tests/bench/run --help)
bench: deps all
	sh tests/bench/run $(BENCH_ARGS)

bench-quick: deps all
	sh tests/bench/run --quick $(BENCH_ARGS)

# libFuzzer targets (clang): tests/fuzz/fuzz-*.c, each linked with libpymap's sources,
# run for FUZZ_SECONDS each on the corpus under tests/data when there is one.
FUZZ_SECONDS ?= 30
FUZZ_CC ?= clang
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/fuzz-*.c))
FUZZ_LIB_SRCS := $(filter-out src/lib/store/%,$(lib_SRCS))

build/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_SRCS) build-config.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -I. -Isrc/lib $(HIREDIS_CFLAGS) \
		$(JANSSON_CFLAGS) $(SSL_CFLAGS) -o $@ $< $(FUZZ_LIB_SRCS) $(LIB_LIBS) $(CRYPT_LIBS)

fuzz: $(FUZZ_TARGETS)
	for t in $(FUZZ_TARGETS); do \
		corpus=$$t-corpus; mkdir -p $$corpus; seeds=; \
		[ "$$t" = build/fuzz/fuzz-mime ] && seeds=tests/data/mail; \
		$$t -max_total_time=$(FUZZ_SECONDS) $$corpus $$seeds || exit 1; \
	done

install: all
	install -d $(DESTDIR)$(sbindir) $(DESTDIR)$(bindir) $(DESTDIR)$(libexecdir)/pymap
	$(foreach p,$(filter master,$(BUILT_PROGRAMS)),install -m 755 $($(p)_BIN) $(DESTDIR)$(sbindir)/;)
	$(foreach p,$(filter imap auth admin,$(BUILT_PROGRAMS)),install -m 755 $($(p)_BIN) $(DESTDIR)$(libexecdir)/pymap/;)
	$(foreach p,$(filter pymapctl lda,$(BUILT_PROGRAMS)),install -m 755 $($(p)_BIN) $(DESTDIR)$(bindir)/;)
	install -d $(DESTDIR)$(datadir)/pymap
	cp -R share/demo $(DESTDIR)$(datadir)/pymap/
	install -d $(DESTDIR)$(sysconfdir)/pymap
	install -m 644 conf/pymap.conf $(DESTDIR)$(sysconfdir)/pymap/pymap.conf.example

clean:
	rm -rf build

distclean: clean
	rm -rf config.mk build-config.h build-config.h.in build-config.h.in~ config.log config.status configure \
		aclocal.m4 autom4te.cache build-aux/compile build-aux/install-sh build-aux/missing
