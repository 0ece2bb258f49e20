/* Job cgroups: <cgroup2 mount>/<base>/jobs/<uid>/<job-id>, always reached
 * through directory fds opened with O_NOFOLLOW, never by path strings. */
#ifndef CORRAL_HELPER_CGROUP_H
#define CORRAL_HELPER_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "policy.h"

struct cg_root {
	int basefd;
	int jobsfd;
	unsigned available;	/* CTRL_* in base's cgroup.controllers */
	char controllers[256];
};

struct cg_stats {
	uint64_t oom_kills, cpu_usec, memory_peak;
	bool has_oom, has_peak;	/* the memory controller's files were there */
};

/* Find cgroup2, open the base, move any processes in it into base/daemon
 * (no internal processes), and with a fixed base the helper itself too,
 * create base/jobs. */
int cg_open(const struct policy *p, struct cg_root *cg, struct cerr *e);

/* Create jobs/<uid>/<id> with the controllers the request needs enabled
 * on the way down and the per-user totals on jobs/<uid>.  Returns an
 * O_DIRECTORY fd of the new group. */
int cg_create(struct cg_root *cg, const struct policy *p,
	      const struct start_req *r, struct cerr *e);
int cg_write_limits(int jobfd, const struct start_req *r, struct cerr *e);
void cg_read_stats(int jobfd, struct cg_stats *s);
int cg_kill(int jobfd, struct cerr *e);
/* Send sig to every process in the group but skip (the job's init),
 * each through a pidfd checked against cgroup.procs, in passes until no
 * new process shows up; after TERM or HUP a CONT.  Returns how many
 * processes were tried. */
int cg_signal(int jobfd, pid_t skip, int sig);
/* 1 if cgroup.events says populated 1, 0 if not, -1 on error. */
int cg_populated(int jobfd);
/* Remove jobs/<uid>/<id>; -1 with errno EBUSY while populated. */
int cg_remove(struct cg_root *cg, uid_t uid, const char *id);
/* jobs/<uid>/<id>, an O_DIRECTORY fd, or -1. */
int cg_open_job(struct cg_root *cg, uid_t uid, const char *id);
/* Whether pid is in the group's cgroup.procs. */
bool cg_has_pid(int jfd, pid_t pid);
/* Kill and remove every job group left under jobs/ (waits up to
 * timeout_ms for each to empty).  Returns how many were swept. */
int cg_sweep(struct cg_root *cg, int timeout_ms);

#endif
