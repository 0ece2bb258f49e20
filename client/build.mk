# corral (the CLI) and libcorral.
CLIENT_LIB_SRC := client/libcorral.c client/clifmt.c client/table.c
CLIENT_CLI_SRC := client/corral.c client/cmd_run.c client/cmd_list.c \
	client/cmd_dial.c client/term.c
CLIENT_LIB_OBJ := $(CLIENT_LIB_SRC:%.c=$(BUILD)/%.o)
CLIENT_CLI_OBJ := $(CLIENT_CLI_SRC:%.c=$(BUILD)/%.o)

# Only corral's own objects need the socket default.
$(CLIENT_LIB_OBJ) $(CLIENT_CLI_OBJ): CPPFLAGS += -Iclient \
	-DDEFAULT_SOCKET='"$(DEFAULT_SOCKET)"'

$(BUILD)/corral: $(CLIENT_CLI_OBJ) $(CLIENT_LIB_OBJ) $(BUILD)/libcommon.a
	@echo "  LD $@"
	@$(CC) $(LDFLAGS) -o $@ $^

PROGRAMS += $(BUILD)/corral

# The CLI unit test links the pure helpers and the library.
$(BUILD)/tests/unit/test_cli.o: CPPFLAGS += -Iclient \
	-DDEFAULT_SOCKET='"$(DEFAULT_SOCKET)"'
$(BUILD)/tests/unit/test_cli: $(BUILD)/tests/unit/test_cli.o \
		$(CLIENT_LIB_OBJ) $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka
