# Unit tests (cmocka): one binary per tests/unit/test_*.c, linked with
# everything they test.
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_TESTS += $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

-include tests/*/build.mk
