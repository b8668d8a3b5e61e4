# smshim: one Makefile. `make` builds build/libsmshim.so and build/smshim; `make test` runs every
# test; `make SAN=address|undefined|thread test` builds and tests under a sanitizer in build/$(SAN).
# Override CC, OPT or add flags with XCFLAGS / XLDFLAGS; BUILD=DIR builds elsewhere (default build).

CC      ?= gcc
OPT     ?= -O2 -g
SAN     ?=
V       ?= 0
BUILD   ?= build

ifeq ($(SAN),)
  B := $(BUILD)
  SANFLAGS :=
else ifeq ($(SAN),address)
  B := $(BUILD)/address
  SANFLAGS := -fsanitize=address -fno-omit-frame-pointer
else ifeq ($(SAN),undefined)
  B := $(BUILD)/undefined
  SANFLAGS := -fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  # the errno table passes NULL paths to libc on purpose
  PROG_SANFLAGS := -fno-sanitize=nonnull-attribute
else ifeq ($(SAN),thread)
  B := $(BUILD)/thread
  SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
else
  $(error unknown SAN=$(SAN): use address, undefined or thread)
endif

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
           -Wvla -Wno-format-nonliteral -Wno-format-truncation -Wno-nonnull-compare -Wno-nonnull
CFLAGS  := -std=c11 -D_GNU_SOURCE $(OPT) -fPIC -fvisibility=hidden -ftls-model=initial-exec -fno-delete-null-pointer-checks \
           -Iinclude $(WARN) $(SANFLAGS) $(XCFLAGS) -MMD -MP
LDFLAGS := $(SANFLAGS) $(XLDFLAGS)

ifeq ($(V),0)
  Q = @
  say = @printf '  %-6s %s\n' $(1) $(2);
else
  Q =
  say =
endif

SHIM_SRC  := $(filter-out shim/audit.c,$(wildcard shim/*.c))
CACHE_SRC := $(wildcard cache/*.c)
HYD_SRC   := $(wildcard hydrate/*.c)
TOOL_SRC  := $(wildcard tools/*.c)
TEST_SRC  := $(wildcard tests/*.c tests/unit/*.c)

SHIM_OBJ  := $(SHIM_SRC:%.c=$(B)/obj/%.o)
CACHE_OBJ := $(CACHE_SRC:%.c=$(B)/obj/%.o)
# the preload's copy of cache/ loads liblmdb with dlopen on the first change (lmdb_dl.h)
SCACHE_OBJ := $(CACHE_SRC:cache/%.c=$(B)/obj/shimcache/%.o)
HYD_OBJ   := $(HYD_SRC:%.c=$(B)/obj/%.o)
TOOL_OBJ  := $(TOOL_SRC:%.c=$(B)/obj/%.o)
TEST_OBJ  := $(TEST_SRC:%.c=$(B)/obj/%.o)
# unit tests link the shim's internals (not its wrappers) and the cache
UNIT_SHIM := $(B)/obj/shim/path.o $(B)/obj/shim/config.o $(B)/obj/shim/real.o $(B)/obj/shim/log.o \
             $(B)/obj/shim/fault.o $(B)/obj/shim/settings.o $(B)/obj/shim/procfd.o \
             $(B)/obj/shim/elf.o $(B)/obj/shim/stack.o $(B)/obj/shim/limits.o

# helper programs the integration tests run (tests/prog/*.c -> build/tests/<name>)
PROG_SRC := $(wildcard tests/prog/*.c)
PROGS    := $(PROG_SRC:tests/prog/%.c=$(B)/tests/%)

LIB  := $(B)/libsmshim.so
# the loader's audit module (LD_AUDIT): its own link namespace, so it links nothing
AUDIT := $(B)/libsmshim-audit.so
CLI  := $(B)/smshim
TRUN := $(B)/tests/run

all: $(LIB) $(AUDIT) $(CLI) $(TRUN) $(PROGS)

$(B)/obj/%.o: %.c
	$(call say,CC,$<)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(B)/obj/shimcache/%.o: cache/%.c
	$(call say,CC,$< [preload])
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -DSMC_LMDB_DLOPEN -c -o $@ $<

$(LIB): $(SHIM_OBJ) $(SCACHE_OBJ) $(HYD_OBJ)
	$(call say,LD,$@)
	$(Q)$(CC) -shared -o $@ $^ $(LDFLAGS) -Wl,-z,defs -Wl,-z,lazy -Wl,--as-needed

$(AUDIT): shim/audit.c
	$(call say,LD,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE -O2 -g -fPIC -shared -nostdlib -ffreestanding -fno-builtin \
	  -fno-stack-protector -fvisibility=hidden $(WARN) -Wl,-z,defs -Wl,-z,now -o $@ $<

$(CLI): $(TOOL_OBJ) $(CACHE_OBJ) $(HYD_OBJ) $(B)/obj/shim/real.o $(B)/obj/shim/elf.o \
        $(B)/obj/shim/settings.o
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $^ $(LDFLAGS) -llmdb -lpthread -ldl

$(TRUN): $(TEST_OBJ) $(CACHE_OBJ) $(HYD_OBJ) $(UNIT_SHIM)
	$(call say,LD,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -o $@ $^ $(LDFLAGS) -llmdb -lpthread -ldl

$(B)/tests/%: tests/prog/%.c $(wildcard tests/prog/*.h)
	$(call say,CC,$<)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Werror -Wno-format-truncation $(SANFLAGS) $(PROG_SANFLAGS) -o $@ $< -lpthread

test: all $(PROGS) check-self
	$(Q)SMSHIM_BUILD=$(B) SMSHIM_SAN=$(SAN) $(TRUN) $(T)

# the library never calls its own interposers (tools/check-self.sh says how this is checked)
check-self: $(LIB)
	$(Q)tools/check-self.sh $(LIB) $(SHIM_OBJ) $(SCACHE_OBJ) $(HYD_OBJ)

asan:
	$(MAKE) SAN=address test
ubsan:
	$(MAKE) SAN=undefined test
tsan:
	$(MAKE) SAN=thread test

bench: all
	$(Q)$(MAKE) -C bench B=$(abspath $(B))

deps:
	@tools/deps.sh

# make pjdfstest PJDFSTEST=DIR [PJD_GROUPS="link rename"]: the POSIX suite pjdfstest (unpacked in
# DIR, not part of the project) in a real directory and under the prefix, as root; not in `make test`
pjdfstest: all
	$(Q)SMSHIM_BUILD=$(abspath $(B)) tools/pjdfstest.sh $(or $(PJDFSTEST),$(error set PJDFSTEST=DIR)) $(PJD_GROUPS)

# make install PREFIX=/usr/local DESTDIR=...: the CLI, the library (in a directory of its own, where
# `smshim run` finds it: ../lib/smshim/ from the CLI) and the man page; make uninstall removes them
PREFIX  ?= /usr/local
BINDIR  := $(PREFIX)/bin
PLIBDIR := $(PREFIX)/lib/smshim
MAN1DIR := $(PREFIX)/share/man/man1

install: $(LIB) $(CLI)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PLIBDIR) $(DESTDIR)$(MAN1DIR)
	install -m 0755 $(CLI) $(DESTDIR)$(BINDIR)/smshim
	install -m 0755 $(LIB) $(DESTDIR)$(PLIBDIR)/libsmshim.so
	install -m 0644 tools/smshim.1 $(DESTDIR)$(MAN1DIR)/smshim.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/smshim $(DESTDIR)$(PLIBDIR)/libsmshim.so $(DESTDIR)$(MAN1DIR)/smshim.1
	-rmdir $(DESTDIR)$(PLIBDIR) 2>/dev/null

# every C file of the project, in the style of .clang-format
FMT_SRC := $(wildcard shim/*.[ch] cache/*.[ch] hydrate/*.[ch] tools/*.c include/*.h tests/*.[ch] \
             tests/unit/*.c tests/prog/*.[ch] bench/*.[ch])

format:
	clang-format -i $(FMT_SRC)

format-check:
	clang-format --dry-run --Werror $(FMT_SRC)

# every directory of C code; rawcall.h's #error is the x86_64-only test programs' own guard
cppcheck:
	cppcheck --enable=warning,performance,portability --error-exitcode=1 --inline-suppr \
	  --std=c11 -D_GNU_SOURCE -Iinclude --suppress=missingIncludeSystem \
	  --suppress=preprocessorErrorDirective:tests/prog/rawcall.h shim cache hydrate tools tests bench

check: format-check cppcheck

clean:
	rm -rf build

.PHONY: install uninstall all test check-self asan ubsan tsan bench deps pjdfstest format format-check cppcheck check clean

-include $(wildcard $(B)/obj/*/*.d $(B)/obj/*/*/*.d)
