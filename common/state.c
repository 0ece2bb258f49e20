#include "state.h"

#include <string.h>

#include "cleanup.h"

static const struct {
	const char *name;
	bool final;
} states[] = {
#define STATE(ID, name, final) [JS_##ID] = { name, final },
#include "state.def"
#undef STATE
};

static const char *const stages[] = {
	[STAGE_NONE] = "none",
#define STAGE(ID, name) [STAGE_##ID] = name,
#include "stage.def"
#undef STAGE
};

const char *state_name(enum job_state s)
{
	return (unsigned)s < ARRAY_SIZE(states) ? states[s].name : "?";
}

int state_from_name(const char *name)
{
	for (unsigned i = 0; name && i < ARRAY_SIZE(states); i++)
		if (!strcmp(name, states[i].name))
			return (int)i;
	return -1;
}

bool state_is_final(enum job_state s)
{
	return (unsigned)s < ARRAY_SIZE(states) && states[s].final;
}

const char *stage_name(unsigned stage)
{
	return stage > STAGE_NONE && stage < STAGE_COUNT ? stages[stage] : "?";
}

unsigned stage_from_name(const char *name)
{
	for (unsigned i = STAGE_NONE + 1; name && i < STAGE_COUNT; i++)
		if (!strcmp(name, stages[i]))
			return i;
	return STAGE_NONE;
}
