/* The helper's own policy (root-owned helper.conf) and every decision the
 * helper makes about a request.  Everything here but policy_load and
 * open_nofollow is pure (no syscalls), so the decisions can be fuzzed and
 * read in one place; main.c's request table names which check guards
 * which request. */
#ifndef CORRAL_HELPER_POLICY_H
#define CORRAL_HELPER_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "proto.h"
#include "runopt.h"
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

#define POLICY_NETS_MAX 16
#define POLICY_NET_MEMBERS_MAX 32
#define IFNAME_LEN 16		/* IFNAMSIZ: 15 characters and a NUL */

/* A [network NAME] section: a bridge the admin made, a subnet on it, and
 * the addresses jobs may have there, for whom. */
struct policy_net {
	char name[NET_NAME_MAX + 1];
	char bridge[IFNAME_LEN];
	uint32_t subnet, mask;		/* host byte order */
	unsigned prefix;
	uint32_t gateway;		/* 0: none, no default route */
	uint32_t pool_lo, pool_hi;	/* inclusive */
	unsigned max_per_user;		/* addresses one user holds at once */
	bool antispoof;			/* nftables rules on each job's port */
	unsigned keys_set;		/* parsing: the keys given once already */
	/* users = alice, @builders: names as written ('@' dropped for groups) */
	char users[POLICY_NET_MEMBERS_MAX][USER_LEN_MAX];
	unsigned nusers;
	char groups[POLICY_NET_MEMBERS_MAX][USER_LEN_MAX];
	gid_t gids[POLICY_NET_MEMBERS_MAX];	/* resolved by policy_load */
	unsigned ngroups;
};

struct policy {
	char manager_user[USER_LEN_MAX];
	uid_t manager_uid;
	char cgroup_base[PATH_LEN_MAX];	/* "/..." or "self" */
	uid_t min_uid, max_uid;		/* jobs run as uids in between */
	bool allow_root_jobs;
	unsigned max_jobs;
	uint32_t ns_may_off;		/* NS_* bits a request may turn off */
	struct policy_rootfs rootfs[POLICY_ROOTFS_MAX];
	unsigned nrootfs;
	/* [limits]: the bound on one job of each run option that has a
	 * policy key; UNBOUNDED if not set */
	uint64_t max[OPT_COUNT];
	uint64_t max_io_bps, max_io_iops;
	/* [user]: totals on base/jobs/<uid> (OF_USER options); 0 if not set */
	uint64_t user[OPT_COUNT];
	struct policy_net nets[POLICY_NETS_MAX];
	unsigned nnets;
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
	struct runopts opt;	/* with the policy's bounds filled in */
	uint32_t ns_off;
	int rootfs_idx;		/* -1: none */
	unsigned short rows, cols;	/* -t: the terminal's size; 0: unknown */
	int net_idx;		/* --network: the policy's network; -1: none */
	uint32_t net_want;	/* --network NAME=ADDR's address; 0: any */
};

struct signal_req {
	const char *job_id;
	int sig;
	bool foreground;	/* to the main process's group, by the init */
};

/* What a checked request holds, whichever it is. */
union request {
	struct start_req start;
	struct signal_req sig;	/* SIGNAL; KILL uses job_id only */
	uint32_t version;	/* HELLO */
};

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

/* --- the checks of main.c's request table ---------------------------- */

/* START: every field against the policy.  Fills r->start (free it with
 * start_req_free).  Errors name the offending field. */
int start_check(const struct policy *p, const struct wire_msg *m,
		union request *r, struct cerr *e);
void start_req_free(struct start_req *r);
/* SIGNAL: a job id and a signal: with foreground, one of the four the
 * job's init forwards to its main process's group; else any but KILL
 * (the KILL request) and the C library's own 32 and 33, for every
 * process of the job. */
int signal_check(const struct policy *p, const struct wire_msg *m,
		 union request *r, struct cerr *e);
/* KILL: a job id. */
int kill_check(const struct policy *p, const struct wire_msg *m,
	       union request *r, struct cerr *e);

/* HELLO: corrald's link version (any; the helper answers with its own). */
int hello_check(const struct policy *p, const struct wire_msg *m,
		union request *r, struct cerr *e);
/* REEXEC: nothing to check in the message; what the helper will run is
 * exec_path_open's decision. */
int reexec_check(const struct policy *p, const struct wire_msg *m,
		 union request *r, struct cerr *e);
/* JOBS: nothing in the message either; the answer is the helper's own
 * table. */
int jobs_check(const struct policy *p, const struct wire_msg *m,
	       union request *r, struct cerr *e);
/* The helper's own binary, for its re-exec: a root-owned setuid file
 * nobody else may write, in directories only root may change (or that
 * are root's and sticky, like /tmp), reached without symlinks.  An
 * O_PATH fd to execveat, so what was checked is what runs. */
int exec_path_open(const char *path, struct cerr *e);

/* --- decisions while starting ---------------------------------------- */

/* Room for one more job beside running ones. */
int capacity_check(const struct policy *p, unsigned running, struct cerr *e);
/* The controllers a request needs (CTRL_* bits) on its own group, and
 * on the way down (with the per-user totals). */
unsigned start_controllers(const struct start_req *r);
unsigned user_controllers(const struct policy *p);
/* Every controller in need is among those available (CTRL_* bits;
 * avail_text is the kernel's list, for the message). */
int controllers_check(unsigned available, unsigned need,
		      const char *avail_text, struct cerr *e);
/* CTRL_* bits of a cgroup.controllers line. */
unsigned controllers_parse(const char *line);

/* The index of the network called name, or -1. */
int policy_net_find(const struct policy *p, const char *name);
/* --network: may this user (name, and every gid it has) use network n? */
int net_member_check(const struct policy_net *n, const char *user,
		     const gid_t *gids, int ngids, struct cerr *e);
/* The address for a job on n: want (0: the lowest free one in the pool),
 * given the addresses taken on n and how many of them the user holds. */
int net_pick(const struct policy_net *n, uint32_t want,
	     const uint32_t *taken, size_t ntaken, unsigned user_holds,
	     uint32_t *out, struct cerr *e);
/* A.B.C.D into buf (at least 16 bytes). */
const char *fmt_ipv4(uint32_t a, char *buf, size_t len);

#endif
