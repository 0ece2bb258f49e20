HELPER_SRC := helper/main.c helper/policy.c helper/cgroup.c helper/spawn.c helper/seccomp.c helper/net.c helper/nft.c
HELPER_LIBS := -lseccomp

# Two copies of one program; only the compiled-in policy path differs.
$(BUILD)/helper-prod/%.o: helper/%.c
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) $(CPPFLAGS) -DHELPER_CONF='"$(HELPER_CONF)"' $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/helper-test/%.o: helper/%.c
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) $(CPPFLAGS) -DHELPER_CONF='"$(TEST_HELPER_CONF)"' $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/corral-helper: $(HELPER_SRC:helper/%.c=$(BUILD)/helper-prod/%.o) $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(HELPER_LIBS)

$(BUILD)/corral-helper-test: $(HELPER_SRC:helper/%.c=$(BUILD)/helper-test/%.o) $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(HELPER_LIBS)

PROGRAMS += $(BUILD)/corral-helper $(BUILD)/corral-helper-test
FUZZ_EXTRA_fuzz_helper_request := helper/policy.c

# The policy's pure functions, unit-tested with the policy.c the test
# helper is built from (tests/unit/test_policy_net.c).
$(BUILD)/tests/unit/test_policy_net.o: CPPFLAGS += -Ihelper
$(BUILD)/tests/unit/test_policy_net: $(BUILD)/tests/unit/test_policy_net.o \
		$(BUILD)/helper-test/policy.o $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka
