/* The helper's own policy (root-owned helper.conf) and the checks every
 * START request must pass.  Everything here is pure: no syscalls but the
 * ones in policy_load, so the checks can be fuzzed. */
#ifndef CORRAL_HELPER_POLICY_H
#define CORRAL_HELPER_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "proto.h"
#include "wire.h"

#define POLICY_ROOTFS_MAX 16
#define POLICY_JOBS_MAX 65536
#define UNBOUNDED UINT64_MAX

struct policy_rootfs {
	char path[PATH_LEN_MAX];
	dev_t dev;
	ino_t ino;
	bool ok;	/* false: could not be opened safely at load */
	char why[128];
};

struct policy {
	char manager_user[64];
	uid_t manager_uid;
	char cgroup_base[PATH_LEN_MAX];	/* "/..." or "self" */
	uid_t min_uid;
	bool allow_root_jobs;
	unsigned max_jobs;
	uint32_t ns_may_off;		/* NS_* bits a request may turn off */
	struct policy_rootfs rootfs[POLICY_ROOTFS_MAX];
	unsigned nrootfs;
	/* upper bounds on one job; UNBOUNDED if not set */
	uint64_t max_memory, max_swap, max_cpu_quota, max_pids;
	uint64_t max_io_bps, max_io_iops;
	/* per-user totals on base/jobs/<uid>; 0 if not set */
	uint64_t user_memory, user_pids, user_cpu_quota;
};

/* A START request after every check, pointing into the decoded message. */
struct start_req {
	const char *job_id;
	uid_t uid;
	const char **argv;	/* NULL-terminated, malloc'd array */
	size_t argc;
	const char **envp;	/* NULL-terminated, malloc'd array */
	size_t envc;
	const char *cwd;
	bool has_mem, has_swap, has_cpu, has_pids;
	uint64_t mem_max, swap_max, cpu_quota, pids_max;
	const char *cpuset_cpus, *cpuset_mems;
	struct io_limit io[IO_LIMIT_MAX];
	size_t nio;
	uint32_t ns_off;
	int rootfs_idx;		/* -1: none */
};

/* Controllers a request needs, as bits. */
enum { CG_CPU = 1, CG_MEMORY = 2, CG_IO = 4, CG_PIDS = 8, CG_CPUSET = 16 };

/* Open a path from the real root without following any symlink
 * (openat2 RESOLVE_NO_SYMLINKS); flags gain O_CLOEXEC | O_NOFOLLOW. */
int open_nofollow(const char *path, int flags, struct cerr *e);

void policy_defaults(struct policy *p);
/* Parse helper.conf text; does not resolve users or open rootfs dirs. */
int policy_parse(const char *buf, size_t len, struct policy *p,
		 struct cerr *e);
/* Open path securely (root-owned file and parents, nothing group/world
 * writable, no symlinks), parse, resolve the manager user, and record
 * each allowed rootfs's device and inode. */
int policy_load(const char *path, struct policy *p, struct cerr *e);

/* Check a decoded START against the policy.  Fills r (free r->argv and
 * r->envp with start_req_free).  Errors name the offending field. */
int start_check(const struct policy *p, const struct wire_msg *m,
		struct start_req *r, struct cerr *e);
void start_req_free(struct start_req *r);
unsigned start_controllers(const struct start_req *r);
const char *controller_name(unsigned bit);

#endif
