/* Starting a job: clone3 into its cgroup and namespaces; the child is the
 * job's init, which forks the command. */
#ifndef CORRAL_HELPER_SPAWN_H
#define CORRAL_HELPER_SPAWN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "policy.h"

/* What the init or the job writes on the report pipe when a stage fails
 * before execve.  Fits in PIPE_BUF, so it arrives whole. */
struct spawn_report {
	uint32_t stage;		/* enum start_stage */
	int32_t err;
};

struct spawn_args {
	const struct start_req *r;
	const struct policy_rootfs *rootfs;	/* NULL: host root */
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	int ngroups;
	int cgfd, outfd, errfd, devnull;
	int infd;		/* the job's stdin: a pipe (-i) or devnull */
	int ttysock;		/* -t: where the init sends the pty master
				 * (docs/tty.md); else devnull */
	int report_w;		/* pre-exec failures; EOF means exec'd */
	int status_w;		/* the command's wait status, from the init */
	char hostname[64];
	bool net_preset;	/* the caller made the netns and is in it */
};

/* Clone the init.  On success *pidfd and *pid are set. */
int spawn_job(const struct spawn_args *a, int *pidfd, pid_t *pid,
	      struct cerr *e);

#endif
