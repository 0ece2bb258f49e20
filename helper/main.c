/* corral-helper: the only privileged code in corral.
 *
 * Started setuid root by corrald with a SOCK_SEQPACKET link on fd 3.  It
 * accepts the requests of the request table at the bottom (START,
 * SIGNAL, KILL, and HELLO, REEXEC and JOBS for reloads and restarts),
 * checks each with its check in policy.c against its own
 * root-owned policy, and reports STARTED, START_FAILED and EXITED.
 * docs/helper.md is the reviewer's guide. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/magic.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "net.h"
#include "parse.h"
#include "policy.h"
#include "proto.h"
#include "seccomp_filter.h"
#include "spawn.h"
#include "wire_io.h"

#ifndef HELPER_CONF
#error "HELPER_CONF must be set at build time"
#endif

#define LINK_FD 3

enum { EV_LINK, EV_PIDFD, EV_REPORT, EV_EVENTS };

struct job {
	bool used, started, exited;
	uint32_t gen;		/* tells a reused slot from its last job */
	char id[JOB_ID_LEN + 1];
	uid_t uid;
	pid_t pid;
	int pidfd, cgfd, report_r, status_r, eventsfd;
	int tty_r;		/* -t: the init sends the pty master here */
	uint32_t wstatus;
	struct cg_stats stats;
	struct spawn_report fail;	/* fail.stage set: start failed */
	int lease;			/* --network: its address; -1: none */
	struct net_job net;
};

static struct policy pol;
static struct cg_root cg;
static struct job *jobs;
static unsigned njobs;
/* Slots: max_jobs, or more after a re-exec under a smaller max_jobs
 * (the jobs kept then still count against it). */
static unsigned nslots;
static int epfd = -1;
/* Every address held: max_jobs for our jobs, and as many again for
 * veths found at start-up whose jobs may not have ended yet. */
static struct net_lease *leases;
static size_t nleases;

/* An event must not be lost when corrald's receive queue is full (a
 * thousand jobs ending at once): wait for room.  corrald never blocks on
 * the helper, so this cannot deadlock; a peer that hung up ends the wait. */
static void send_msg(struct wire_out *o)
{
	struct cerr e;
	int rc;

	if (wire_out_finish(o, &e) < 0) {
		syslog(LOG_ERR, "cannot encode for corrald: %s", e.msg);
		wire_out_free(o);
		return;
	}
	while ((rc = wire_send_packet(LINK_FD, o, &e)) < 0 && e.num == EAGAIN) {
		struct pollfd p = { .fd = LINK_FD, .events = POLLOUT };
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			break;
		if (p.revents & (POLLHUP | POLLERR))
			break;
	}
	if (rc < 0)
		syslog(LOG_ERR, "cannot send to corrald: %s", e.msg);
	wire_out_free(o);
}

static void send_error(const char *id, int err, const char *msg)
{
	struct wire_out o;

	wire_out_init(&o, &proto_helper_ev, H_ERROR);
	if (id)
		wire_put_str(&o, F_JOB_ID, id);
	wire_put_u32(&o, F_ERRNO, (uint32_t)(err & 4095));
	wire_put_str(&o, F_MESSAGE, msg);
	send_msg(&o);
}

static void send_start_failed(const char *id, enum start_stage stage, int err,
			      const char *msg)
{
	struct wire_out o;

	wire_out_init(&o, &proto_helper_ev, H_START_FAILED);
	wire_put_str(&o, F_JOB_ID, id);
	wire_put_u32(&o, F_STAGE, stage);
	wire_put_u32(&o, F_ERRNO, (uint32_t)(err & 4095));
	wire_put_str(&o, F_MESSAGE, msg);
	send_msg(&o);
}

static struct job *find_job(const char *id)
{
	for (unsigned i = 0; i < nslots; i++)
		if (jobs[i].used && !strcmp(jobs[i].id, id))
			return &jobs[i];
	return NULL;
}

/* epoll data: generation << 32 | slot << 8 | kind, so an event fetched in
 * the same batch in which its slot was freed and reused is recognised. */
static int watch(int fd, uint32_t events, unsigned slot, unsigned kind)
{
	uint32_t gen = kind == EV_LINK ? 0 : jobs[slot].gen;
	struct epoll_event ev = { .events = events,
				  .data.u64 = (uint64_t)gen << 32 | (uint64_t)slot << 8 | kind };
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* The job's cgroup is empty or was never filled: its veth goes (and the
 * pair with it), and only then its address is free again. */
static void release_net(struct job *j)
{
	net_job_close(&j->net);
	if (j->lease < 0)
		return;
	/* A setup that failed has undone itself already. */
	if (j->net.up)
		net_job_teardown(&leases[j->lease]);
	j->net.up = false;
	leases[j->lease].used = false;
	j->lease = -1;
}

static void close_job(struct job *j)
{
	int *fds[] = { &j->pidfd, &j->cgfd, &j->report_r, &j->status_r,
		       &j->eventsfd, &j->tty_r };

	release_net(j);
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
	j->used = false;
	njobs--;
}

/* --- START ------------------------------------------------------------ */

struct user_ids {
	char name[USER_LEN_MAX];
	gid_t gid;
	gid_t *groups;
	int ngroups;
};

/* The helper resolves the user itself; corrald only names a uid. */
static int resolve_user(uid_t uid, struct user_ids *u, struct cerr *e)
{
	struct passwd pw, *res = NULL;
	char buf[16384];
	int n = 64;

	if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) != 0 || !res)
		return cerr_set(e, ENOENT, "uid %u has no passwd entry", (unsigned)uid);
	u->gid = pw.pw_gid;
	snprintf(u->name, sizeof u->name, "%s", pw.pw_name);
	for (;;) {
		int want = n;
		u->groups = calloc((size_t)n, sizeof(gid_t));
		if (!u->groups)
			return cerr_sys(e, "groups");
		if (getgrouplist(pw.pw_name, pw.pw_gid, u->groups, &n) >= 0)
			break;
		free(u->groups);
		u->groups = NULL;
		if (n <= want)
			n = want * 2;
		if (n > GROUPS_MAX)
			return cerr_set(e, E2BIG, "user %s is in too many groups", pw.pw_name);
	}
	u->ngroups = n;
	return 0;
}

/* The policy's rootfs may have been swapped since the policy was read:
 * reach it again without symlinks and compare the inode. */
static int check_rootfs(const struct policy_rootfs *rf, struct cerr *e)
{
	_cleanup_close_ int fd = open_nofollow(rf->path, O_PATH | O_DIRECTORY, e);
	struct stat st;

	if (!rf->ok)
		return cerr_set(e, ENOENT, "rootfs %s was unusable when the policy was read: %s",
				rf->path, rf->why);
	if (fd < 0)
		return cerr_wrap(e, "rootfs");
	if (fstat(fd, &st) < 0)
		return cerr_sys(e, "rootfs %s", rf->path);
	if (st.st_dev != rf->dev || st.st_ino != rf->ino)
		return cerr_set(e, ESTALE, "rootfs %s was replaced after the policy was read", rf->path);
	return 0;
}

static struct job *free_slot(void)
{
	for (unsigned i = 0; i < nslots; i++)
		if (!jobs[i].used)
			return &jobs[i];
	return NULL;
}

/* The job's stdio as START brought it (start_check counted and checked
 * them): -1 where it brought none. */
struct stdio {
	int out, err, in;
};

/* -t: a socket pair whose far end the init sends the master on; ours is
 * j->tty_r, read once the job has exec'd (read_report). */
static int tty_channel(struct job *j, int *far, struct cerr *e)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return cerr_sys(e, "socketpair");
	j->tty_r = sv[0];
	*far = sv[1];
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0)
		return cerr_sys(e, "socketpair");
	return 0;
}

/* Clone the job with everything prepared; closes what the init owns. */
static int launch(struct job *j, const struct start_req *r,
		  const struct user_ids *u, const struct stdio *io, struct cerr *e)
{
	_cleanup_close_ int rep_w = -1, st_w = -1, devnull = -1, tty_w = -1;
	int rep[2], st[2];
	struct spawn_args a = {
		.r = r, .uid = r->uid, .gid = u->gid, .groups = u->groups,
		.ngroups = u->ngroups, .cgfd = j->cgfd,
		.rootfs = r->rootfs_idx >= 0 ? &pol.rootfs[r->rootfs_idx] : NULL,
	};

	if (pipe2(rep, O_CLOEXEC) < 0)
		return cerr_sys(e, "pipe");
	j->report_r = rep[0];
	/* Only our end: the helper must never wait on a job's pipe. */
	if (fcntl(rep[0], F_SETFL, O_NONBLOCK) < 0) {
		close(rep[1]);
		return cerr_sys(e, "pipe");
	}
	rep_w = rep[1];
	if (pipe2(st, O_CLOEXEC | O_NONBLOCK) < 0)
		return cerr_sys(e, "pipe");
	j->status_r = st[0];
	st_w = st[1];
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return cerr_sys(e, "open /dev/null");
	if (runopt_has(&r->opt, OPT_TTY) && tty_channel(j, &tty_w, e) < 0)
		return -1;
	/* -t: devnull stands in until the init puts the pty's slave there. */
	a.outfd = io->out >= 0 ? io->out : devnull;
	a.errfd = io->err >= 0 ? io->err : devnull;
	a.infd = io->in >= 0 ? io->in : devnull;
	a.ttysock = tty_w >= 0 ? tty_w : devnull;
	a.report_w = rep_w;
	a.status_w = st_w;
	a.devnull = devnull;
	snprintf(a.hostname, sizeof a.hostname, "corral-%.8s", r->job_id);
	if (j->net.nsfd < 0)
		return spawn_job(&a, &j->pidfd, &j->pid, e);
	/* Born in the netns made for it, configured already. */
	a.net_preset = true;
	if (net_enter(&j->net, e) < 0)
		return -1;
	int rc = spawn_job(&a, &j->pidfd, &j->pid, e);
	net_leave();
	net_job_close(&j->net);
	return rc;
}

/* A veth found at start-up whose job's cgroup is gone now: delete it,
 * free its address. */
static bool job_group_gone(const char *id, uid_t uid)
{
	return cg_remove(&cg, uid, id) == 0 || errno == ENOENT;
}

static void expire_orphan_leases(void)
{
	for (size_t i = 0; i < nleases; i++) {
		struct net_lease *l = &leases[i];
		if (l->used && !find_job(l->job_id) && job_group_gone(l->job_id, l->uid)) {
			net_job_teardown(l);
			l->used = false;
		}
	}
}

/* Reserve the job's address (the helper is single-threaded: atomic),
 * before anything is made for the job: the user may use the network,
 * holds fewer than max_per_user addresses there, the address is in the
 * pool and free, and the bridge is there. */
static int reserve_net(struct job *j, const struct start_req *r,
		       const struct user_ids *u, struct cerr *e)
{
	const struct policy_net *n = &pol.nets[r->net_idx];
	_cleanup_free_ uint32_t *taken = calloc(nleases, sizeof *taken);
	size_t ntaken = 0, slot = nleases;
	unsigned holds = 0;
	uint32_t addr;

	if (!taken)
		return cerr_sys(e, "network");
	if (net_member_check(n, u->name, u->groups, u->ngroups, e) < 0)
		return -1;
	expire_orphan_leases();
	for (size_t i = 0; i < nleases; i++) {
		if (!leases[i].used) {
			slot = slot < nleases ? slot : i;
			continue;
		}
		if (leases[i].net != r->net_idx)
			continue;
		taken[ntaken++] = leases[i].addr;
		holds += leases[i].uid == r->uid;
	}
	if (net_pick(n, r->net_want, taken, ntaken, holds, &addr, e) < 0)
		return -1;
	if (slot >= nleases)
		return cerr_set(e, EAGAIN, "network: no free lease slot");
	leases[slot] = (struct net_lease){ .used = true, .net = r->net_idx,
					   .addr = addr, .uid = r->uid,
					   .antispoof = n->antispoof };
	strcpy(leases[slot].job_id, r->job_id);
	/* "crl" and 12 hex digits of the id: 15, IFNAMSIZ's most */
	snprintf(leases[slot].host_if, IFNAME_LEN, "crl%.8s%.4s", r->job_id, r->job_id + 9);
	j->lease = (int)slot;
	return net_bridge_check(n, e);
}

static void start_failed_cleanup(struct job *j, const struct start_req *r)
{
	if (j->cgfd >= 0)
		cg_remove(&cg, r->uid, r->job_id);
	close_job(j);
}

static void handle_start(struct wire_msg *m, union request *u)
{
	_cleanup_close_ int outfd = wire_take_fd(m, 0), errfd = wire_take_fd(m, 1),
		infd = wire_take_fd(m, 2);
	const struct stdio io = { outfd, errfd, infd };
	struct start_req *r = &u->start;
	struct user_ids ids = { 0 };
	enum start_stage stage = STAGE_POLICY;
	struct job *j;
	struct cerr e;

	if (find_job(r->job_id)) {
		send_start_failed(r->job_id, stage, EEXIST, "job_id is already running");
		return;
	}
	if (capacity_check(&pol, njobs, &e) < 0 || !(j = free_slot())) {
		send_start_failed(r->job_id, stage, EAGAIN, e.msg);
		return;
	}
	uint32_t gen = j->gen + 1;
	memset(j, 0, sizeof *j);
	j->gen = gen;
	j->used = true;
	j->pidfd = j->cgfd = j->report_r = j->status_r = j->eventsfd = j->tty_r = -1;
	j->lease = j->net.nsfd = -1;
	njobs++;
	strcpy(j->id, r->job_id);
	j->uid = r->uid;
	if ((stage = STAGE_USER, resolve_user(r->uid, &ids, &e) < 0) ||
	    (stage = STAGE_ROOTFS, r->rootfs_idx >= 0 && check_rootfs(&pol.rootfs[r->rootfs_idx], &e) < 0) ||
	    (stage = STAGE_NET, r->net_idx >= 0 && reserve_net(j, r, &ids, &e) < 0) ||
	    (stage = STAGE_CGROUP, (j->cgfd = cg_create(&cg, &pol, r, &e)) < 0) ||
	    (stage = STAGE_LIMITS, cg_write_limits(j->cgfd, r, &e) < 0) ||
	    (stage = STAGE_NET, j->lease >= 0 &&
	     net_job_setup(&pol.nets[r->net_idx], &leases[j->lease], ids.gid, &j->net, &e) < 0) ||
	    (stage = STAGE_CLONE, launch(j, r, &ids, &io, &e) < 0)) {
		/* Nothing left (cgroup, veth, address) before corrald
		 * hears of it: a START after this one finds them gone. */
		start_failed_cleanup(j, r);
		send_start_failed(r->job_id, stage, e.num, e.msg);
		goto out;
	}
	unsigned slot = (unsigned)(j - jobs);
	if (watch(j->pidfd, EPOLLIN, slot, EV_PIDFD) < 0 ||
	    watch(j->report_r, EPOLLIN, slot, EV_REPORT) < 0)
		syslog(LOG_ERR, "epoll: %m");	/* cannot happen with valid fds */
out:
	free(ids.groups);
}

/* --- SIGNAL and KILL --------------------------------------------------- */

static struct job *running_job(const char *id)
{
	struct job *j = find_job(id);

	if (!j || j->exited) {
		send_error(id, ESRCH, "no such running job");
		return NULL;
	}
	return j;
}

static void handle_signal(struct wire_msg *m, union request *u)
{
	struct job *j = running_job(u->sig.job_id);

	if (!j)
		return;
	/* The init's pid namespace knows the group; it forwards. */
	if (u->sig.foreground) {
		if (syscall(SYS_pidfd_send_signal, j->pidfd, u->sig.sig, NULL, 0) < 0)
			send_error(j->id, errno, "signal: pidfd_send_signal failed");
		return;
	}
	cg_signal(j->cgfd, j->pid, u->sig.sig);
}

static void handle_kill(struct wire_msg *m, union request *u)
{
	struct job *j = running_job(u->sig.job_id);
	struct cerr e;

	if (j && cg_kill(j->cgfd, &e) < 0)
		send_error(j->id, e.num, e.msg);
}

/* --- job end ----------------------------------------------------------- */

/* -t: the master the init sent before the job existed, checked to be
 * one (a pty master reads as the ptmx device: major 5, minor 2); -1 if
 * there is none or it is not one. */
static int take_master(struct job *j)
{
	char byte, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl, .msg_controllen = sizeof ctl };
	struct cmsghdr *c;
	struct stat st;
	int fd = -1, n;

	if (j->tty_r < 0 ||
	    recvmsg(j->tty_r, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(c), sizeof fd);
	if (fd < 0)
		return -1;
	if ((mh.msg_flags & MSG_CTRUNC) || fstat(fd, &st) < 0 ||
	    !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 ||
	    minor(st.st_rdev) != 2 || ioctl(fd, TIOCGPTN, &n) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read the report pipe: a record is a failed stage, EOF is a clean
 * execve (the job's copy closed on exec, the init's after its drop). */
static void read_report(struct job *j)
{
	ssize_t n;

	if (j->report_r < 0)
		return;
	n = read(j->report_r, &j->fail, sizeof j->fail);
	if (n == (ssize_t)sizeof j->fail) {
		/* Written by our own code before exec, but read as data. */
		if (j->fail.stage <= STAGE_NONE || j->fail.stage >= STAGE_COUNT)
			j->fail.stage = STAGE_INIT;
	} else if (n == 0) {
		struct wire_out o;
		j->started = true;
		_cleanup_close_ int master = take_master(j);
		wire_out_init(&o, &proto_helper_ev, H_STARTED);
		wire_put_str(&o, F_JOB_ID, j->id);
		wire_put_u32(&o, F_PID, (uint32_t)j->pid);
		/* None for a -t job: corrald kills it (no terminal). */
		if (master >= 0)
			wire_put_fd(&o, master);
		if (j->lease >= 0) {
			wire_put_str(&o, F_NET_ADDRESS, j->net.address);
			wire_put_str(&o, F_NET_MAC, j->net.mac);
		}
		send_msg(&o);
	} else {
		j->fail.stage = STAGE_INIT;
		j->fail.err = n < 0 ? errno : EPROTO;
	}
	epoll_ctl(epfd, EPOLL_CTL_DEL, j->report_r, NULL);
	close(j->report_r);
	j->report_r = -1;
}

/* The last ends told to corrald, told again at JOBS: a corrald killed
 * after it read an EXITED but before it recorded it learns the end
 * from these (docs/restart.md, re-sync).  A ring, so bounded. */
#define ENDS_KEPT 64
static struct told_end {
	char id[JOB_ID_LEN + 1];	/* "": an empty slot */
	uint32_t wstatus;
	struct cg_stats stats;
} ends[ENDS_KEPT];
static unsigned ends_next;

static void put_end(struct wire_out *o, const char *id, uint32_t wstatus,
		    const struct cg_stats *st)
{
	wire_put_str(o, F_JOB_ID, id);
	wire_put_u32(o, F_WSTATUS, wstatus);
	if (st->has_oom)
		wire_put_u64(o, F_OOM_KILLS, st->oom_kills);
	wire_put_u64(o, F_CPU_USEC, st->cpu_usec);
	if (st->has_peak)
		wire_put_u64(o, F_MEMORY_PEAK, st->memory_peak);
}

static void finish(struct job *j)
{
	struct wire_out o;
	char msg[128];

	/* The group is empty: the veth and its rules go before corrald
	 * hears of the end, so a job that follows finds them gone. */
	release_net(j);
	if (j->started) {
		struct told_end *t = &ends[ends_next++ % ENDS_KEPT];

		wire_out_init(&o, &proto_helper_ev, H_EXITED);
		put_end(&o, j->id, j->wstatus, &j->stats);
		send_msg(&o);
		memcpy(t->id, j->id, sizeof t->id);
		t->wstatus = j->wstatus;
		t->stats = j->stats;
	} else {
		snprintf(msg, sizeof msg, "%s", strerror(j->fail.err));
		send_start_failed(j->id, j->fail.stage, j->fail.err, msg);
	}
	close_job(j);
}

static void try_remove(struct job *j)
{
	if (cg_remove(&cg, j->uid, j->id) == 0 || errno == ENOENT) {
		finish(j);
		return;
	}
	if (j->eventsfd < 0) {
		/* Stragglers outside the pid namespace: wait for the
		 * kernel to say the group is empty. */
		j->eventsfd = openat(j->cgfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
		if (j->eventsfd < 0 ||
		    watch(j->eventsfd, EPOLLPRI, (unsigned)(j - jobs), EV_EVENTS) < 0) {
			syslog(LOG_ERR, "job %s: cannot watch its cgroup", j->id);
			finish(j);
		}
	}
}

static void init_exited(struct job *j)
{
	siginfo_t si = { 0 };
	int st;

	if (waitid((idtype_t)P_PIDFD, (id_t)j->pidfd, &si, WEXITED | WNOHANG) < 0 ||
	    si.si_pid == 0)
		return;
	epoll_ctl(epfd, EPOLL_CTL_DEL, j->pidfd, NULL);
	read_report(j);
	j->exited = true;
	if (read(j->status_r, &st, sizeof st) == (ssize_t)sizeof st)
		j->wstatus = (uint32_t)st & 0xffff;
	else if (si.si_code == CLD_EXITED)
		j->wstatus = (uint32_t)(si.si_status & 0xff) << 8;
	else
		j->wstatus = (uint32_t)(si.si_status & 0x7f) |
			     (si.si_code == CLD_DUMPED ? 0x80 : 0);
	cg_read_stats(j->cgfd, &j->stats);
	cg_kill(j->cgfd, NULL);
	try_remove(j);
}

/* --- the loop ---------------------------------------------------------- */

static void shutdown_all(void)
{
	for (unsigned i = 0; i < nslots; i++)
		if (jobs[i].used)
			cg_kill(jobs[i].cgfd, NULL);
	for (unsigned i = 0; i < nslots; i++) {
		struct job *j = &jobs[i];
		siginfo_t si;
		if (!j->used)
			continue;
		waitid((idtype_t)P_PIDFD, (id_t)j->pidfd, &si, WEXITED);
	}
	cg_sweep(&cg, 5000);
	for (unsigned i = 0; i < nslots; i++)
		if (jobs[i].used)
			release_net(&jobs[i]);
	exit(0);
}

/* --- HELLO and REEXEC: versions, and a new binary or policy ------------- */

static void handle_hello(struct wire_msg *m, union request *u)
{
	struct wire_out o;

	(void)m;
	(void)u;
	wire_out_init(&o, &proto_helper_ev, H_VERSION);
	wire_put_u32(&o, F_R_LINK_VERSION, HELPER_LINK_VERSION);
	send_msg(&o);
}

/* JOBS: after corrald restarted, which jobs this helper holds and what
 * it knows of each, from its own table (derived from the kernel), and
 * the last ends it told (RF_ENDED); a message corrald read but did not
 * act on before it died is found again this way.  HELD_END closes the
 * list. */
static void handle_jobs(struct wire_msg *m, union request *u)
{
	struct wire_out o;

	(void)m;
	(void)u;
	for (unsigned i = 0; i < ENDS_KEPT; i++) {
		if (!ends[i].id[0])
			continue;
		wire_out_init(&o, &proto_helper_ev, H_HELD);
		put_end(&o, ends[i].id, ends[i].wstatus, &ends[i].stats);
		wire_put_u32(&o, F_PID, 0);
		wire_put_u32(&o, F_R_FLAGS, RF_STARTED | RF_EXITED | RF_ENDED);
		send_msg(&o);
	}
	for (unsigned i = 0; i < nslots; i++) {
		const struct job *j = &jobs[i];
		if (!j->used)
			continue;
		wire_out_init(&o, &proto_helper_ev, H_HELD);
		wire_put_str(&o, F_JOB_ID, j->id);
		wire_put_u32(&o, F_PID, j->started ? (uint32_t)j->pid : 0);
		wire_put_u32(&o, F_R_FLAGS, (j->started ? RF_STARTED : 0) |
			     (j->exited ? RF_EXITED : 0));
		if (j->exited)
			wire_put_u32(&o, F_WSTATUS, j->wstatus & 0xffff);
		send_msg(&o);
	}
	wire_out_init(&o, &proto_helper_ev, H_HELD_END);
	wire_put_u32(&o, F_PID, (uint32_t)getpid());
	wire_put_u32(&o, F_MAX_JOBS, pol.max_jobs);
	send_msg(&o);
}

/* The binary this helper is, as the kernel named it at start-up. */
static char self_path[PATH_LEN_MAX + 1];

static int put_hjob(int sfd, const struct job *j, struct cerr *e)
{
	struct wire_out o;

	wire_out_init(&o, &proto_resume, R_HJOB);
	wire_put_str(&o, F_JOB_ID, j->id);
	wire_put_u32(&o, F_UID, (uint32_t)j->uid);
	wire_put_u32(&o, F_PID, (uint32_t)j->pid);
	if (j->report_r >= 0)
		wire_put_u32(&o, F_R_FD, (uint32_t)j->report_r);
	if (j->status_r >= 0)
		wire_put_u32(&o, F_R_FD2, (uint32_t)j->status_r);
	wire_put_u32(&o, F_R_FLAGS, (j->started ? RF_STARTED : 0) |
		     (j->exited ? RF_EXITED : 0) |
		     (j->stats.has_oom ? RF_HAS_OOM : 0) |
		     (j->stats.has_peak ? RF_HAS_PEAK : 0));
	wire_put_u32(&o, F_WSTATUS, j->wstatus & 0xffff);
	wire_put_u64(&o, F_OOM_KILLS, j->stats.oom_kills & WIRE_U63_MAX);
	wire_put_u64(&o, F_CPU_USEC, j->stats.cpu_usec & WIRE_U63_MAX);
	wire_put_u64(&o, F_MEMORY_PEAK, j->stats.memory_peak & WIRE_U63_MAX);
	if (j->fail.stage > STAGE_NONE && j->fail.stage < STAGE_COUNT)
		wire_put_u32(&o, F_STAGE, j->fail.stage);
	wire_put_u32(&o, F_ERRNO, (uint32_t)j->fail.err & 4095);
	return wire_write_file(sfd, &o, e);
}

/* Sealed and root's: a state file corrald could have made is refused. */
static int write_hstate(int sfd, struct cerr *e)
{
	struct wire_out o;

	wire_out_init(&o, &proto_resume, R_HMGR);
	wire_put_u32(&o, F_R_VERSION, RESUME_VERSION);
	wire_put_str(&o, F_R_PATH, self_path);
	if (wire_write_file(sfd, &o, e) < 0)
		return -1;
	for (unsigned i = 0; i < nslots; i++)
		if (jobs[i].used && put_hjob(sfd, &jobs[i], e) < 0)
			return -1;
	if (fcntl(sfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
		  F_SEAL_SEAL) < 0)
		return cerr_sys(e, "seal state");
	return 0;
}

/* The fds the next image keeps: the link, the state, each job's report
 * and status pipes (keep false: for the exec; true: it failed). */
static void hand_over(int sfd, bool keep)
{
	int flag = keep ? FD_CLOEXEC : 0;

	fcntl(LINK_FD, F_SETFD, flag);
	fcntl(sfd, F_SETFD, flag);
	for (unsigned i = 0; i < nslots; i++) {
		if (!jobs[i].used)
			continue;
		if (jobs[i].report_r >= 0)
			fcntl(jobs[i].report_r, F_SETFD, flag);
		if (jobs[i].status_r >= 0)
			fcntl(jobs[i].status_r, F_SETFD, flag);
	}
}

static void handle_reexec(struct wire_msg *m, union request *u)
{
	static char a0[] = "corral-helper", a1[] = "--resume";
	static char *const envp[] = { NULL };
	_cleanup_close_ int exe = -1, sfd = -1;
	struct policy next;
	char num[16], msg[700];
	char *argv[] = { a0, a1, num, NULL };
	struct cerr e;

	(void)m;
	(void)u;
	/* A policy the next image would die on keeps this one running. */
	if (policy_load(HELPER_CONF, &next, &e) < 0 ||
	    (exe = exec_path_open(self_path, &e)) < 0 ||
	    (sfd = memfd_create("corral-helper-state", MFD_CLOEXEC | MFD_ALLOW_SEALING)) < 0 ||
	    write_hstate(sfd, &e) < 0) {
		snprintf(msg, sizeof msg, "re-exec refused: %s", e.msg);
		syslog(LOG_ERR, "%s", msg);
		send_error(NULL, e.num ? e.num : EPERM, msg);
		return;
	}
	snprintf(num, sizeof num, "%d", sfd);
	syslog(LOG_INFO, "re-executing %s with %u job(s)", self_path, njobs);
	hand_over(sfd, false);
	syscall(SYS_execveat, exe, "", argv, envp, AT_EMPTY_PATH);
	snprintf(msg, sizeof msg, "re-exec of %.300s failed: %s", self_path, strerror(errno));
	hand_over(sfd, true);
	syslog(LOG_ERR, "%s", msg);
	send_error(NULL, EIO, msg);
}

/* The request table: the only requests the helper accepts, each with the
 * check in policy.c that every field passes before its handler runs, and
 * why what the handler then does is safe.  The framing layer has already
 * checked each field's type, count and bounds against proto_helper_req,
 * and refused any message that does not travel towards the helper. */
static const struct request_row {
	uint16_t type;
	int (*check)(const struct policy *p, const struct wire_msg *m,
		     union request *r, struct cerr *e);
	void (*handle)(struct wire_msg *m, union request *r);
	const char *why;
} requests[] = {
	{ H_START, start_check, handle_start,
	  "the uid, limits, namespaces and rootfs are checked against root's "
	  "policy, and the stdio fds are pipes of the right direction; the "
	  "helper looks the user up itself, and runs nothing but the job's "
	  "own command, as that user, in a fresh cgroup it made; a tty is "
	  "made by the init in the job's own mount namespace before the drop, "
	  "from a devpts instance it mounted there (docs/tty.md); a network "
	  "is one the policy names for that user, the address one of its "
	  "pool that no job holds, the veth named and addressed by the "
	  "helper alone" },
	{ H_SIGNAL, signal_check, handle_signal,
	  "foreground: only TERM, INT, HUP or QUIT, only to an init this "
	  "helper started, through the pidfd it kept (never a pid number); "
	  "else any signal but KILL, 32 and 33, only to processes the job's "
	  "own group lists once their pidfd is open (the user's, who cannot "
	  "move them out or others in), never to its init" },
	{ H_KILL, kill_check, handle_kill,
	  "cgroup.kill of a group this helper made, through the fd it kept" },
	{ H_HELLO, hello_check, handle_hello,
	  "answers with a constant, the helper's link version" },
	{ H_REEXEC, reexec_check, handle_reexec,
	  "execs only its own binary, reached without symlinks and checked "
	  "root-owned, setuid and writable by root alone, with an empty "
	  "environment; the next image believes only a sealed root-owned "
	  "state and checks every job against the kernel (resume_jobs)" },
	{ H_JOBS, jobs_check, handle_jobs,
	  "reads nothing from corrald and changes nothing: lists the ids, "
	  "pids and ends of the jobs in the helper's own table and the last "
	  "ends it told, which are corrald's own jobs (its START named "
	  "each)" },
};

static void dispatch_request(struct wire_msg *m)
{
	for (size_t i = 0; i < ARRAY_SIZE(requests); i++) {
		const struct request_row *q = &requests[i];
		union request r;
		struct cerr e;

		if (q->type != m->type)
			continue;
		if (q->check(&pol, m, &r, &e) < 0) {
			const char *id = wire_str(m, F_JOB_ID);
			if (m->type == H_START && job_id_valid(id))
				send_start_failed(id, STAGE_POLICY, e.num, e.msg);
			else
				send_error(job_id_valid(id) ? id : NULL, e.num, e.msg);
			return;
		}
		q->handle(m, &r);
		if (m->type == H_START)
			start_req_free(&r.start);
		return;
	}
	send_error(NULL, EBADMSG, "not a request the helper accepts");
}

static void handle_link(void)
{
	struct wire_msg m;
	struct cerr e;

	switch (wire_recv_packet(LINK_FD, &proto_helper_req, &m, &e)) {
	case WIRE_AGAIN:
		return;
	case WIRE_BAD:
		send_error(NULL, e.num ? e.num : EPROTO, e.msg);
		return;
	case WIRE_READY:
		dispatch_request(&m);
		wire_msg_free(&m);
		return;
	}
	/* EOF, or the link broke: corrald is gone, and so are its jobs. */
	shutdown_all();
}

static _Noreturn void loop(void)
{
	for (;;) {
		struct epoll_event evs[64];
		int n = epoll_wait(epfd, evs, 64, -1);

		if (n < 0 && errno != EINTR) {
			syslog(LOG_ERR, "epoll_wait: %m");
			shutdown_all();
		}
		for (int i = 0; i < n; i++) {
			uint64_t d = evs[i].data.u64;
			unsigned kind = d & 0xff;
			struct job *j = &jobs[(d >> 8) & 0xffffff];

			if (kind == EV_LINK)
				handle_link();
			else if (!j->used || j->gen != (uint32_t)(d >> 32))
				continue;
			else if (kind == EV_PIDFD)
				init_exited(j);
			else if (kind == EV_REPORT)
				read_report(j);
			else if (kind == EV_EVENTS && cg_populated(j->cgfd) == 0)
				try_remove(j);
		}
	}
}

/* --- resuming after a re-exec ------------------------------------------ */

#define HSTATE_MAX (16u << 20)
#define KEEP_MAX 8192

/* What the previous image handed over, decoded before sanitize() so it
 * knows which fds to keep. */
struct hstate {
	struct wire_msg *recs;
	size_t n;
	int keep[KEEP_MAX];
	size_t nkeep;
};

static int keep_fd(struct hstate *hs, const struct wire_msg *r, uint16_t id,
		   struct cerr *e)
{
	uint32_t fd = wire_u32(r, id, 0);

	if (!wire_has(r, id))
		return 0;
	if (fd <= LINK_FD || hs->nkeep == KEEP_MAX)
		return cerr_set(e, EBADF, "state names fd %u", fd);
	for (size_t i = 0; i < hs->nkeep; i++)
		if (hs->keep[i] == (int)fd)
			return cerr_set(e, EBADF, "state names fd %u twice", fd);
	hs->keep[hs->nkeep++] = (int)fd;
	return 0;
}

/* R_HMGR first, then only R_HJOBs; each job's fds are noted to keep. */
static int keep_hrecord(void *ctx, struct wire_msg *m, struct cerr *e)
{
	struct hstate *hs = ctx;

	uint16_t type = m->type;

	if (type != (hs->n ? R_HJOB : R_HMGR) || hs->n > KEEP_MAX) {
		wire_msg_free(m);
		return cerr_set(e, EBADMSG, "unexpected state record %u", type);
	}
	hs->recs[hs->n++] = *m;
	return keep_fd(hs, m, F_R_FD, e) < 0 || keep_fd(hs, m, F_R_FD2, e) < 0 ? -1 : 0;
}

static int decode_hstate(struct hstate *hs, const uint8_t *buf, size_t len,
			 struct cerr *e)
{
	if (wire_decode_each(&proto_resume, buf, len, keep_hrecord, hs, e) < 0)
		return -1;
	if (!hs->n || wire_u32(&hs->recs[0], F_R_VERSION, 0) != RESUME_VERSION)
		return cerr_set(e, EPROTO, "state of another version");
	return 0;
}

/* Only a state this helper made is believed: a sealed memfd owned by
 * root (corrald cannot make one), whatever else corrald passes. */
static int read_hstate(const char *arg, struct hstate *hs, struct cerr *e)
{
	_cleanup_free_ uint8_t *buf = NULL;
	char *end;
	long fd = strtol(arg, &end, 10);
	int want = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
	struct stat st;
	int r = -1;

	if (*end || fd <= LINK_FD || fd > INT_MAX)
		return cerr_set(e, EBADF, "no state fd");
	if (fstat((int)fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (fcntl((int)fd, F_GET_SEALS) & want) != want || st.st_size > HSTATE_MAX)
		cerr_set(e, EPERM, "the state is not a sealed root-owned memfd");
	else if (!(buf = malloc((size_t)st.st_size + 1)) ||
		 !(hs->recs = calloc(KEEP_MAX + 1, sizeof *hs->recs)))
		cerr_sys(e, "state");
	else if (pread((int)fd, buf, (size_t)st.st_size, 0) != st.st_size)
		cerr_sys(e, "read state");
	else
		r = decode_hstate(hs, buf, (size_t)st.st_size, e);
	close((int)fd);
	return r;
}

/* The kernel says whether pid is this process's child: 1 running, 2
 * exited and not reaped (WNOWAIT leaves it so), 0 not a child. */
static int own_child(pid_t pid)
{
	siginfo_t si = { 0 };

	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return 0;
	return si.si_pid == pid ? 2 : 1;
}

static int take_fifo(const struct wire_msg *r, uint16_t id, int *fd, struct cerr *e)
{
	struct stat st;

	*fd = -1;
	if (!wire_has(r, id))
		return 0;
	*fd = (int)wire_u32(r, id, 0);
	if (fstat(*fd, &st) < 0 || !S_ISFIFO(st.st_mode) ||
	    fcntl(*fd, F_SETFD, FD_CLOEXEC) < 0 || fcntl(*fd, F_SETFL, O_NONBLOCK) < 0)
		return cerr_set(e, EBADF, "fd %d is not a pipe", *fd);
	return 0;
}

/* Everything about a job is found again from the kernel: its group
 * under this helper's base, its init this process's own child and in
 * that group; only the report and status pipes (checked to be pipes)
 * and the figures of an end already seen are taken on trust. */
static int adopt_job(struct job *j, const struct wire_msg *r, struct cerr *e)
{
	uint32_t fl = wire_u32(r, F_R_FLAGS, 0);
	struct statfs sf;
	int child;

	snprintf(j->id, sizeof j->id, "%s", wire_str(r, F_JOB_ID));
	j->uid = wire_u32(r, F_UID, 0);
	j->pid = (pid_t)wire_u32(r, F_PID, 0);
	j->started = fl & RF_STARTED;
	j->exited = fl & RF_EXITED;
	j->wstatus = wire_u32(r, F_WSTATUS, 0);
	j->stats.has_oom = fl & RF_HAS_OOM;
	j->stats.has_peak = fl & RF_HAS_PEAK;
	j->stats.oom_kills = wire_u64(r, F_OOM_KILLS, 0);
	j->stats.cpu_usec = wire_u64(r, F_CPU_USEC, 0);
	j->stats.memory_peak = wire_u64(r, F_MEMORY_PEAK, 0);
	j->fail.stage = wire_u32(r, F_STAGE, STAGE_NONE);
	j->fail.err = (int32_t)wire_u32(r, F_ERRNO, 0);
	if (!job_id_valid(j->id) || find_job(j->id) != j)
		return cerr_set(e, EINVAL, "bad or repeated job id");
	if ((j->cgfd = cg_open_job(&cg, j->uid, j->id)) < 0 ||
	    fstatfs(j->cgfd, &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC)
		return cerr_set(e, ENOENT, "its cgroup jobs/%u/%s is not there", (unsigned)j->uid, j->id);
	if (take_fifo(r, F_R_FD, &j->report_r, e) < 0 ||
	    take_fifo(r, F_R_FD2, &j->status_r, e) < 0)
		return -1;
	if (j->exited)
		return 0;	/* its init is reaped; the group is what is left */
	/* An init that has exited has left its group's cgroup.procs; being
	 * this process's unreaped child, it can only be one it started. */
	child = own_child(j->pid);
	if (!child || (child == 1 && !cg_has_pid(j->cgfd, j->pid)))
		return cerr_set(e, ESRCH, "pid %d is not this helper's child in the job's cgroup", (int)j->pid);
	j->pidfd = (int)syscall(SYS_pidfd_open, j->pid, 0);
	if (j->pidfd < 0)
		return cerr_sys(e, "pidfd_open %d", (int)j->pid);
	return 0;
}

/* A job that does not check out is ended as killed: its group (found
 * under the base, so only ever a job's) is killed, and corrald told. */
static void drop_job(struct job *j, const char *why)
{
	syslog(LOG_ERR, "job %s not kept at re-exec: %s; killing it", j->id, why);
	if (j->cgfd >= 0)
		cg_kill(j->cgfd, NULL);
	if (!j->exited)
		j->wstatus = SIGKILL;
	if (!j->started && !j->fail.stage) {
		j->fail.stage = STAGE_HELPER;
		j->fail.err = EIO;
	}
	cg_remove(&cg, j->uid, j->id);
	finish(j);
}

static void resume_jobs(struct hstate *hs)
{
	for (size_t i = 1; i < hs->n; i++) {
		struct job *j = &jobs[i - 1];
		unsigned slot = (unsigned)(i - 1);
		struct cerr e;

		j->used = true;
		j->gen = 1;
		j->pidfd = j->cgfd = j->report_r = j->status_r = j->eventsfd = -1;
		j->lease = j->net.nsfd = -1;
		njobs++;
		if (adopt_job(j, &hs->recs[i], &e) < 0) {
			drop_job(j, e.msg);
			continue;
		}
		if (j->exited)
			try_remove(j);
		else if (watch(j->pidfd, EPOLLIN, slot, EV_PIDFD) < 0 ||
			 (j->report_r >= 0 && watch(j->report_r, EPOLLIN, slot, EV_REPORT) < 0))
			syslog(LOG_ERR, "epoll: %m");
	}
	syslog(LOG_INFO, "re-executed with %u job(s) kept", njobs);
}

/* A kept job's address after a re-exec: the veth the kernel still has
 * for it (its alias names the job) is its lease again, and goes with it
 * (veth and rules) when the job ends. */
static void adopt_leases(void)
{
	for (size_t i = 0; i < nleases; i++) {
		struct job *j = leases[i].used ? find_job(leases[i].job_id) : NULL;
		if (!j || j->lease >= 0)
			continue;
		j->lease = (int)i;
		j->net.up = true;
	}
}

/* --- start-up ----------------------------------------------------------- */

static _Noreturn void die(const char *what, const char *detail)
{
	char msg[600];

	snprintf(msg, sizeof msg, "%s%s", what, detail);
	syslog(LOG_ERR, "%s", msg);
	send_error(NULL, EPERM, msg);
	exit(1);
}

/* Close every fd above the link but those in keep (sorted here). */
static int close_except(int *keep, size_t n)
{
	unsigned from = LINK_FD + 1;

	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && keep[k - 1] > keep[k]; k--) {
			int t = keep[k];
			keep[k] = keep[k - 1];
			keep[k - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned)keep[i] > from &&
		    syscall(SYS_close_range, from, (unsigned)keep[i] - 1, 0) < 0)
			return -1;
		from = (unsigned)keep[i] + 1;
	}
	return (int)syscall(SYS_close_range, from, ~0U, 0);
}

/* Nothing from the caller survives: fds (but a re-exec's own, keep),
 * environment, cwd, umask. */
static void sanitize(int *keep, size_t nkeep)
{
	int type = 0, domain = 0;
	socklen_t len = sizeof type;
	struct stat st;

	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			_exit(1);
	if (close_except(keep, nkeep) < 0)
		_exit(1);
	if (fstat(LINK_FD, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(LINK_FD, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    type != SOCK_SEQPACKET ||
	    (len = sizeof domain, getsockopt(LINK_FD, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0) ||
	    domain != AF_UNIX)
		_exit(1);
	if (fcntl(LINK_FD, F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(LINK_FD, F_SETFL, O_NONBLOCK) < 0)
		_exit(1);
	if (clearenv() != 0 || setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1) < 0)
		_exit(1);
	umask(022);
	if (chdir("/") < 0)
		_exit(1);
	for (int fd = 0; fd < 3; fd++) {
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (nul < 0 || dup2(nul, fd) < 0)
			_exit(1);
		close(nul);
	}
}

static void send_ready(void)
{
	struct wire_out o;

	wire_out_init(&o, &proto_helper_ev, H_READY);
	wire_put_u32(&o, F_PID, (uint32_t)getpid());
	wire_put_str(&o, F_CONTROLLERS, cg.controllers);
	/* corrald queues jobs past this instead of sending STARTs to fail. */
	wire_put_u32(&o, F_MAX_JOBS, pol.max_jobs);
	send_msg(&o);
}

int main(int argc, char **argv)
{
	static struct hstate hs;
	struct cerr e, re = { 0 };
	bool resuming = argc == 3 && !strcmp(argv[1], "--resume");
	int rs = 0;
	ssize_t n;

	/* Before anything else: no ptrace, no core of a privileged phase. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		_exit(1);
	if (resuming)
		rs = read_hstate(argv[2], &hs, &re);
	sanitize(hs.keep, rs < 0 ? 0 : hs.nkeep);
	openlog("corral-helper", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
	if (rs < 0)
		die("resume: ", re.msg);
	n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
	self_path[n > 0 ? n : 0] = '\0';
	if (argc < 1)
		die("started with no argv", "");
	if (geteuid() != 0)
		die("not running as root: install it setuid root", "");
	if (policy_load(HELPER_CONF, &pol, &e) < 0)
		die("policy: ", e.msg);
	if (getuid() != pol.manager_uid)
		die("refusing to run for a user who is not the policy's manager_user", "");
	/* Only root's own code runs from here; jobs keep no link to us. */
	signal(SIGPIPE, SIG_IGN);
	if (seccomp_compile_job_filter() < 0)
		die("cannot build the job seccomp filter", "");
	if (cg_open(&pol, &cg, &e) < 0)
		die("cgroup: ", e.msg);
	/* A re-exec keeps its jobs' groups: nothing is left over. */
	int swept = resuming ? 0 : cg_sweep(&cg, 2000);
	if (swept > 0)
		syslog(LOG_WARNING, "removed %d leftover job cgroups", swept);
	nslots = hs.n > pol.max_jobs ? (unsigned)hs.n : pol.max_jobs;
	jobs = calloc(nslots, sizeof *jobs);
	nleases = 2 * (size_t)nslots;
	leases = calloc(nleases, sizeof *leases);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!jobs || !leases || epfd < 0 || watch(LINK_FD, EPOLLIN, 0, EV_LINK) < 0)
		die("out of resources at start-up", "");
	if (net_init(&e) < 0)
		die("network: ", e.msg);
	if (resuming)
		resume_jobs(&hs);
	/* After the kept jobs, whose veths are theirs again. */
	net_rebuild(&pol, leases, nleases, job_group_gone);
	adopt_leases();
	send_ready();
	loop();
}
