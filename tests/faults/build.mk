# Fault tier: kill -9, SIGSTOP, SIGTERM, torn logs, damaged stores and a
# full disk against private instances (tests/instance.sh).  Needs root
# and the test lock, as the integration tier.
ifeq ($(shell id -u),0)
check-faults: programs $(BUILD)/tests/integration/rawclient
	BUILD=$(abspath $(BUILD)) flock $(TEST_LOCK) tests/faults/run.sh
else
check-faults:
	@echo "check-faults: SKIPPED (needs root)"
endif

CHECK_TARGETS += check-faults
.PHONY: check-faults
