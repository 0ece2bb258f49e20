/* The floor every corral start is compared with: what a bare program must
 * do at least to run one command as corral does (a fresh cgroup, born in
 * it with clone3(CLONE_INTO_CGROUP), the same namespaces, exec, wait,
 * remove the cgroup), and nothing else: no database, no helper, no users,
 * no mounts, no seccomp.  Needs root. */
#ifndef CORRAL_BENCH_FLOOR_H
#define CORRAL_BENCH_FLOOR_H

#include "err.h"

struct floor {
	int base_fd;		/* our group under the cgroup2 mount */
	char base[4096];	/* its path, for the final rmdir */
};

/* Create a private cgroup under the cgroup2 mount (from mountinfo). */
int floor_init(struct floor *f, struct cerr *e);

/* Run /bin/true once in cgroup <base>/<name>; 0 only if it exited 0. */
int floor_run(const struct floor *f, const char *name, struct cerr *e);

void floor_fini(struct floor *f);

/* Monotonic clock in nanoseconds. */
long long now_ns(void);

#endif
