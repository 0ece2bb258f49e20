/* corrald: the unprivileged corral manager.  See docs/manager.md. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "job.h"

#ifndef CORRALD_CONF
#define CORRALD_CONF "/etc/corral/corrald.conf"
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"usage: corrald [-c FILE]\n"
		"  -c, --config FILE  configuration (default %s)\n"
		"  -h, --help         this text\n"
		"  -V, --version      print the version\n",
		CORRALD_CONF);
}

static int group_gid(const char *name, gid_t *gid, struct cerr *e)
{
	struct group *g;

	errno = 0;
	g = getgrnam(name);
	if (!g)
		return errno ? cerr_sys(e, "group %s", name)
			     : cerr_set(e, ENOENT, "group %s does not exist", name);
	*gid = g->gr_gid;
	return 0;
}

/* 10,000 followers need 10,000 sockets: take all the fds we may. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			logmsg("raise RLIMIT_NOFILE: %m");
	}
}

static int make_dirs(struct mgr *m, struct cerr *e)
{
	char path[PATH_MAX];

	if (mkdir(m->conf.state_dir, 0750) < 0 && errno != EEXIST)
		return cerr_sys(e, "state_dir %s", m->conf.state_dir);
	snprintf(path, sizeof path, "%s/logs", m->conf.state_dir);
	if (mkdir(path, 0750) < 0 && errno != EEXIST)
		return cerr_sys(e, "%s", path);
	return 0;
}

/* One corrald per state directory: a second one (started by hand, as the
 * manager user) would take over the socket, mark the first one's jobs
 * lost, and its helper's sweep would kill them.  The lock lives as long as
 * this corrald; the file names its pid for the message. */
static int lock_state(struct mgr *m, struct cerr *e)
{
	char path[PATH_MAX], pid[32] = "";
	int fd, n;

	snprintf(path, sizeof path, "%s/corrald.lock", m->conf.state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return cerr_sys(e, "open %s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		n = (int)pread(fd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? strcspn(pid, "\n") : 0] = '\0';
		close(fd);
		if (err != EWOULDBLOCK)
			return cerr_set(e, err, "lock %s: %s", path, strerror(err));
		if (!pid[0])
			snprintf(pid, sizeof pid, "?");
		return cerr_set(e, EBUSY, "another corrald (pid %s) uses the state directory %s",
				pid, m->conf.state_dir);
	}
	n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n)
		logmsg("cannot write my pid to %s: %m", path);
	m->lock_fd = fd;
	return 0;
}

#define ORPHANS_RETRY_MS 2000

/* Jobs still starting or running in the store were this corrald's
 * predecessor's: they died with its helper.  Each keeps what its log
 * says: the output it wrote (a torn last record cut off) and, as its end,
 * the last moment it was seen writing (unknown if it wrote nothing).  On
 * a full disk the marks wait, and are tried again from the timer
 * (orphans_retry), so corrald starts and serves all the same. */
static int find_orphans(struct mgr *m, struct cerr *e)
{
	int n, cap = 256;

	for (;;) {
		char (*ids)[JOB_ID_LEN + 1] = realloc(m->orphans, (size_t)cap * sizeof *ids);
		if (!ids)
			return cerr_sys(e, "unfinished jobs");
		m->orphans = ids;
		if (store_unfinished(m->store, m->orphans, cap, &n, e) < 0)
			return -1;
		if (n < cap)
			break;
		cap *= 2;
	}
	/* A reloading predecessor's running jobs are not orphans: they
	 * are taken over (resume.c); nor those whose output came back from
	 * the fd store at a restart (fdstore.c). */
	int kept = 0;
	for (int i = 0; i < n; i++)
		if (!resume_has_job(m, m->orphans[i]) &&
		    !fdstore_has_job(m, m->orphans[i]))
			memmove(m->orphans[kept++], m->orphans[i], JOB_ID_LEN + 1);
	m->norphans = kept;
	return 0;
}

static void orphans_retry(struct mgr *m)
{
	int kept = 0, done = 0;
	struct cerr e = { 0 };

	for (int i = 0; i < m->norphans; i++) {
		const char *id = m->orphans[i];
		struct log_scan ls;

		if (logf_repair(m, id, &ls) < 0)
			logmsg("job %s: log: %m", id);
		if (ls.torn)
			logmsg("job %s: cut %llu bytes of a torn record off its log",
			       id, (unsigned long long)ls.torn);
		/* Under systemd a job that did not come back from the fd
		 * store was killed by a stop (docs/restart.md). */
		if (store_set_lost_found(m->store, id,
					 m->fds ? "corrald stopped" : "corrald restarted",
					 (int64_t)ls.last_time_ms, ls.output, ls.whole, &e) < 0) {
			memmove(m->orphans[kept++], id, JOB_ID_LEN + 1);
		} else {
			done++;
			queue_job_ended(m, id);	/* jobs queued --after it */
		}
	}
	m->norphans = kept;
	if (done)
		logmsg("marked %d unfinished job(s) lost", done);
	m->orphans_retry_at = kept ? mono_ms() + ORPHANS_RETRY_MS : 0;
	if (kept)
		logmsg("%d unfinished job(s) not marked lost yet (%s); retrying", kept, e.msg);
}

static int open_store(struct mgr *m, struct cerr *e)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/corral.db", m->conf.state_dir);
	if (store_open(&m->store, path, e) < 0 || find_orphans(m, e) < 0)
		return -1;
	orphans_retry(m);
	/* Queued jobs are not lost: they wait for the helper, then a slot. */
	return queue_load(m, e);
}

static int add_fd(struct mgr *m, int fd, struct ev *ev, enum ev_type t,
		  struct cerr *e)
{
	struct epoll_event ee = { .events = EPOLLIN, .data.ptr = ev };

	ev->type = t;
	if (fd < 0 || epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ee) < 0)
		return cerr_sys(e, "event setup");
	return 0;
}

static int setup_events(struct mgr *m, struct cerr *e)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return cerr_sys(e, "sigprocmask");
	signal(SIGPIPE, SIG_IGN);
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (m->epfd < 0)
		return cerr_sys(e, "epoll");
	m->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	m->timer_fd = timerfd_create(CLOCK_MONOTONIC,
				     TFD_NONBLOCK | TFD_CLOEXEC);
	if (add_fd(m, m->sig_fd, &m->sig_ev, EV_SIGNAL, e) < 0 ||
	    add_fd(m, m->timer_fd, &m->timer_ev, EV_TIMER, e) < 0)
		return -1;
	return 0;
}

/* The binary a reload execs: the path this corrald was started from,
 * as it is on disk then (an upgrade has replaced it), not the running
 * image. */
static int self_path(struct mgr *m, struct cerr *e)
{
	char buf[PATH_MAX];
	ssize_t n;

	if (m->self_path)
		return 0;	/* a predecessor's, carried on */
	n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	if (n < 0)
		return cerr_sys(e, "readlink /proc/self/exe");
	buf[n] = '\0';
	m->self_path = strdup(buf);
	return m->self_path ? 0 : cerr_sys(e, "path");
}

/* The helper of a predecessor that crashed or was restarted under
 * systemd, with its jobs, from the fd store; else a new one. */
static int take_helper(struct mgr *m, struct cerr *e)
{
	int r = fdstore_adopt(m, e);

	return r != 0 ? r : helper_spawn(m, e);
}

static int setup(struct mgr *m, const char *conf, struct cerr *e)
{
	m->helper_fd = m->listen_fd = m->sig_fd = m->timer_fd = m->epfd = -1;
	m->lock_fd = -1;
	m->exit_code = -1;
	m->ops = &real_ops;
	m->conf_path = strdup(conf);
	if (!m->conf_path)
		return cerr_sys(e, "config path");
	umask(027);
	raise_nofile();
	if (mconf_load(&m->conf, conf, e) < 0 ||
	    group_gid(m->conf.socket_group, &m->socket_gid, e) < 0 ||
	    group_gid(m->conf.admin_group, &m->admin_gid, e) < 0 ||
	    make_dirs(m, e) < 0 || resume_read(m, e) < 0 || fdstore_init(m, e) < 0 ||
	    self_path(m, e) < 0 ||
	    (m->lock_fd < 0 && lock_state(m, e) < 0) || open_store(m, e) < 0 ||
	    setup_events(m, e) < 0)
		return -1;
	if (m->resume ? resume_adopt(m, e) < 0
		      : take_helper(m, e) < 0 || listen_open(m, e) < 0)
		return -1;
	logmsg("listening on %s", m->conf.socket);
	m->prune_at = mono_ms() + 1000;	/* retention: a first pass soon */
	return 0;
}

/* --- the loop -------------------------------------------------------- */

#define STOP_DRAIN_MS 5000

/* A graceful stop: no new clients, every job killed, and the loop runs on
 * until each end is recorded and sent to the clients attached to it (at
 * most STOP_DRAIN_MS), so nobody is left guessing.  A second signal
 * stops at once. */
static void begin_stop(struct mgr *m, unsigned sig)
{
	if (m->stop_at) {
		logmsg("signal %u again: stopping now", sig);
		m->exit_code = 0;
		return;
	}
	if (fdstore_used(m)) {
		/* systemd's stop and restart are one SIGTERM: the jobs stay
		 * with the helper, whose link waits in the fd store.  A stop
		 * empties the store, so the helper reads EOF and kills them;
		 * the next start records them lost (docs/restart.md). */
		logmsg("signal %u: exiting; the jobs run on, their fds parked in systemd's store",
		       sig);
		if (m->listen_fd >= 0) {
			close(m->listen_fd);
			m->listen_fd = -1;
			listen_unlink(m);
		}
		m->exit_code = 0;
		return;
	}
	logmsg("signal %u: stopping; killing every job", sig);
	m->stop_at = mono_ms() + STOP_DRAIN_MS;
	if (m->listen_fd >= 0) {
		epoll_ctl(m->epfd, EPOLL_CTL_DEL, m->listen_fd, NULL);
		close(m->listen_fd);
		m->listen_fd = -1;
		listen_unlink(m);
	}
	jobs_kill_all(m);
	queue_stop_waiters(m);
}

static void on_signal(struct mgr *m)
{
	struct signalfd_siginfo si;

	while (read(m->sig_fd, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			begin_stop(m, si.ssi_signo);
		} else if (si.ssi_signo == SIGHUP) {
			reload_begin(m);
		} else if (si.ssi_signo == SIGCHLD) {
			pid_t pid;
			int st;
			while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
				helper_reaped(m, pid);
		}
	}
}

static void on_timer(struct mgr *m)
{
	uint64_t ticks;
	struct cerr e;

	if (read(m->timer_fd, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
		logmsg("timerfd: %m");
	m->timer_armed = 0;
	job_timers(m);
	clients_expire(m);
	if (m->orphans_retry_at && mono_ms() >= m->orphans_retry_at)
		orphans_retry(m);
	prune_timer(m);
	if (m->q_retry_at && mono_ms() >= m->q_retry_at) {
		m->q_retry_at = 0;
		m->q_kick = true;
	}
	if (m->helper_fd < 0 && m->helper_restart_at &&
	    mono_ms() >= m->helper_restart_at) {
		m->helper_restart_at = 0;
		if (helper_spawn(m, &e) < 0) {
			logmsg("%s", e.msg);
			m->helper_restart_at = mono_ms() + 5000;
		}
	}
}

/* One timerfd for every deadline: armed for the earliest, never polled. */
static void arm_timer(struct mgr *m)
{
	int64_t at = job_next_deadline(m), idle = clients_next_deadline(m);
	struct itimerspec its = { 0 };

	if (idle && (!at || idle < at))
		at = idle;
	if (m->helper_fd < 0 && m->helper_restart_at &&
	    (!at || m->helper_restart_at < at))
		at = m->helper_restart_at;
	if (m->stop_at && (!at || m->stop_at < at))
		at = m->stop_at;
	if (m->orphans_retry_at && (!at || m->orphans_retry_at < at))
		at = m->orphans_retry_at;
	if (m->prune_at && (!at || m->prune_at < at))
		at = m->prune_at;
	if (m->q_retry_at && (!at || m->q_retry_at < at))
		at = m->q_retry_at;
	if (m->reload_at && (!at || m->reload_at < at))
		at = m->reload_at;
	if (at == m->timer_armed)
		return;
	its.it_value.tv_sec = at / 1000;
	its.it_value.tv_nsec = (at % 1000) * 1000000;
	if (timerfd_settime(m->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		logmsg("timerfd_settime: %m");
	m->timer_armed = at;
}

static void dispatch(struct mgr *m, struct epoll_event *ev)
{
	struct ev *x = ev->data.ptr;

	switch (x->type) {
	case EV_LISTEN:
		return client_accept(m);
	case EV_SIGNAL:
		return on_signal(m);
	case EV_TIMER:
		return on_timer(m);
	case EV_HELPER:
		return helper_event(m, ev->events);
	case EV_CLIENT:
		return client_event(m, (struct client *)x, ev->events);
	case EV_PIPE:
		return job_pipe_event(m, x, ev->events);
	case EV_INPUT:
		return input_event(m, x, ev->events);
	}
}

static void run(struct mgr *m)
{
	struct epoll_event evs[256];

	while (m->exit_code < 0) {
		int n;

		arm_timer(m);
		n = epoll_wait(m->epfd, evs, ARRAY_SIZE(evs), -1);
		if (n < 0 && errno != EINTR) {
			logmsg("epoll_wait: %m");
			m->exit_code = 1;
		}
		for (int i = 0; i < n && m->exit_code < 0; i++)
			dispatch(m, &evs[i]);
		/* The turn's starts and ends: one sync, then the replies. */
		jobs_settle(m);
		/* Slots freed in this turn go to the queue at once. */
		if (m->q_kick)
			queue_schedule(m);
		clients_reap(m);
		jobs_reap(m);
		if (m->reload_at && m->exit_code < 0)
			reload_poll(m);
		if (m->stop_at && (!m->active || mono_ms() >= m->stop_at))
			m->exit_code = 0;
	}
}

/* Stop accepting, drop the helper (it kills every job on EOF), and
 * record the jobs as lost. */
static void shutdown_all(struct mgr *m)
{
	struct cerr e;
	int n;

	if (m->listen_fd >= 0) {
		close(m->listen_fd);
		listen_unlink(m);
	}
	helper_close(m);
	/* Parked: the jobs run on; what becomes of them is the next
	 * corrald's to record. */
	if (m->store && fdstore_used(m)) {
		store_close(m->store);
	} else if (m->store) {
		if (store_mark_all_lost(m->store, "corrald stopped", now_ms(),
					&n, &e) < 0)
			logmsg("%s", e.msg);
		else if (n)
			logmsg("marked %d running job(s) lost", n);
		store_close(m->store);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	static struct mgr m;
	const char *conf = CORRALD_CONF;
	struct cerr e;
	int o;

	while ((o = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			conf = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("corrald %s\n", CORRAL_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (setup(&m, conf, &e) < 0) {
		logmsg("%s", e.msg);
		shutdown_all(&m);
		return 1;
	}
	fdstore_ready(&m);
	run(&m);
	shutdown_all(&m);
	mconf_free(&m.conf);
	return m.exit_code;
}
