# corral: top-level build.  Each directory adds its own rules in build.mk;
# this file holds the flags and the targets people type.

VERSION := 0.1.0
BUILD ?= build
CC ?= cc
PKG_CONFIG ?= pkg-config

# The compiled-in policy path of the production helper.  The test copy
# (corral-helper-test) gets TEST_HELPER_CONF instead; nothing at run time
# can change either.
HELPER_CONF ?= /etc/corral/helper.conf
TEST_HELPER_CONF ?= /run/corral-test/helper.conf
# The test policy's directory and the lock that lets one private instance
# use it at a time; another TEST_HELPER_CONF gives a second, independent
# set (tests/instance.sh and the helper suite read CORRAL_TEST_DIR).
TEST_DIR := $(patsubst %/,%,$(dir $(TEST_HELPER_CONF)))
TEST_LOCK := $(TEST_DIR).lock
export CORRAL_TEST_DIR := $(TEST_DIR)
CORRALD_CONF ?= /etc/corral/corrald.conf
DEFAULT_SOCKET ?= /run/corral/corral.sock

WARN := -Wall -Wextra -Werror -Wformat=2 -Wformat-security -Wshadow \
	-Wpointer-arith -Wcast-qual -Wstrict-prototypes -Wmissing-prototypes \
	-Wwrite-strings -Wundef -Wvla -Wimplicit-fallthrough \
	-Wnull-dereference -Wold-style-definition -Wno-unused-parameter
HARDEN := -O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong \
	-fstack-clash-protection -fcf-protection -fPIE
SAN ?=
CPPFLAGS += -D_GNU_SOURCE -Icommon -DCORRAL_VERSION='"$(VERSION)"'
CFLAGS ?= -g
CFLAGS += -std=gnu11 $(WARN) $(HARDEN) $(SAN)
LDFLAGS += -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack $(SAN)

# Dependency closure lists, filled in by the fragments.
CHECK_TARGETS :=
UNIT_TESTS :=
FUZZ_TARGETS :=
PROGRAMS :=

all: programs

include common/build.mk
-include helper/build.mk
-include manager/build.mk
-include client/build.mk
-include packaging/build.mk
-include tests/build.mk

programs: $(PROGRAMS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

-include $(shell find $(BUILD) -name '*.d' -type f 2>/dev/null)

# Install what the build and every test tier need on Debian 12.
deps:
	tests/deps.sh

check-unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

# Unit tests again, under ASan + UBSan, in a separate build tree.
asan:
	$(MAKE) BUILD=build-asan CC=clang \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  HARDEN="-O1 -fPIE" check-unit

check: all check-unit asan $(CHECK_TARGETS)
	@echo "make check: all tiers passed"

clean:
	rm -rf build build-asan build-fuzz build-deb

.PHONY: all programs deps check check-unit asan clean fuzz
