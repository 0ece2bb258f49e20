# make bench: corral's performance against bare floors, side by side
# (tests/bench/bench.sh, docs/bench.md).  Not part of make check: a
# timing never fails the test suite.
BENCH_DIR := $(BUILD)/bench
BENCH_BIN := $(BENCH_DIR)/bench-start $(BENCH_DIR)/bench-tput \
	$(BENCH_DIR)/bench-fanout $(BENCH_DIR)/bench-keylat \
	$(BENCH_DIR)/fsyncshim.so

$(BUILD)/tests/bench/%.o: CPPFLAGS += -Iclient

$(BENCH_DIR)/bench-start: $(BUILD)/tests/bench/start.o \
		$(BUILD)/tests/bench/floor.o $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

$(BENCH_DIR)/bench-tput: $(BUILD)/tests/bench/tput.o \
		$(BUILD)/tests/bench/floor.o $(CLIENT_LIB_OBJ) $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -pthread -o $@ $^

$(BENCH_DIR)/bench-fanout: $(BUILD)/tests/bench/fanout.o \
		$(BUILD)/tests/bench/floor.o $(CLIENT_LIB_OBJ) $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

$(BENCH_DIR)/bench-keylat: $(BUILD)/tests/bench/keylat.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

# Loaded into corrald with LD_PRELOAD: shared, position-independent.
$(BENCH_DIR)/fsyncshim.so: tests/bench/fsyncshim.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=gnu11 $(WARN) -O2 -fPIC -shared -o $@ $< -ldl

bench-tools: $(BENCH_BIN)

bench: programs $(BENCH_BIN)
	@if [ "$$(id -u)" != 0 ]; then \
		echo "make bench: needs root (private instance, cgroups)" >&2; exit 1; \
	fi
	BUILD=$(BUILD) flock $(TEST_LOCK) tests/bench/bench.sh

.PHONY: bench bench-tools
