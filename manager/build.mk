# corrald: the manager daemon.
MANAGER_SRC := manager/main.c manager/config.c manager/client.c \
	manager/req.c manager/job.c manager/follow.c manager/helper_link.c \
	manager/logfile.c manager/env.c manager/retention.c \
	manager/store.c manager/outq.c manager/util.c manager/queue.c \
	manager/sched.c manager/resume.c manager/input.c \
	manager/fdstore.c manager/peek.c
MANAGER_GEN := $(BUILD)/manager/schema_sql.c
MANAGER_OBJ := $(MANAGER_SRC:%.c=$(BUILD)/%.o) $(MANAGER_GEN:.c=.o)
# What the request layer needs without sockets (unit tests, fuzzing).
MANAGER_CORE_OBJ := $(BUILD)/manager/req.o $(BUILD)/manager/store.o \
	$(BUILD)/manager/env.o \
	$(BUILD)/manager/outq.o $(BUILD)/manager/util.o $(MANAGER_GEN:.c=.o)
MANAGER_LIBS := $(shell $(PKG_CONFIG) --libs sqlite3 uuid 2>/dev/null || echo -lsqlite3 -luuid)
SCHEMA_SQL := $(sort $(wildcard schema/[0-9][0-9][0-9]_*.sql))

PROGRAMS += $(BUILD)/corrald

$(MANAGER_OBJ) $(BUILD)/tests/unit/test_store.o \
		$(BUILD)/tests/unit/test_sched.o: CPPFLAGS += -Imanager \
	-DCORRALD_CONF='"$(CORRALD_CONF)"' \
	-DCORRAL_DEFAULT_SOCKET='"$(DEFAULT_SOCKET)"'

# The migrations, compiled in: schema/NNN_name.sql -> a C table.
$(MANAGER_GEN): $(SCHEMA_SQL) manager/gen_schema.awk
	@mkdir -p $(dir $@)
	@echo "  GEN $@"
	@awk -v hdr='$(CURDIR)/manager/schema.h' -f manager/gen_schema.awk \
		$(SCHEMA_SQL) > $@.tmp && mv $@.tmp $@

$(MANAGER_GEN:.c=.o): $(MANAGER_GEN)
	@echo "  CC $@"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/corrald: $(MANAGER_OBJ) $(BUILD)/libcommon.a
	@echo "  LD $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(MANAGER_LIBS)

# Store unit tests link the store and the request layer.
$(BUILD)/tests/unit/test_store: $(BUILD)/tests/unit/test_store.o \
		$(MANAGER_CORE_OBJ) $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(MANAGER_LIBS)

# The queue's order: a pure function, alone.
$(BUILD)/tests/unit/test_sched: $(BUILD)/tests/unit/test_sched.o \
		$(BUILD)/manager/sched.o $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

# libFuzzer target tests/fuzz/fuzz_manager_request.c: the request layer
# against an in-memory store.  The generated schema table lives in the
# build tree of whichever build makes it.
FUZZ_EXTRA_fuzz_manager_request := manager/req.c manager/store.c manager/env.c \
	manager/outq.c manager/util.c $(MANAGER_GEN)
FUZZ_LIBS_fuzz_manager_request := $(MANAGER_LIBS)

# Peeking at a pipe (tee, then drop once logged): alone.
$(BUILD)/tests/unit/test_peek.o: CPPFLAGS += -Imanager
$(BUILD)/tests/unit/test_peek: $(BUILD)/tests/unit/test_peek.o \
		$(BUILD)/manager/peek.o $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka
