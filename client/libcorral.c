#include "libcorral.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "parse.h"

#ifndef DEFAULT_SOCKET
#error "DEFAULT_SOCKET must be defined (see client/build.mk)"
#endif

const char *corral_socket_path(const char *opt)
{
	const char *env;

	if (opt && *opt)
		return opt;
	env = getenv("CORRAL_SOCKET");
	if (env && *env)
		return env;
	return DEFAULT_SOCKET;
}

#define DEFAULT_TIMEOUT_S 30

static int timeout_from_env(void)
{
	const char *v = getenv("CORRAL_TIMEOUT");
	struct cerr e;
	uint64_t s;

	if (!v || !*v || parse_u64(v, &s, &e) < 0 || s > 24 * 3600)
		return DEFAULT_TIMEOUT_S * 1000;
	return (int)s * 1000;
}

/* A listener whose backlog is full (a stopped corrald) makes a blocking
 * connect wait for ever: connect without blocking, retrying until the
 * timeout. */
static int connect_bounded(int fd, const struct sockaddr_un *sa, int timeout_ms)
{
	int waited = 0, rc;

	while ((rc = connect(fd, (const struct sockaddr *)sa, sizeof *sa)) < 0 &&
	       (errno == EAGAIN || errno == EINTR)) {
		if (timeout_ms && waited >= timeout_ms) {
			errno = ETIMEDOUT;
			return -1;
		}
		poll(NULL, 0, 20);
		waited += 20;
	}
	return rc;
}

static void conn_init(struct corral_conn *c)
{
	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->wake_fd = -1;
	c->in_fd = -1;
	c->timeout_ms = timeout_from_env();
}

int corral_connect(struct corral_conn *c, const char *path, struct cerr *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	int rc;

	conn_init(c);
	if (strlen(path) >= sizeof sa.sun_path)
		return cerr_set(e, ENAMETOOLONG,
				"socket path %s is longer than %zu bytes", path,
				sizeof sa.sun_path - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cerr_sys(e, "socket");
	rc = connect_bounded(fd, &sa, c->timeout_ms);
	if (rc < 0) {
		if (errno == ETIMEDOUT)
			return cerr_set(e, ETIMEDOUT,
					"corrald at %s accepted no connection in %d s (is it stopped or overloaded?)",
					path, c->timeout_ms / 1000);
		if (errno == EACCES)
			return cerr_sys(e, "cannot connect to corrald at %s (is your user in group corral?)",
					path);
		return cerr_sys(e, "cannot connect to corrald at %s (is corrald running?)",
				path);
	}
	if (fcntl(fd, F_SETFL, 0) < 0)
		return cerr_sys(e, "socket");
	c->fd = take_fd(&fd);
	return 0;
}

void corral_names_of(struct corral_conn *c, uint32_t uid)
{
	c->names_of_set = true;
	c->names_of = uid;
}

/* --- remote connections: ssh as the transport ------------------------- */

static int conn_fail(struct corral_conn *c);

int corral_parse_ssh_url(const char *url, struct corral_ssh_url *u,
			 struct cerr *e)
{
	static const char word[] = "abcdefghijklmnopqrstuvwxyz"
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
	const char *p = url + 6, *at, *end;
	size_t n;

	memset(u, 0, sizeof *u);
	if (strncmp(url, "ssh://", 6) || strlen(url) > CORRAL_URL_MAX)
		goto bad;
	at = strrchr(p, '@');
	if (at) {
		n = (size_t)(at - p);
		if (!n || n > USER_LEN_MAX || *p == '-')
			goto bad;
		for (size_t i = 0; i < n; i++)
			if (!strchr(word, p[i]) && p[i] != '@')
				goto bad;
		memcpy(u->user, p, n);
		p = at + 1;
	}
	if (*p == '[') {
		end = strchr(++p, ']');
		n = end ? (size_t)(end - p) : 0;
		if (!n || strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "0123456789:.%") < n || !memchr(p, ':', n))
			goto bad;
		end++;
	} else {
		n = strspn(p, word);
		end = p + n;
	}
	if (!n || n >= sizeof u->host || *p == '-')
		goto bad;
	memcpy(u->host, p, n);
	if (*end == ':') {
		char *stop;
		unsigned long port;
		if (end[1] < '0' || end[1] > '9')
			goto bad;
		port = strtoul(end + 1, &stop, 10);
		if (*stop || port < 1 || port > 65535)
			goto bad;
		u->port = (unsigned)port;
	} else if (*end) {
		goto bad;
	}
	return 0;
bad:
	return cerr_set(e, EINVAL,
			"\"%.*s\" is not ssh://[user@]host[:port] (letters, digits and ._- only; no option-like \"-\" first)",
			CORRAL_URL_MAX, url);
}

/* w as one word for a POSIX shell: as is if it is plain, else in single
 * quotes (' as '\''), appended to buf. */
static void sh_word(char *buf, size_t len, const char *w)
{
	size_t n = strlen(buf);

	if (*w && strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789_./-=:,+@%") == strlen(w)) {
		snprintf(buf + n, len - n, "%s", w);
		return;
	}
	if (n < len - 1)
		buf[n++] = '\'';
	for (; *w && n < len - 5; w++) {
		if (*w == '\'') {
			memcpy(buf + n, "'\\''", 4);
			n += 4;
		} else {
			buf[n++] = *w;
		}
	}
	if (n < len - 1)
		buf[n++] = '\'';
	buf[n] = '\0';
}

int corral_ssh_command(const struct corral_ssh_url *u, const char *extra,
		       bool batch, int timeout_s, const char *program,
		       const char *socket, struct corral_ssh_cmd *cmd,
		       struct cerr *e)
{
	const char **a = cmd->argv;
	size_t n = 0;

#define ARG(s) (a[n++] = (s))
	memset(cmd, 0, sizeof *cmd);
	ARG("ssh");
	if (extra && strlen(extra) >= sizeof cmd->extra)
		return cerr_set(e, E2BIG, "CORRAL_SSH_OPTS is longer than %zu bytes",
				sizeof cmd->extra - 1);
	snprintf(cmd->extra, sizeof cmd->extra, "%s", extra ? extra : "");
	for (char *save = NULL, *w = strtok_r(cmd->extra, " \t\n", &save); w;
	     w = strtok_r(NULL, " \t\n", &save)) {
		if (n >= CORRAL_SSH_ARGV_MAX - 24)
			return cerr_set(e, E2BIG, "CORRAL_SSH_OPTS has more than %d words",
					CORRAL_SSH_ARGV_MAX - 25);
		ARG(w);
	}
	if (batch) {
		ARG("-o");
		ARG("BatchMode=yes");
	}
	if (timeout_s > 0) {
		snprintf(cmd->timeout, sizeof cmd->timeout, "ConnectTimeout=%d", timeout_s);
		ARG("-o");
		ARG(cmd->timeout);
	}
	/* No terminal, no escape character: the stream is binary.  Nothing
	 * forwarded: dial-stdio needs no agent, X11 or ports. */
	ARG("-T");
	ARG("-a");
	ARG("-x");
	ARG("-o");
	ARG("ClearAllForwardings=yes");
	ARG("-e");
	ARG("none");
	if (u->port) {
		snprintf(cmd->port, sizeof cmd->port, "%u", u->port);
		ARG("-p");
		ARG(cmd->port);
	}
	if (u->user[0]) {
		ARG("-l");
		ARG(u->user);
	}
	ARG("--");
	ARG(u->host);
	if (strlen(program) >= PATH_LEN_MAX || (socket && strlen(socket) >= PATH_LEN_MAX))
		return cerr_set(e, ENAMETOOLONG, "the remote program or socket is longer than %d bytes",
				PATH_LEN_MAX - 1);
	sh_word(cmd->remote, sizeof cmd->remote, program);
	strcat(cmd->remote, " dial-stdio");
	if (socket) {
		strcat(cmd->remote, " --socket ");
		sh_word(cmd->remote, sizeof cmd->remote, socket);
	}
	ARG(cmd->remote);
	a[n] = NULL;
#undef ARG
	return 0;
}

/* Start ssh with sock as its stdin and stdout.  Interrupts are corral's
 * to handle (the first stops the job through another connection while
 * this one streams on), so ssh ignores them, and where it cannot prompt
 * anyway (batch) it also gets a process group of its own, out of reach
 * of the terminal's signals (a multiplexing client catches them whatever
 * it inherits). */
static int spawn_ssh(const char *const *argv, int sock, bool batch, pid_t *pid,
		     struct cerr *e)
{
	static const int ignored[] = { SIGINT, SIGQUIT, SIGHUP, SIGTERM };
	_cleanup_close_ int rd = -1, wr = -1;
	sigset_t all, old;
	int p[2], err = 0;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return cerr_sys(e, "pipe");
	rd = p[0];
	wr = p[1];
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	*pid = fork();
	if (*pid == 0) {
		/* No handler of corral's may run here: its handlers back to
		 * the default, the interrupts ignored, then the mask back,
		 * then ssh (sock copied above 2 first: it may be 0 or 1). */
		struct sigaction dfl = { .sa_handler = SIG_DFL };
		struct sigaction ign = { .sa_handler = SIG_IGN };
		int fd = fcntl(sock, F_DUPFD_CLOEXEC, 3);
		for (int s = 1; s < NSIG; s++) {
			struct sigaction cur;
			if (sigaction(s, NULL, &cur) == 0 && cur.sa_handler != SIG_DFL &&
			    cur.sa_handler != SIG_IGN)
				sigaction(s, &dfl, NULL);
		}
		for (size_t i = 0; i < ARRAY_SIZE(ignored); i++)
			sigaction(ignored[i], &ign, NULL);
		if (batch)
			setpgid(0, 0);
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0) {
			err = errno;
		} else {
			/* execvp's prototype predates const */
			union { const char *const *c; char *const *v; } av = { .c = argv };
			execvp(argv[0], av.v);
			err = errno;
		}
		if (write(wr, &err, sizeof err) < 0) {
		}
		_exit(127);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (*pid < 0)
		return cerr_sys(e, "fork");
	close(wr);
	wr = -1;
	do
		n = read(rd, &err, sizeof err);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof err) {
		waitpid(*pid, NULL, 0);
		return cerr_set(e, err, "cannot run %s: %s%s", argv[0], strerror(err),
				err == ENOENT ? " (is OpenSSH's client installed? apt-get install openssh-client)" : "");
	}
	return 0;
}

int corral_connect_ssh(struct corral_conn *c, const char *url,
		       const char *remote_socket, struct cerr *e)
{
	const char *program = getenv("CORRAL_REMOTE_CORRAL");
	bool batch = !isatty(STDIN_FILENO);
	struct corral_ssh_url u;
	struct corral_ssh_cmd *cmd;
	pid_t pid = 0;
	int sv[2], rc;

	conn_init(c);
	if (corral_parse_ssh_url(url, &u, e) < 0)
		return -1;
	cmd = malloc(sizeof *cmd);
	if (!cmd)
		return cerr_sys(e, "ssh command");
	rc = corral_ssh_command(&u, getenv("CORRAL_SSH_OPTS"), batch,
				c->timeout_ms ? (c->timeout_ms + 999) / 1000 : 0,
				program && *program ? program : "corral",
				remote_socket, cmd, e);
	if (rc == 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		rc = cerr_sys(e, "socketpair");
	if (rc == 0) {
		rc = spawn_ssh(cmd->argv, sv[1], batch, &pid, e);
		close(sv[1]);
		if (rc < 0)
			close(sv[0]);
	}
	free(cmd);
	if (rc < 0)
		return cerr_wrap(e, "%s", url);
	c->fd = sv[0];
	c->ssh_pid = pid;
	snprintf(c->url, sizeof c->url, "%s", url);
	return 0;
}

/* Reap the ssh child: within ms if it exits by itself, else SIGKILL.
 * Returns its wait status. */
static int ssh_reap(struct corral_conn *c, int ms)
{
	pid_t pid = c->ssh_pid;
	int status = 0, pfd = pidfd_open(pid, 0);
	struct timespec ts;
	int64_t end;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + ms;
	while (pfd >= 0) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };
		int left;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		left = (int)(end - ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
		if (left <= 0 || poll(&p, 1, left) != -1 || errno != EINTR)
			break;
	}
	if (pfd >= 0)
		close(pfd);
	if (waitpid(pid, &status, WNOHANG) != pid) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	c->ssh_pid = 0;
	return status;
}

void corral_close(struct corral_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	wire_reader_reset(&c->rd);
	/* Closing its stdin ends dial-stdio, then the session, then ssh. */
	if (c->ssh_pid > 0)
		ssh_reap(c, 1000);
}

/* The stream ended or broke.  Over ssh, ssh's exit says more than the
 * stream can: replace e with what it says, naming the host. */
static int lost(struct corral_conn *c, struct cerr *e)
{
	int st, code;

	if (c->ssh_pid <= 0)
		return conn_fail(c);
	close(c->fd);
	c->fd = -1;
	st = ssh_reap(c, 2000);
	code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (c->answered && code == 0)
		cerr_set(e, ECONNRESET, "corrald on %s closed the connection", c->url);
	else if (c->answered)
		cerr_set(e, ECONNRESET, "the connection to corrald on %s was lost (ssh exit status %d)",
			 c->url, code);
	else if (code < 0)
		cerr_set(e, ECONNRESET, "ssh for %s was killed by signal %d before corrald answered",
			 c->url, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	else if (code == 255)
		cerr_set(e, EHOSTUNREACH, "ssh could not reach %s (exit status 255: no connection, or authentication failed; ssh said why above)",
			 c->url);
	else if (code == 127)
		cerr_set(e, ENOENT, "%s has no corral to run (exit status 127: not found); install corral there, or set CORRAL_REMOTE_CORRAL to its path",
			 c->url);
	else if (code == 0)
		cerr_set(e, ECONNRESET, "corrald on %s closed the connection before answering",
			 c->url);
	else
		cerr_set(e, ECONNRESET, "corral dial-stdio on %s failed (exit status %d; its message is above)",
			 c->url, code);
	return conn_fail(c);
}

/* A failure inside a reply sequence leaves unread replies on the stream,
 * so the connection cannot be reused. */
static int conn_fail(struct corral_conn *c)
{
	corral_close(c);
	return -1;
}

static int recv_msg(struct corral_conn *c, struct wire_msg *m, struct cerr *e);

static int send_msg(struct corral_conn *c, struct wire_out *o, struct cerr *e)
{
	int rc;

	c->remote_error = false;
	c->error_stage = STAGE_NONE;
	if (c->fd < 0)
		return cerr_set(e, ENOTCONN, "not connected to corrald");
	rc = wire_out_finish(o, e);
	if (rc == 0)
		rc = wire_send_stream(c->fd, o, e);
	c->awaiting = true;
	wire_out_free(o);
	if (rc < 0 && (e->num == EPIPE || e->num == ECONNRESET)) {
		/* corrald may have refused us and closed before we spoke:
		 * its ERROR is still waiting to be read, and says why (over
		 * ssh, ssh's exit says why if nothing else does). */
		bool remote = c->ssh_pid > 0;
		struct wire_msg m;
		struct cerr re;
		if (recv_msg(c, &m, &re) < 0 && (c->remote_error || remote)) {
			*e = re;
			return -1;
		}
		if (c->fd >= 0 && !c->remote_error)
			wire_msg_free(&m);
	}
	if (rc < 0)
		return cerr_wrap(e, "sending to corrald");
	return 0;
}

/* Wait until the socket is readable, serving the wake fd meanwhile, and
 * for the first message of a reply at most timeout_ms.  Only between
 * messages: inside one the rest is already on its way. */
static int wait_readable(struct corral_conn *c, struct cerr *e)
{
	int limit = c->awaiting && c->timeout_ms ? c->timeout_ms : -1;
	int64_t end = 0;
	struct timespec ts;

	if (c->rd.hlen > 0 || (c->wake_fd < 0 && c->in_fd < 0 && limit < 0))
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + limit;
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = c->fd, .events = POLLIN },
			{ .fd = c->wake_fd, .events = POLLIN },
			{ .fd = c->in_fd, .events = POLLIN },
		};
		int left = -1, n;

		if (limit >= 0) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			left = (int)(end - ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
			if (left <= 0 && c->ssh_pid > 0)
				return cerr_set(e, ETIMEDOUT,
						"corrald on %s did not answer in %d s (ssh still connecting, or corrald stopped or overloaded? CORRAL_TIMEOUT sets the wait)",
						c->url, c->timeout_ms / 1000);
			if (left <= 0)
				return cerr_set(e, ETIMEDOUT,
						"corrald did not answer in %d s (is it stopped or overloaded? CORRAL_TIMEOUT sets the wait)",
						c->timeout_ms / 1000);
		}
		/* poll skips negative fds */
		n = poll(p, 3, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return cerr_sys(e, "poll");
		}
		if (c->wake_fd >= 0 && p[1].revents && c->on_wake)
			c->on_wake(c->wake_ctx);
		if (c->in_fd >= 0 && p[2].revents && c->on_in &&
		    c->on_in(c->in_ctx, e) < 0)
			return -1;
		if (p[0].revents)
			return 0;
	}
}

/* Read one reply.  ERROR becomes a failure carrying corrald's errno and
 * message; EOF and framing errors are local failures. */
static int recv_msg(struct corral_conn *c, struct wire_msg *m, struct cerr *e)
{
	int rc;

	if (wait_readable(c, e) < 0)
		return conn_fail(c);
	rc = wire_reader_read(c->fd, &c->rd, &proto_client_rep, m, e);
	c->awaiting = false;
	if (rc == WIRE_EOF) {
		cerr_set(e, ECONNRESET, "corrald closed the connection");
		return lost(c, e);
	}
	if (rc == WIRE_ERR && (e->num == EPIPE || e->num == ECONNRESET)) {
		cerr_wrap(e, "reading from corrald");
		return lost(c, e);
	}
	if (rc != WIRE_READY) {
		cerr_wrap(e, "reading from corrald");
		return conn_fail(c);
	}
	c->answered = true;
	if (m->type == C_ERROR) {
		c->remote_error = true;
		c->error_stage = wire_u32(m, F_STAGE, STAGE_NONE);
		cerr_set(e, (int)wire_u32(m, F_ERRNO, 0), "%s",
			 wire_str(m, F_MESSAGE));
		wire_msg_free(m);
		return -1;
	}
	return 0;
}

static int unexpected(struct corral_conn *c, struct wire_msg *m,
		      const char *req, struct cerr *e)
{
	cerr_set(e, EPROTO, "corrald answered %s with an unexpected %s",
		 req, m->spec ? m->spec->name : "message");
	wire_msg_free(m);
	return conn_fail(c);
}

/* --- encoding requests ------------------------------------------------ */

int corral_run(struct corral_conn *c, const struct corral_run_req *req,
	       char id[JOB_ID_LEN + 1], struct cerr *e)
{
	struct wire_out o;
	struct wire_msg m;

	wire_out_init(&o, &proto_client_req, C_RUN);
	for (size_t i = 0; i < req->argc; i++)
		wire_put_str(&o, F_ARGV, req->argv[i]);
	for (size_t i = 0; i < req->nenv; i++)
		wire_put_str(&o, F_ENV, req->env[i]);
	wire_put_str(&o, F_CWD, req->cwd);
	wire_put_u32(&o, F_NS_OFF, req->ns_off);
	runopts_put(&o, &req->opt, SC_JOB | SC_MGR);
	if (req->after)
		wire_put_str(&o, F_AFTER, req->after);
	if (req->after_ok)
		wire_put_u32(&o, F_AFTER_OK, 1);
	if (req->no_queue)
		wire_put_u32(&o, F_NO_QUEUE, 1);
	if (req->hangup)
		wire_put_u32(&o, F_HANGUP, 1);
	if (req->rows && req->cols) {
		wire_put_u32(&o, F_ROWS, req->rows > 65535 ? 65535 : req->rows);
		wire_put_u32(&o, F_COLS, req->cols > 65535 ? 65535 : req->cols);
	}
	if (send_msg(c, &o, e) < 0 || recv_msg(c, &m, e) < 0)
		return -1;
	if (m.type == C_QUEUED) {
		/* Waiting in the queue: STARTED (or ERROR) comes later. */
		snprintf(id, JOB_ID_LEN + 1, "%s", wire_str(&m, F_JOB_ID));
		bool stop = req->on_queued &&
			req->on_queued(req->queued_ctx, id, wire_u32(&m, F_POSITION, 0),
				       wire_str(&m, F_WAITING));
		wire_msg_free(&m);
		if (stop)
			return 1;
		if (recv_msg(c, &m, e) < 0)
			return -1;
	}
	if (m.type != C_STARTED)
		return unexpected(c, &m, "RUN", e);
	snprintf(id, JOB_ID_LEN + 1, "%s", wire_str(&m, F_JOB_ID));
	wire_msg_free(&m);
	return 0;
}

/* --- decoding a JOB ----------------------------------------------------- */

#define OPT_U64(j, m, fld, has, id) \
	do { (j)->has = wire_has(m, id); (j)->fld = wire_u64(m, id, 0); } while (0)
#define OPT_U32(j, m, fld, has, id) \
	do { (j)->has = wire_has(m, id); (j)->fld = wire_u32(m, id, 0); } while (0)

static void get_times(const struct wire_msg *m, struct corral_job *j)
{
	OPT_U32(j, m, pid, has_pid, F_PID);
	j->created_ms = wire_u64(m, F_CREATED_MS, 0);
	OPT_U64(j, m, started_ms, has_started, F_STARTED_MS);
	OPT_U64(j, m, ended_ms, has_ended, F_ENDED_MS);
	OPT_U32(j, m, exit_code, has_exit_code, F_EXIT_CODE);
	OPT_U32(j, m, signal, has_signal, F_SIGNAL);
	OPT_U32(j, m, wstatus, has_wstatus, F_WSTATUS);
	OPT_U64(j, m, oom_kills, has_oom, F_OOM_KILLS);
	OPT_U64(j, m, cpu_usec, has_cpu, F_CPU_USEC);
	OPT_U64(j, m, memory_peak, has_peak, F_MEMORY_PEAK);
	OPT_U32(j, m, err, has_errno, F_ERRNO);
	OPT_U64(j, m, log_deleted_ms, has_log_deleted, F_LOG_DELETED_MS);
	OPT_U64(j, m, log_bytes, has_log_bytes, F_LOG_BYTES);
	OPT_U64(j, m, log_dropped, has_log_dropped, F_LOG_DROPPED);
}

/* Take over m (its arena backs every string of j). */
static int job_from_msg(struct wire_msg *m, struct corral_job *j,
			struct cerr *e)
{
	struct wire_msg *keep = malloc(sizeof *keep);

	memset(j, 0, sizeof *j);
	if (!keep) {
		wire_msg_free(m);
		return cerr_sys(e, "decoding a job record");
	}
	*keep = *m;
	j->priv = keep;
	snprintf(j->id, sizeof j->id, "%s", wire_str(m, F_JOB_ID));
	j->uid = wire_u32(m, F_UID, 0);
	j->user = wire_str(m, F_USER);
	j->state = wire_str(m, F_STATE);
	j->cwd = wire_str(m, F_CWD);
	j->error = wire_str(m, F_ERROR);
	j->stage = wire_u32(m, F_STAGE, STAGE_NONE);
	j->after = wire_str(m, F_AFTER);
	j->after_ok = wire_u32(m, F_AFTER_OK, 0);
	j->waiting = wire_str(m, F_WAITING);
	j->net_address = wire_str(m, F_NET_ADDRESS);
	j->net_mac = wire_str(m, F_NET_MAC);
	j->position = wire_u32(m, F_POSITION, 0);
	j->ns_off = wire_u32(m, F_NS_OFF, 0);
	j->argv = wire_strv(keep, F_ARGV, &j->argc);
	j->env = wire_strv(keep, F_ENV, &j->nenv);
	runopts_get(keep, &j->opt);
	get_times(m, j);
	if (!j->argv || !j->env) {
		corral_job_free(j);
		return cerr_sys(e, "decoding a job record");
	}
	return 0;
}

void corral_job_free(struct corral_job *j)
{
	free(j->argv);
	free(j->env);
	if (j->priv) {
		wire_msg_free(j->priv);
		free(j->priv);
	}
	memset(j, 0, sizeof *j);
}

/* A job reference, and whose names it means if that was set. */
static void put_ref(struct corral_conn *c, struct wire_out *o, const char *ref)
{
	wire_put_str(o, F_JOB_REF, ref);
	if (c->names_of_set)
		wire_put_u32(o, F_UID, c->names_of);
}

/* --- INPUT, WINSIZE ------------------------------------------------------ */

/* Sent while a reply stream runs: no reply of their own, so the wait for
 * the stream's next message stays as it was (not send_msg). */
static int send_quiet(struct corral_conn *c, struct wire_out *o, struct cerr *e)
{
	int rc = wire_out_finish(o, e);

	if (rc == 0)
		rc = wire_send_stream(c->fd, o, e);
	wire_out_free(o);
	return rc < 0 ? cerr_wrap(e, "sending input to corrald") : 0;
}

int corral_input(struct corral_conn *c, const void *data, size_t len, bool eof,
		 struct cerr *e)
{
	struct wire_out o;

	if (len > INPUT_CHUNK_MAX)
		return cerr_set(e, E2BIG, "INPUT of %zu bytes (at most %d)", len,
				INPUT_CHUNK_MAX);
	wire_out_init(&o, &proto_client_req, C_INPUT);
	if (len)
		wire_put_bytes(&o, F_DATA, data, len);
	if (eof)
		wire_put_u32(&o, F_EOF, 1);
	return send_quiet(c, &o, e);
}

int corral_winsize(struct corral_conn *c, unsigned rows, unsigned cols,
		   struct cerr *e)
{
	struct wire_out o;

	wire_out_init(&o, &proto_client_req, C_WINSIZE);
	wire_put_u32(&o, F_ROWS, rows > 65535 ? 65535 : rows);
	wire_put_u32(&o, F_COLS, cols > 65535 ? 65535 : cols);
	return send_quiet(c, &o, e);
}

/* --- FOLLOW ------------------------------------------------------------- */

/* A record's bytes on the wire, which are its bytes in the log file. */
static uint64_t record_len(const struct wire_msg *m)
{
	uint64_t n = WIRE_HDR_LEN;

	for (uint32_t i = 0; i < m->nvals; i++)
		n += WIRE_FIELD_HDR_LEN + m->vals[i].len;
	return n;
}

static int deliver_log(struct corral_conn *c, struct wire_msg *m,
		       corral_log_fn on_log, void *ctx, struct cerr *e)
{
	size_t len = 0;
	const uint8_t *d = wire_bytes(m, F_DATA, &len);
	int rc = 0;

	c->log_off += record_len(m);
	if (on_log)
		rc = on_log(ctx, wire_u32(m, F_STREAM, 0),
			    wire_u64(m, F_TIME_MS, 0), d, len, e);
	wire_msg_free(m);
	return rc < 0 ? conn_fail(c) : 0;
}

int corral_follow(struct corral_conn *c, const char *ref, uint32_t streams,
		  bool follow, corral_log_fn on_log, void *ctx,
		  struct corral_job *job, struct cerr *e)
{
	return corral_follow_from(c, ref, streams, follow, 0, on_log, ctx, job, e);
}

int corral_follow_from(struct corral_conn *c, const char *ref, uint32_t streams,
		       bool follow, uint64_t from, corral_log_fn on_log,
		       void *ctx, struct corral_job *job, struct cerr *e)
{
	struct wire_out o;
	struct wire_msg m;

	wire_out_init(&o, &proto_client_req, C_FOLLOW);
	put_ref(c, &o, ref);
	wire_put_u32(&o, F_STREAMS, streams);
	wire_put_u32(&o, F_FOLLOW, follow ? 1 : 0);
	if (from)
		wire_put_u64(&o, F_FROM, from);
	c->log_off = from;
	if (send_msg(c, &o, e) < 0)
		return -1;
	/* A live stream may be silent as long as its job is. */
	if (follow)
		c->awaiting = false;
	for (;;) {
		if (recv_msg(c, &m, e) < 0)
			return -1;
		if (m.type == C_JOB)
			return job_from_msg(&m, job, e);
		if (m.type != C_LOG_DATA)
			return unexpected(c, &m, "FOLLOW", e);
		if (deliver_log(c, &m, on_log, ctx, e) < 0)
			return -1;
	}
}

/* --- LIST / STATUS ------------------------------------------------------ */

int corral_list(struct corral_conn *c, const struct corral_list_req *q,
		corral_job_fn fn, void *ctx, struct cerr *e)
{
	struct wire_out o;
	struct wire_msg m;

	wire_out_init(&o, &proto_client_req, C_LIST);
	if (q->all)
		wire_put_u32(&o, F_ALL, 1);
	if (q->has_uid)
		wire_put_u32(&o, F_UID, q->uid);
	if (q->states)
		wire_put_u32(&o, F_STATES, q->states);
	if (q->name)
		wire_put_str(&o, F_NAME, q->name);
	if (q->limit)
		wire_put_u32(&o, F_LIMIT, q->limit);
	if (send_msg(c, &o, e) < 0)
		return -1;
	for (;;) {
		struct corral_job j;
		int rc;

		if (recv_msg(c, &m, e) < 0)
			return -1;
		if (m.type == C_DONE) {
			wire_msg_free(&m);
			return 0;
		}
		if (m.type != C_JOB)
			return unexpected(c, &m, "LIST", e);
		if (job_from_msg(&m, &j, e) < 0)
			return conn_fail(c);
		rc = fn(ctx, &j, e);
		corral_job_free(&j);
		if (rc < 0)
			return conn_fail(c);
	}
}


int corral_status(struct corral_conn *c, const char *ref,
		  struct corral_job *job, struct cerr *e)
{
	struct wire_out o;
	struct wire_msg m;

	wire_out_init(&o, &proto_client_req, C_STATUS);
	put_ref(c, &o, ref);
	if (send_msg(c, &o, e) < 0 || recv_msg(c, &m, e) < 0)
		return -1;
	if (m.type != C_JOB)
		return unexpected(c, &m, "STATUS", e);
	return job_from_msg(&m, job, e);
}

/* --- STOP / KILL / WHOAMI ------------------------------------------------- */

static int expect_ok(struct corral_conn *c, const char *req,
		     char id[JOB_ID_LEN + 1], struct cerr *e)
{
	struct wire_msg m;
	const char *s;

	if (recv_msg(c, &m, e) < 0)
		return -1;
	if (m.type != C_OK)
		return unexpected(c, &m, req, e);
	s = wire_str(&m, F_JOB_ID);
	if (id)
		snprintf(id, JOB_ID_LEN + 1, "%s", s ? s : "");
	s = wire_str(&m, F_MESSAGE);
	snprintf(c->note, sizeof c->note, "%s", s ? s : "");
	wire_msg_free(&m);
	return 0;
}

int corral_stop(struct corral_conn *c, const char *ref, bool has_grace,
		uint64_t grace_ms, char id[JOB_ID_LEN + 1], struct cerr *e)
{
	struct wire_out o;

	wire_out_init(&o, &proto_client_req, C_STOP);
	put_ref(c, &o, ref);
	if (has_grace)
		wire_put_u64(&o, F_GRACE_MS, grace_ms);
	if (send_msg(c, &o, e) < 0)
		return -1;
	return expect_ok(c, "STOP", id, e);
}

int corral_kill(struct corral_conn *c, const char *ref,
		char id[JOB_ID_LEN + 1], struct cerr *e)
{
	struct wire_out o;

	wire_out_init(&o, &proto_client_req, C_KILL);
	put_ref(c, &o, ref);
	if (send_msg(c, &o, e) < 0)
		return -1;
	return expect_ok(c, "KILL", id, e);
}

int corral_signal(struct corral_conn *c, const char *ref, int sig,
		  bool foreground, char id[JOB_ID_LEN + 1], struct cerr *e)
{
	struct wire_out o;

	wire_out_init(&o, &proto_client_req, C_KILL);
	put_ref(c, &o, ref);
	wire_put_u32(&o, F_SIGNAL, (uint32_t)sig);
	if (foreground)
		wire_put_u32(&o, F_FOREGROUND, 1);
	if (send_msg(c, &o, e) < 0)
		return -1;
	return expect_ok(c, "KILL", id, e);
}

int corral_rm(struct corral_conn *c, const char *ref,
	      char id[JOB_ID_LEN + 1], struct cerr *e)
{
	struct wire_out o;

	wire_out_init(&o, &proto_client_req, C_RM);
	put_ref(c, &o, ref);
	if (send_msg(c, &o, e) < 0)
		return -1;
	return expect_ok(c, "RM", id, e);
}

int corral_prune(struct corral_conn *c, bool dry, char *msg, size_t len,
		 struct cerr *e)
{
	struct wire_out o;
	struct wire_msg m;
	const char *s;

	wire_out_init(&o, &proto_client_req, C_PRUNE);
	if (dry)
		wire_put_u32(&o, F_DRY_RUN, 1);
	if (send_msg(c, &o, e) < 0 || recv_msg(c, &m, e) < 0)
		return -1;
	if (m.type != C_OK)
		return unexpected(c, &m, "PRUNE", e);
	s = wire_str(&m, F_MESSAGE);
	snprintf(msg, len, "%s", s ? s : "");
	wire_msg_free(&m);
	return 0;
}

int corral_whoami(struct corral_conn *c, uint32_t *uid, bool *admin,
		  struct cerr *e)
{
	struct wire_out o;
	struct wire_msg m;

	wire_out_init(&o, &proto_client_req, C_WHOAMI);
	if (send_msg(c, &o, e) < 0 || recv_msg(c, &m, e) < 0)
		return -1;
	if (m.type != C_OK)
		return unexpected(c, &m, "WHOAMI", e);
	if (!wire_has(&m, F_UID)) {
		wire_msg_free(&m);
		cerr_set(e, EPROTO, "corrald answered WHOAMI without a uid");
		return conn_fail(c);
	}
	*uid = wire_u32(&m, F_UID, 0);
	*admin = wire_u32(&m, F_ADMIN, 0) != 0;
	wire_msg_free(&m);
	return 0;
}

/* --- VIA ----------------------------------------------------------------- */

int corral_via(struct corral_conn *c, const char *note, struct cerr *e)
{
	struct wire_out o;
	int rc;

	wire_out_init(&o, &proto_client_req, C_VIA);
	wire_put_str(&o, F_VIA, note);
	rc = wire_out_finish(&o, e);
	if (rc == 0)
		rc = wire_send_stream(c->fd, &o, e);
	wire_out_free(&o);
	return rc;
}

/* --- AUDIT --------------------------------------------------------------- */

static void audit_from_msg(const struct wire_msg *m, struct corral_audit_row *r)
{
	r->time_ms = wire_u64(m, F_TIME_MS, 0);
	r->uid = wire_u32(m, F_UID, 0);
	r->has_pid = wire_has(m, F_PID);
	r->pid = wire_u32(m, F_PID, 0);
	r->action = wire_str(m, F_ACTION);
	r->job_id = wire_str(m, F_JOB_ID);
	r->outcome = wire_str(m, F_OUTCOME);
	r->detail = wire_str(m, F_DETAIL);
}

int corral_audit(struct corral_conn *c, const struct corral_audit_req *q,
		 corral_audit_fn fn, void *ctx, struct cerr *e)
{
	struct wire_out o;
	struct wire_msg m;

	wire_out_init(&o, &proto_client_req, C_AUDIT);
	if (q->limit)
		wire_put_u32(&o, F_LIMIT, q->limit);
	if (q->has_uid)
		wire_put_u32(&o, F_UID, q->uid);
	if (q->action)
		wire_put_str(&o, F_ACTION, q->action);
	if (q->since_ms)
		wire_put_u64(&o, F_SINCE_MS, q->since_ms);
	if (send_msg(c, &o, e) < 0)
		return -1;
	for (;;) {
		struct corral_audit_row r;
		int rc;

		if (recv_msg(c, &m, e) < 0)
			return -1;
		if (m.type == C_DONE) {
			wire_msg_free(&m);
			return 0;
		}
		if (m.type != C_AUDIT_ROW)
			return unexpected(c, &m, "AUDIT", e);
		audit_from_msg(&m, &r);
		rc = fn(ctx, &r, e);
		wire_msg_free(&m);
		if (rc < 0)
			return conn_fail(c);
	}
}
