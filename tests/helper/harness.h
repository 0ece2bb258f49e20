/* Host-tier test harness for corral-helper: throw-away users, the policy
 * file, the base cgroup, a setuid copy of the helper, and a driver that
 * speaks the helper link the way corrald does (and, for the hostile
 * tests, the way a compromised corrald might). */
#ifndef CORRAL_TEST_HARNESS_H
#define CORRAL_TEST_HARNESS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"
#include "wire.h"
#include "wire_io.h"

#define WAIT_MS 10000		/* every wait on the helper is bounded */
#ifndef POLICY_DIR
#define POLICY_DIR "/run/corral-test"
#endif
#define POLICY_PATH POLICY_DIR "/helper.conf"
#define NOUSER_UID 4000000u

struct suite {
	char mgr[32], job[32], grp[32], sys[32];
	uid_t mgr_uid, job_uid, sys_uid;
	gid_t mgr_gid, job_gid, grp_gid;
	char exe_dir[PATH_MAX];		/* build/tests/helper */
	char helper_src[PATH_MAX];	/* build/corral-helper-test */
	char probe[PATH_MAX], probe_static[PATH_MAX], preload[PATH_MAX];
	char tmpdir[PATH_MAX];		/* /tmp/crlt-XXXXXX: the setuid copy */
	char helper[PATH_MAX];
	char rundir[PATH_MAX];		/* rootfs dirs and a private dir */
	char cg_mount[PATH_MAX];	/* cgroup2 mount point */
	char cg_rel[64];		/* cgroup_base as the policy says it */
	char cg_base[PATH_MAX], cg_jobs[PATH_MAX];
	char host_ns[6][128];		/* readlink of /proc/self/ns/<x> */
	bool made_policy_dir, ready;
};
extern struct suite S;

/* Policy variations a test may ask for; all zero = the default policy. */
struct policy {
	int max_jobs;			/* 0: leave the key out */
	bool allow_no_net, allow_no_uts;
	bool limits;			/* a [limits] section with bounds */
	mode_t mode;			/* 0: 0644 */
	bool mgr_owned;			/* file owned by the manager user */
	bool dir_group_writable;
	const char *extra;		/* appended verbatim (e.g. a bad key) */
};

struct helper {
	pid_t pid;
	int sock;
	int pty;			/* master of the helper's terminal, or -1 */
	bool eof;
	int exec_errno;			/* why execve failed, or 0 */
	int exit_status;		/* waitpid status once reaped */
	bool reaped;
	uint32_t ready_pid;
	char controllers[260];
	struct wire_msg q[64];		/* events not yet claimed */
	int nq;
};

struct spawn_opts {
	uid_t uid;			/* 0: the manager user */
	gid_t gid;
	gid_t extra_gid;		/* a supplementary group, or 0 */
	bool as_root;			/* keep uid 0 */
	int extra_fds;			/* inherited fds without CLOEXEC */
	bool hostile_env;
	bool tty;			/* start with a controlling terminal */
	int resume_fd;			/* > 0: passed as fd 5 with argv
					 * "--resume 5" (a forged re-exec) */
	bool own_net;			/* in a netns of its own with the bridge
					 * crlt-br, and a mount namespace in which
					 * /usr/sbin/nft is /dev/null */
};

#define JOB_ARGV_MAX 8
struct jobreq {
	uid_t uid;
	const char *argv[JOB_ARGV_MAX + 1];
	const char *const *env;	/* NULL-terminated; NULL: a default */
	const char *cwd;
	uint64_t memory_max, pids_max;
	bool has_ns_off;
	uint32_t ns_off;
	const char *rootfs;
	const char *network;		/* --network's value, or NULL */
	const char *job_id;		/* NULL: a fresh UUID */
};

struct job {
	char id[64];
	int out, err;			/* read ends, -1 once at EOF */
	uint16_t reply;			/* STARTED, START_FAILED or ERROR */
	uint32_t pid;
	bool exited;
	uint32_t wstatus;
	uint64_t cpu_usec;
	char stage[40];
	int errnum;
	char msg[1100];
	char outbuf[32768], errbuf[8192];
	size_t outlen, errlen;
};

/* suite.c */
int suite_setup(void);
void suite_cleanup(void);
int run_cmd(const char *const argv[]);
void pathf(char *dst, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void make_uuid(char out[37]);
int policy_write(const struct policy *p);
void policy_restore(void);
int count_job_dirs(void);
int count_cg_dirs(void);
bool job_dir_exists(uid_t uid, const char *id);
void job_dir(uid_t uid, const char *id, char *out, size_t n);
void cg_sweep(void);
/* Kill, empty and remove a cgroup tree (path under the mount). */
void cg_remove_tree(const char *path);
int count_fds_of(pid_t pid);
int count_user_procs(uid_t uid);
long now_ms(void);

/* link.c */
int helper_spawn(struct helper *h, const struct spawn_opts *o);
int helper_wait_ready(struct helper *h, int timeout_ms);
int helper_start(struct helper *h, const struct policy *p,
		 const struct spawn_opts *o);
int helper_wait_exit(struct helper *h, int timeout_ms);
void helper_stop(struct helper *h);
void helpers_kill_all(void);
int helper_next(struct helper *h, uint32_t types, const char *job_id,
		struct job *pump, int timeout_ms, struct wire_msg *out);
#define TBIT(t) (1u << ((t) - H_READY))
void pipe_drain(int *fd, char *buf, size_t cap, size_t *len);
int raw_send(int sock, const void *buf, size_t len, const int *fds, int nfds);
void out_seal(struct wire_out *o);

/* job.c */
void jobreq_init(struct jobreq *r, const char *probe_cmd, const char *arg);
int job_build(const struct jobreq *r, const char *id, struct wire_out *o);
int job_send(struct helper *h, const struct jobreq *r, struct job *j);
int job_send_raw(struct helper *h, struct wire_out *o, const char *id,
		 struct job *j);
int job_await_reply(struct helper *h, struct job *j, int timeout_ms);
int job_await_exit(struct helper *h, struct job *j, int timeout_ms);
int job_await_output(struct helper *h, struct job *j, const char *needle,
		     int timeout_ms);
void job_close(struct job *j);
int job_run(struct helper *h, const struct jobreq *r, struct job *j);
bool pipes_closed(struct job *j, int timeout_ms);
void job_dump(const struct job *j);

#endif
