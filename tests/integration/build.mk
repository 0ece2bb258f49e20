# Integration tier: a private corrald instance (tests/instance.sh), real
# users and the corral CLI, end to end on this host.  Needs root; takes
# the test lock because the test helper's policy path is fixed and the
# other host tiers use it too.
ITEST := $(BUILD)/tests/integration

$(ITEST)/rawclient: $(ITEST)/rawclient.o $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^

# Without root there is nothing to run, so nothing to build either.
ifeq ($(shell id -u),0)
check-integration: programs $(ITEST)/rawclient $(BUILD)/tests/faults/killafter.so
	BUILD=$(abspath $(BUILD)) flock $(TEST_LOCK) tests/integration/run.sh
else
check-integration:
	@echo "check-integration: SKIPPED (needs root)"
endif

integration-tests: $(ITEST)/rawclient

CHECK_TARGETS += check-integration
.PHONY: check-integration integration-tests
