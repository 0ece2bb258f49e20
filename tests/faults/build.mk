# Fault tier: kill -9, SIGSTOP, SIGTERM, torn logs, damaged stores and a
# full disk against private instances (tests/instance.sh).  Needs root
# and the test lock, as the integration tier.
SYNCFAIL_SO := $(BUILD)/tests/faults/syncfail.so

# Loaded into corrald with LD_PRELOAD: shared, position-independent.
$(SYNCFAIL_SO): tests/faults/syncfail.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=gnu11 $(WARN) -O2 -fPIC -shared -o $@ $< -ldl

# Also loaded into corrald: dies right after a chosen helper message
# is received (the integration tier's t_crash, a lost EXITED).
KILLAFTER_SO := $(BUILD)/tests/faults/killafter.so
$(KILLAFTER_SO): tests/faults/killafter.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=gnu11 $(WARN) -O2 -fPIC -shared -o $@ $< -ldl

ifeq ($(shell id -u),0)
check-faults: programs $(BUILD)/tests/integration/rawclient $(SYNCFAIL_SO)
	BUILD=$(abspath $(BUILD)) flock $(TEST_LOCK) tests/faults/run.sh
else
check-faults:
	@echo "check-faults: SKIPPED (needs root)"
endif

CHECK_TARGETS += check-faults
.PHONY: check-faults
