/* corrald's side of the helper link, the whole of it (the counterpart of
 * OpenSSH's monitor_wrap.c): start corral-helper on a SOCK_SEQPACKET
 * socketpair (its end becomes fd 3) and restart it with backoff when it
 * dies; encode START, SIGNAL and KILL; decode the helper's events into
 * struct helper_event for job.c.  Policy in docs/manager.md. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "job.h"
#include "proto.h"
#include "wire_io.h"

#define HELPER_FD 3
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define MSGS_PER_EVENT 64

static void child_exec(const char *path, int fd)
{
	static char arg0[] = "corral-helper";
	static char *const argv[] = { arg0, NULL };
	static char *const envp[] = { NULL };
	sigset_t none;

	/* The signals corrald takes through a signalfd must not stay
	 * blocked in the helper. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (fd == HELPER_FD) {
		if (fcntl(fd, F_SETFD, 0) < 0)
			_exit(126);
	} else if (dup2(fd, HELPER_FD) < 0) {
		_exit(126);
	}
	close_range(HELPER_FD + 1, ~0U, 0);
	execve(path, argv, envp);
	_exit(127);
}

int helper_spawn(struct mgr *m, struct cerr *e)
{
	int sv[2], bufsz = 1 << 20;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return cerr_sys(e, "helper socketpair");
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return cerr_sys(e, "fork helper");
	}
	if (pid == 0)
		child_exec(m->conf.helper, sv[1]);
	close(sv[1]);
	/* Requests are small; a deep send buffer keeps a busy helper from
	 * ever making a send fail with EAGAIN in practice. */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
		close(sv[0]);
		return cerr_sys(e, "helper link");
	}
	if (helper_adopt(m, sv[0], pid, false, e) < 0) {
		close(sv[0]);
		return -1;
	}
	logmsg("started helper %s (pid %d)", m->conf.helper, (int)pid);
	/* Under systemd the link outlives this corrald in the fd store, so
	 * the helper keeps its jobs over a crash or a restart. */
	fdstore_park(m, sv[0], FDN_HELPER, NULL);
	return 0;
}

int helper_adopt(struct mgr *m, int fd, pid_t pid, bool ready, struct cerr *e)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &m->helper_ev };

	m->helper_ev.type = EV_HELPER;
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return cerr_sys(e, "helper link");
	m->helper_fd = fd;
	m->helper_pid = pid;
	m->helper_ready = ready;
	return 0;
}

static int helper_send(struct mgr *m, struct wire_out *o, struct cerr *e)
{
	if (m->helper_fd < 0 || !m->helper_ready)
		return cerr_set(e, EAGAIN, "the helper is not running");
	if (wire_send_packet(m->helper_fd, o, e) < 0) {
		if (e->num == EAGAIN)
			return cerr_set(e, EAGAIN, "the helper is not keeping up; try again");
		return -1;
	}
	return 0;
}

void helper_close(struct mgr *m)
{
	if (m->helper_fd < 0)
		return;
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, m->helper_fd, NULL);
	close(m->helper_fd);
	m->helper_fd = -1;
	m->helper_ready = false;
}

/* Count this death; more than HELPER_DEATHS_MAX in the window is fatal,
 * so systemd restarts corrald (and with it, a fresh helper). */
static int64_t backoff(struct mgr *m)
{
	int64_t now = mono_ms(), delay = BACKOFF_MIN_MS;
	int recent = 0;

	memmove(m->helper_deaths + 1, m->helper_deaths,
		sizeof m->helper_deaths - sizeof m->helper_deaths[0]);
	m->helper_deaths[0] = now;
	for (int i = 0; i <= HELPER_DEATHS_MAX; i++)
		if (m->helper_deaths[i] &&
		    now - m->helper_deaths[i] < HELPER_DEATH_WINDOW_MS)
			recent++;
	if (recent > HELPER_DEATHS_MAX) {
		logmsg("helper died %d times in %d s; giving up", recent,
		       HELPER_DEATH_WINDOW_MS / 1000);
		m->exit_code = 1;
	}
	for (int i = 1; i < recent && delay < BACKOFF_MAX_MS; i++)
		delay *= 2;
	return delay < BACKOFF_MAX_MS ? delay : BACKOFF_MAX_MS;
}

void helper_down(struct mgr *m, const char *why)
{
	int64_t delay;

	if (m->helper_fd < 0)
		return;
	logmsg("helper lost: %s", why);
	helper_close(m);
	fdstore_unpark(m, FDN_HELPER, NULL);
	jobs_lose_all(m, "helper exited");
	delay = backoff(m);
	m->helper_restart_at = mono_ms() + delay;
	logmsg("restarting the helper in %lld ms", (long long)delay);
}

void helper_reaped(struct mgr *m, pid_t pid)
{
	if (pid != m->helper_pid)
		return;
	m->helper_pid = 0;
	helper_down(m, "helper process exited");
}

/* --- requests --------------------------------------------------------- */

/* START: the job id, the user, the command with its composed environment
 * and every run option of the RUN that reaches the helper. */
static int start_msg(struct mgr *m, const char *id, uint32_t uid,
		     const struct wire_msg *run, const struct job_env *env,
		     const int *fds, unsigned nfds, const unsigned *size,
		     struct cerr *e)
{
	struct runopts opt;
	struct wire_out o;
	const struct wire_val *v;
	int r;

	wire_out_init(&o, &proto_helper_req, H_START);
	wire_put_str(&o, F_JOB_ID, id);
	wire_put_u32(&o, F_UID, uid);
	for (size_t i = 0; (v = wire_nth(run, F_ARGV, i)); i++)
		wire_put_str(&o, F_ARGV, (const char *)v->p);
	for (size_t i = 0; i < env->n; i++)
		wire_put_str(&o, F_ENV, env->v[i]);
	wire_put_str(&o, F_CWD, wire_str(run, F_CWD));
	wire_put_u32(&o, F_NS_OFF, wire_u32(run, F_NS_OFF, 0));
	if (size && size[0] && size[1]) {
		wire_put_u32(&o, F_ROWS, size[0]);
		wire_put_u32(&o, F_COLS, size[1]);
	}
	runopts_get(run, &opt);
	runopts_put(&o, &opt, SC_JOB);
	for (unsigned i = 0; i < nfds; i++)
		wire_put_fd(&o, fds[i]);
	r = wire_out_finish(&o, e);
	if (r == 0)
		r = helper_send(m, &o, e);
	wire_out_free(&o);
	return r;
}

int hlink_start(struct mgr *m, const char *id, uint32_t uid,
		const struct wire_msg *run, const struct job_env *env,
		const int *fds, unsigned nfds, struct cerr *e)
{
	return start_msg(m, id, uid, run, env, fds, nfds, NULL, e);
}

int hlink_start_tty(struct mgr *m, const char *id, uint32_t uid,
		    const struct wire_msg *run, const struct job_env *env,
		    unsigned rows, unsigned cols, struct cerr *e)
{
	const unsigned size[2] = { rows, cols };

	return start_msg(m, id, uid, run, env, NULL, 0, size, e);
}

/* SIGKILL is the KILL request (the whole cgroup); the others SIGNAL, to
 * every process of the job, or with foreground to the main process's
 * group only. */
int hlink_signal(struct mgr *m, const char *id, int sig, bool foreground,
		 struct cerr *e)
{
	struct wire_out o;
	int r;

	wire_out_init(&o, &proto_helper_req, sig == SIGKILL ? H_KILL : H_SIGNAL);
	wire_put_str(&o, F_JOB_ID, id);
	if (sig != SIGKILL)
		wire_put_u32(&o, F_SIGNAL, (uint32_t)sig);
	if (sig != SIGKILL && foreground)
		wire_put_u32(&o, F_FOREGROUND, 1);
	r = wire_out_finish(&o, e);
	if (r == 0)
		r = helper_send(m, &o, e);
	wire_out_free(&o);
	return r;
}

/* --- events ------------------------------------------------------------ */

/* Which link version the helper speaks: one of version 1 answers HELLO
 * with ERROR and is never asked to re-exec. */
void hlink_hello(struct mgr *m)
{
	struct wire_out o;
	struct cerr e;

	wire_out_init(&o, &proto_helper_req, H_HELLO);
	wire_put_u32(&o, F_R_LINK_VERSION, HELPER_LINK_VERSION);
	if (wire_out_finish(&o, &e) < 0 || helper_send(m, &o, &e) < 0)
		logmsg("helper HELLO: %s", e.msg);
	wire_out_free(&o);
}

/* After a reload of corrald, the helper execs itself too (a new binary
 * or helper.conf takes effect), once it said it can. */
static void on_version(struct mgr *m, const struct wire_msg *msg)
{
	struct wire_out o;
	struct cerr e;

	m->helper_version = wire_u32(msg, F_R_LINK_VERSION, 1);
	/* After a restart, first what the helper holds (its answer comes
	 * before it re-execs: requests are served in order). */
	fdstore_version(m);
	if (!m->helper_reexec || m->helper_version < 2)
		return;
	m->helper_reexec = false;
	wire_out_init(&o, &proto_helper_req, H_REEXEC);
	if (wire_out_finish(&o, &e) < 0 || helper_send(m, &o, &e) < 0)
		logmsg("helper REEXEC: %s", e.msg);
	else
		logmsg("asked the helper (pid %d) to re-exec", (int)m->helper_pid);
	wire_out_free(&o);
}

static void on_ready(struct mgr *m, const struct wire_msg *msg)
{
	m->helper_ready = true;
	m->helper_max_jobs = wire_u32(msg, F_MAX_JOBS, 0);
	m->q_retry_at = 0;
	m->q_kick = true;	/* queued jobs may start */
	logmsg("helper ready (pid %u, controllers \"%s\", max_jobs %u)",
	       wire_u32(msg, F_PID, 0), wire_str(msg, F_CONTROLLERS),
	       m->helper_max_jobs);
	hlink_hello(m);
}

/* The decoder has checked every field's presence and bounds. */
static void decode_event(struct wire_msg *msg, struct helper_event *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->type = msg->type;
	ev->name = msg->spec->name;
	ev->job_id = wire_str(msg, F_JOB_ID);
	ev->pid = wire_u32(msg, F_PID, 0);
	ev->stage = wire_u32(msg, F_STAGE, STAGE_HELPER);
	ev->err = (int)wire_u32(msg, F_ERRNO, EIO);
	ev->message = wire_str(msg, F_MESSAGE);
	ev->wstatus = wire_u32(msg, F_WSTATUS, 0);
	ev->oom_kills = wire_u64(msg, F_OOM_KILLS, STAT_NONE);
	ev->cpu_usec = wire_u64(msg, F_CPU_USEC, 0);
	ev->memory_peak = wire_u64(msg, F_MEMORY_PEAK, STAT_NONE);
	/* Only STARTED may carry one (proto.c): a -t job's pty master. */
	ev->fd = msg->nfds ? wire_take_fd(msg, 0) : -1;
	ev->net_address = wire_str(msg, F_NET_ADDRESS);
	ev->net_mac = wire_str(msg, F_NET_MAC);
}

void helper_event(struct mgr *m, uint32_t events)
{
	for (int i = 0; i < MSGS_PER_EVENT && m->helper_fd >= 0; i++) {
		struct helper_event ev;
		struct wire_msg msg;
		struct cerr e;

		switch (wire_recv_packet(m->helper_fd, &proto_helper_ev, &msg, &e)) {
		case WIRE_AGAIN:
			return;
		case WIRE_EOF:
			return helper_down(m, "EOF on the helper link");
		case WIRE_ERR:
			return helper_down(m, e.msg);
		case WIRE_BAD:
			/* Consumed whole; the link stays. */
			logmsg("bad message from the helper: %s", e.msg);
			continue;
		}
		if (msg.type == H_READY) {
			on_ready(m, &msg);
		} else if (msg.type == H_VERSION) {
			on_version(m, &msg);
		} else if (msg.type == H_HELD) {
			fdstore_held(m, &msg);
		} else if (msg.type == H_HELD_END) {
			fdstore_held_end(m, &msg);
		} else {
			decode_event(&msg, &ev);
			job_helper_event(m, &ev);
			if (ev.fd >= 0)
				close(ev.fd);
		}
		wire_msg_free(&msg);
	}
}
