# libFuzzer targets: one binary per tests/fuzz/fuzz_*.c, built with clang's
# fuzzer and sanitizers in their own tree (build-fuzz/), never in $(BUILD).
#
#   make fuzz [FUZZ_SECONDS=60]   build, then run each target that long
#   make check-fuzz               the same for 10 s each (part of make check)
#
# A target that needs more than common/ says so in any fragment:
#   FUZZ_EXTRA_fuzz_helper_request := helper/policy.c helper/validate.c
#   FUZZ_LIBS_fuzz_helper_request := -lseccomp
#   FUZZ_CPPFLAGS_fuzz_helper_request := -DSOMETHING   (its own .c only)
#   FUZZ_OPTS_fuzz_helper_request := -max_len=65536   (libFuzzer flags)
# Targets whose source is elsewhere may be appended to FUZZ_TARGETS as
# build-fuzz/<name> with a rule of their own.
#
# Seeds: tests/fuzz/corpus/<target>/ (committed) plus what gen_seeds.c
# writes; each run works on a copy in build-fuzz/corpus/<target>/.

FUZZ_BUILD := build-fuzz
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_CFLAGS = -g -O1 -std=gnu11 $(WARN) $(FUZZ_SAN)
FUZZ_CPPFLAGS = $(CPPFLAGS)
FUZZ_OPTS ?= -rss_limit_mb=2048 -timeout=10

FUZZ_NAMES := $(notdir $(basename $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_TARGETS += $(FUZZ_NAMES:%=$(FUZZ_BUILD)/%)
FUZZ_COMMON_OBJ := $(COMMON_SRC:%.c=$(FUZZ_BUILD)/%.o)

# Coverage instrumentation everywhere; the libFuzzer main only at link.
# A target's own source also sees the directories of its extra sources
# (tests/fuzz/fuzz_x.c may include "policy.h" from helper/) and its
# FUZZ_CPPFLAGS_<target>.
fuzz_own = $(FUZZ_CPPFLAGS_$(notdir $*)) \
	$(addprefix -I,$(sort $(dir $(FUZZ_EXTRA_$(notdir $*)))))
$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  FUZZCC $@"
	@$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(fuzz_own) $(FUZZ_CFLAGS) \
		-fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

# Objects reached through pattern rules are kept, not deleted as
# intermediates, so a second make fuzz does not rebuild them.
.PRECIOUS: $(FUZZ_BUILD)/%.o

# Second expansion: FUZZ_EXTRA_* may be set in a fragment read after this.
fuzz_extra_obj = $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(FUZZ_EXTRA_$(1)))
.SECONDEXPANSION:
$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_COMMON_OBJ) \
		$$(call fuzz_extra_obj,fuzz_$$*)
	@echo "  FUZZLD $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS_$(@F))

$(FUZZ_BUILD)/gen_seeds: $(FUZZ_BUILD)/tests/fuzz/gen_seeds.o $(FUZZ_COMMON_OBJ)
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -o $@ $^

$(FUZZ_BUILD)/seeds.stamp: $(FUZZ_BUILD)/gen_seeds $(wildcard tests/fuzz/corpus/*/*)
	@rm -rf $(FUZZ_BUILD)/seeds
	@mkdir -p $(FUZZ_BUILD)/seeds
	@$(FUZZ_BUILD)/gen_seeds $(FUZZ_BUILD)/seeds
	@cp -R tests/fuzz/corpus/. $(FUZZ_BUILD)/seeds/
	@touch $@

# Run one target on its working corpus; a crash, leak, timeout or
# sanitizer report makes libFuzzer exit non-zero, and so this rule.
fuzz-run-%: $(FUZZ_BUILD)/% $(FUZZ_BUILD)/seeds.stamp
	@mkdir -p $(FUZZ_BUILD)/corpus/$* $(FUZZ_BUILD)/artifacts
	@if [ -d $(FUZZ_BUILD)/seeds/$* ]; then \
		cp -R $(FUZZ_BUILD)/seeds/$*/. $(FUZZ_BUILD)/corpus/$*/; fi
	@echo "== $* ($(FUZZ_SECONDS) s)"
	@$< -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_BUILD)/artifacts/$*- \
		$(FUZZ_OPTS) $(FUZZ_OPTS_$*) $(FUZZ_BUILD)/corpus/$* \
		> $(FUZZ_BUILD)/$*.log 2>&1 || { tail -n 40 $(FUZZ_BUILD)/$*.log; \
		echo "fuzz: $* FAILED, see $(FUZZ_BUILD)/$*.log and $(FUZZ_BUILD)/artifacts/"; \
		exit 1; }
	@grep -E '^#[0-9]+[[:space:]]+DONE' $(FUZZ_BUILD)/$*.log | tail -n 1
	@grep -E 'stat::(number_of_executed_units|average_exec_per_sec)' $(FUZZ_BUILD)/$*.log

fuzz: $$(FUZZ_TARGETS) $$(patsubst $(FUZZ_BUILD)/%,fuzz-run-%,$$(sort $$(FUZZ_TARGETS)))
	@echo "fuzz: all targets ran $(FUZZ_SECONDS) s without a crash"

check-fuzz:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

CHECK_TARGETS += check-fuzz
.PHONY: check-fuzz

-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
