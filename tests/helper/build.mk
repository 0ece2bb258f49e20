# Host-tier tests of corral-helper: run as root against a setuid copy of
# build/corral-helper-test, with throw-away users and a private cgroup.
HTEST := $(BUILD)/tests/helper
HTEST_OBJ := $(HTEST)/test_helper.o $(HTEST)/suite.o $(HTEST)/link.o $(HTEST)/job.o
HTEST_ARTIFACTS := $(HTEST)/test_helper $(HTEST)/probe $(HTEST)/probe-static $(HTEST)/preload.so

$(HTEST_OBJ): CPPFLAGS += -DPOLICY_DIR='"$(TEST_DIR)"'

$(HTEST)/test_helper: $(HTEST_OBJ) $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

# The job-side probe, dynamic for ordinary jobs and static for the
# minimal rootfs (which holds nothing else).
$(HTEST)/probe: $(HTEST)/probe.o
	$(CC) $(LDFLAGS) -o $@ $^

$(HTEST)/probe-static: $(HTEST)/probe.o
	$(CC) -static -o $@ $^

# A test artifact loaded with LD_PRELOAD: position-independent shared
# code, so none of the program hardening flags apply.
$(HTEST)/preload.so: tests/helper/preload.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=gnu11 $(WARN) -O2 -fPIC -shared -o $@ $<

helper-tests: $(HTEST_ARTIFACTS)

check-helper: $(HTEST_ARTIFACTS) $(BUILD)/corral-helper-test
	@if [ "$$(id -u)" != 0 ]; then \
		echo "check-helper: SKIPPED (needs root)"; exit 0; \
	fi; \
	flock $(TEST_LOCK) $(HTEST)/test_helper

CHECK_TARGETS += check-helper
.PHONY: check-helper helper-tests
