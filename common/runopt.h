/* A job's run options, generated from runopt.def: the ids, the table of
 * their definitions, and the few functions every process uses on them
 * (parse what people type, check, format for people and for cgroupfs,
 * put on and take off the wire). */
#ifndef CORRAL_RUNOPT_H
#define CORRAL_RUNOPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "bounds.h"
#include "wire.h"

/* How an option is written and shown; each type has one parser, one
 * formatter and one cgroup encoding (runopt.c). */
enum runopt_type {
	RT_SIZE,	/* bytes: 512M, 1.5G */
	RT_CPUS,	/* cpu.max quota in usec per period, written as CPUs */
	RT_COUNT,	/* a plain number */
	RT_DURATION,	/* ms, written 30s, 5m, 2h */
	RT_CPUSET,	/* a CPU or node list: 0-3,5 */
	RT_NAME,	/* a job name */
	RT_PATH,	/* an absolute path */
	RT_FLAG,	/* on when given: a flag without a value, 1 on the wire */
	RT_OCTAL,	/* a mode, written in octal: 022, 0077 */
	RT_NETREF,	/* a policy network, and an address in it: lab, lab=10.0.0.5 */
};

enum runopt_scope { SC_JOB = 1, SC_MGR = 2 };
enum { OF_FILL = 1, OF_USER = 2 };

/* cgroup v2 controllers, as bits; ctrl_name() gives the kernel's name. */
enum {
	CTRL_CPU = 1, CTRL_MEMORY = 2, CTRL_IO = 4, CTRL_PIDS = 8,
	CTRL_CPUSET = 16, CTRL_ALL = 31,
};
const char *ctrl_name(unsigned bit);

enum runopt_id {
#define OPT(ID, ...) OPT_##ID,
#include "runopt.def"
#undef OPT
	OPT_COUNT
};

struct runopt_def {
	const char *name, *flag, *meta, *cgfile, *policy, *help;
	uint16_t field;
	uint8_t type, scope, flags;
	unsigned ctrl;
	uint64_t min, max;
};
extern const struct runopt_def runopt_defs[OPT_COUNT];

/* Per-device io limits (their own encoding: one 40-byte BYTES field per
 * device, little-endian u32 major, u32 minor, u64 rbps, wbps, riops,
 * wiops; 0 = no limit, written as "max"). */
#define IO_LIMIT_LEN 40
#define IO_LIMIT_MAX 16
struct io_limit {
	uint32_t major, minor;
	uint64_t rbps, wbps, riops, wiops;
};
void io_limit_encode(const struct io_limit *l, uint8_t out[IO_LIMIT_LEN]);
void io_limit_decode(const uint8_t in[IO_LIMIT_LEN], struct io_limit *l);

/* The values of a job's options.  Strings are borrowed (from argv, or
 * from the decoded message they came in). */
struct runopts {
	uint32_t set;			/* 1u << OPT_x for each one given */
	uint64_t u[OPT_COUNT];		/* numeric types */
	const char *s[OPT_COUNT];	/* string types */
	struct io_limit io[IO_LIMIT_MAX];
	size_t nio;
};

static inline bool runopt_has(const struct runopts *r, unsigned id)
{
	return r->set & (1u << id);
}

bool runopt_is_str(unsigned id);

/* Parse text as option id's value, check it, and set it in r.  Errors
 * name neither the flag nor the key: the caller adds which it was. */
int runopt_parse(struct runopts *r, unsigned id, const char *text,
		 struct cerr *e);
/* Check every value in r against its definition (bounds, and the
 * syntax of string types); errors name the option. */
int runopts_check(const struct runopts *r, struct cerr *e);

/* For people: "512 MiB", "1.5", "0-3", "5m00s". */
const char *runopt_format(const struct runopts *r, unsigned id, char *buf,
			  size_t len);
/* What is written to its cgroup file: "536870912", "150000 100000". */
const char *runopt_cgroup_value(const struct runopts *r, unsigned id,
				char *buf, size_t len);

/* Put the options of the given scopes (SC_* bits) and the io limits on
 * a message; take them off a decoded one (strings point into m). */
void runopts_put(struct wire_out *o, const struct runopts *r, unsigned scopes);
void runopts_get(const struct wire_msg *m, struct runopts *r);

#endif
