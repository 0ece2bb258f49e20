/* Where a job is (its state) and where its start failed (its stage), each
 * listed once: state.def and stage.def. */
#ifndef CORRAL_STATE_H
#define CORRAL_STATE_H

#include <stdbool.h>

enum job_state {
#define STATE(ID, name, final) JS_##ID,
#include "state.def"
#undef STATE
	JS_COUNT
};

/* Stage numbers start at 1: 0 on the wire would mean "no stage". */
enum start_stage {
	STAGE_NONE,
#define STAGE(ID, name) STAGE_##ID,
#include "stage.def"
#undef STAGE
	STAGE_COUNT
};

#define STATE_LEN_MAX 16
#define STAGE_LEN_MAX 32

const char *state_name(enum job_state s);
/* -1 if name is not a state. */
int state_from_name(const char *name);
bool state_is_final(enum job_state s);

/* "?" for a number that is not a stage. */
const char *stage_name(unsigned stage);
/* STAGE_NONE if name is not a stage. */
unsigned stage_from_name(const char *name);

#endif
