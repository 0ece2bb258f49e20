COMMON_SRC := common/err.c common/wire.c common/wire_io.c common/proto.c \
	common/runopt.c common/state.c common/conf.c common/parse.c \
	common/fdnames.c
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)

$(BUILD)/libcommon.a: $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
