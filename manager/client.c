/* Client connections: the listening socket, kernel-given identity,
 * request reading and reply writing. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "job.h"
#include "proto.h"

/* Does a process accept on this socket?  A stale file (its corrald gone)
 * refuses; a live listener, even one too busy to accept, does not. */
static bool socket_alive(const struct sockaddr_un *sa)
{
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return false;
	return connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0 ||
	       errno == EAGAIN;
}

void listen_unlink(struct mgr *m)
{
	struct stat st;

	if (m->socket_ino && stat(m->conf.socket, &st) == 0 &&
	    st.st_ino == m->socket_ino)
		unlink(m->conf.socket);
}

int listen_open(struct mgr *m, struct cerr *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &m->listen_ev };
	_cleanup_close_ int fd = -1;
	const char *path = m->conf.socket;

	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cerr_sys(e, "socket");
	if (socket_alive(&sa))
		return cerr_set(e, EADDRINUSE, "a live corrald listens on %s already", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return cerr_sys(e, "remove stale socket %s", path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return cerr_sys(e, "bind %s", path);
	if (stat(path, &st) < 0)
		return cerr_sys(e, "stat %s", path);
	m->socket_ino = st.st_ino;
	if (chmod(path, 0660) < 0)
		return cerr_sys(e, "chmod %s", path);
	if (chown(path, (uid_t)-1, m->socket_gid) < 0)
		return cerr_sys(e, "chown %s to group %s (is the manager user a member?)",
				path, m->conf.socket_group);
	if (listen(fd, 1024) < 0)
		return cerr_sys(e, "listen %s", path);
	m->listen_ev.type = EV_LISTEN;
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return cerr_sys(e, "epoll");
	m->listen_fd = take_fd(&fd);
	return 0;
}

/* --- identity -------------------------------------------------------- */

static gid_t *peer_groups(int fd, size_t *n)
{
	socklen_t len = 64 * sizeof(gid_t);
	gid_t *g = NULL;

	for (;;) {
		gid_t *ng = realloc(g, len);
		if (!ng)
			break;
		g = ng;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) == 0) {
			*n = len / sizeof(gid_t);
			return g;
		}
		if (errno != ERANGE || len > GROUPS_MAX * sizeof(gid_t))
			break;
	}
	free(g);
	*n = 0;
	return NULL;
}

static bool has_gid(const gid_t *g, size_t n, gid_t primary, gid_t want)
{
	if (primary == want)
		return true;
	for (size_t i = 0; i < n; i++)
		if (g[i] == want)
			return true;
	return false;
}

/* 1 admin, 0 user, -1 refused (e says why). */
static int identify(struct mgr *m, int fd, struct ident *who, struct cerr *e)
{
	struct ucred cr;
	socklen_t len = sizeof cr;
	_cleanup_free_ gid_t *g = NULL;
	struct passwd *pw;
	gid_t primary = (gid_t)-1;
	size_t n;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return cerr_sys(e, "SO_PEERCRED");
	who->uid = cr.uid;
	who->pid = cr.pid > 0 ? (uint32_t)cr.pid : 0;
	pw = getpwuid(cr.uid);
	if (pw) {
		primary = pw->pw_gid;
		snprintf(who->user, sizeof who->user, "%s", pw->pw_name);
	}
	g = peer_groups(fd, &n);
	if (!g)
		return cerr_sys(e, "SO_PEERGROUPS");
	if (cr.uid == 0 || has_gid(g, n, primary, m->admin_gid))
		return 1;
	if (has_gid(g, n, primary, m->socket_gid))
		return 0;
	return cerr_set(e, EACCES, "uid %u is not in group %s",
			cr.uid, m->conf.socket_group);
}

/* --- connection caps ------------------------------------------------- */

static struct uid_conns **uid_slot(struct mgr *m, uint32_t uid)
{
	struct uid_conns **p = &m->uid_conns[uid % UID_BUCKETS];

	while (*p && (*p)->uid != uid)
		p = &(*p)->next;
	return p;
}

static uint32_t uid_count(struct mgr *m, uint32_t uid)
{
	struct uid_conns *u = *uid_slot(m, uid);

	return u ? u->n : 0;
}

static int uid_add(struct mgr *m, uint32_t uid)
{
	struct uid_conns **p = uid_slot(m, uid);

	if (!*p) {
		*p = calloc(1, sizeof **p);
		if (!*p)
			return -1;
		(*p)->uid = uid;
	}
	(*p)->n++;
	return 0;
}

static void uid_del(struct mgr *m, uint32_t uid)
{
	struct uid_conns **p = uid_slot(m, uid), *u = *p;

	if (u && --u->n == 0) {
		*p = u->next;
		free(u);
	}
}

/* Whether one more connection of who fits, so that no single member can
 * lock the others out and root and admins always get in: each uid but
 * root has max_clients_per_user, and the last admin_clients of
 * max_clients are for root and admins.  role as from identify(). */
static int admit(struct mgr *m, const struct ident *who, int role,
		 struct cerr *e)
{
	const struct mgr_conf *k = &m->conf;

	if (m->nclients >= k->max_clients)
		return cerr_set(e, EAGAIN, "too many clients (max_clients = %llu)",
				(unsigned long long)k->max_clients);
	if (who->uid != 0 && uid_count(m, who->uid) >= k->max_clients_per_user)
		return cerr_set(e, EAGAIN, "too many connections of uid %u (max_clients_per_user = %llu)",
				who->uid, (unsigned long long)k->max_clients_per_user);
	if (role != 1 && m->nclients >= k->max_clients - k->admin_clients)
		return cerr_set(e, EAGAIN, "too many clients: the last %llu of max_clients = %llu are kept for admins (admin_clients)",
				(unsigned long long)k->admin_clients,
				(unsigned long long)k->max_clients);
	return role;
}

/* --- idle connections ------------------------------------------------ */

static void idle_unlist(struct mgr *m, struct client *c)
{
	if (!c->idle_listed)
		return;
	if (c->idle_prev)
		c->idle_prev->idle_next = c->idle_next;
	else
		m->idle_head = c->idle_next;
	if (c->idle_next)
		c->idle_next->idle_prev = c->idle_prev;
	else
		m->idle_tail = c->idle_prev;
	c->idle_next = c->idle_prev = NULL;
	c->idle_listed = false;
}

/* Waiting for a request: nothing to send, no sequence running (a RUN
 * waiting for the helper or a follower is not idle).  The clock starts
 * when the connection becomes idle; bytes of a request that never
 * completes do not restart it. */
static void idle_update(struct mgr *m, struct client *c)
{
	bool idle = c->state == SS_IDLE && !c->q.head && !c->closing;

	if (!idle) {
		idle_unlist(m, c);
		return;
	}
	if (c->idle_listed)
		return;
	c->idle_at = mono_ms() + (int64_t)m->conf.client_idle_ms;
	c->idle_prev = m->idle_tail;
	c->idle_next = NULL;
	if (m->idle_tail)
		m->idle_tail->idle_next = c;
	else
		m->idle_head = c;
	m->idle_tail = c;
	c->idle_listed = true;
}

int64_t clients_next_deadline(struct mgr *m)
{
	return m->idle_head ? m->idle_head->idle_at : 0;
}

/* Tell a refused peer why, without waiting for it. */
static void refuse_now(int fd, int num, const char *msg)
{
	struct wire_out o;
	struct cerr e;

	wire_out_init(&o, &proto_client_rep, C_ERROR);
	wire_put_u32(&o, F_ERRNO, (uint32_t)num);
	wire_put_str(&o, F_MESSAGE, msg);
	if (wire_out_finish(&o, &e) == 0 &&
	    send(fd, o.buf, o.len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		(void)0;	/* best effort: the peer may be gone */
	wire_out_free(&o);
}

/* Identify, admit and register a connection; NULL if refused (the peer
 * told why, the refusal audited) or out of memory (closed). */
static struct client *client_new(struct mgr *m, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	struct ident who = { 0 };
	struct client *c;
	struct cerr e;
	int role = identify(m, fd, &who, &e);

	if (role >= 0)
		role = admit(m, &who, role, &e);
	if (role < 0) {
		audit(m, &who, "connect", NULL,
		      e.num == EACCES ? "denied" : "error", e.msg, false);
		refuse_now(fd, e.num, e.msg);
		close(fd);
		return NULL;
	}
	who.admin = role == 1;
	c = calloc(1, sizeof *c);
	if (!c || uid_add(m, who.uid) < 0) {
		free(c);
		close(fd);
		return NULL;
	}
	c->counted = true;
	c->ev.type = EV_CLIENT;
	c->fd = fd;
	c->who = who;
	c->events = ev.events;
	ev.data.ptr = &c->ev;
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		logmsg("epoll add client: %m");
		uid_del(m, who.uid);
		close(fd);
		free(c);
		return NULL;
	}
	m->nclients++;
	c->all_next = m->clients;
	if (m->clients)
		m->clients->all_prev = c;
	m->clients = c;
	idle_update(m, c);
	return c;
}

static void accept_one(struct mgr *m, int fd)
{
	client_new(m, fd);
}

/* Who it is comes from the kernel again, and the caps of the new
 * configuration apply; only the client's own note (VIA) is carried. */
struct client *client_adopt(struct mgr *m, int fd, const char *via)
{
	struct client *c = client_new(m, fd);

	if (c && via)
		snprintf(c->who.via, sizeof c->who.via, "%s", via);
	return c;
}

void client_accept(struct mgr *m)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(m->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				logmsg("accept: %m");
			return;
		}
		accept_one(m, fd);
	}
}

/* --- one connection -------------------------------------------------- */

void client_close(struct mgr *m, struct client *c)
{
	if (c->dead)
		return;
	c->dead = true;
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	follow_detach(c);
	job_client_gone(m, c);
	outq_clear(&c->q);
	wire_reader_reset(&c->rd);
	m->partial_bytes -= c->rd_held;
	c->rd_held = 0;
	idle_unlist(m, c);
	if (c->counted)
		uid_del(m, c->who.uid);
	c->counted = false;
	m->nclients--;
	if (c->all_prev)
		c->all_prev->all_next = c->all_next;
	else
		m->clients = c->all_next;
	if (c->all_next)
		c->all_next->all_prev = c->all_prev;
	c->next_dead = m->dead_clients;
	m->dead_clients = c;
}

void clients_reap(struct mgr *m)
{
	while (m->dead_clients) {
		struct client *c = m->dead_clients;
		m->dead_clients = c->next_dead;
		free(c);
	}
}

/* Between requests, nothing owed: what a reload can hand over (a
 * follower is its offsets, a RUN waiting in the queue its job id).  A
 * connection tied to a job's input (-i, -t) is, between two INPUTs,
 * when it follows that job: the tie and any bytes the job has not taken
 * go across (docs/tty.md). */
bool client_at_rest(const struct mgr *m, const struct client *c)
{
	(void)m;
	if (c->in_job && (c->state != SS_FOLLOW ||
			  strcmp(c->f.job_id, c->in_job->id)))
		return false;
	return !c->dead && !c->closing && !c->q.head && !c->rd.hlen &&
	       (c->state == SS_IDLE || c->state == SS_FOLLOW ||
		(c->state == SS_RUN && c->run_q && !c->run_job));
}

/* A request when it has nothing else going on (reloading, a connection
 * at rest reads no more); INPUT for its -i/-t job also while it follows
 * the job's output, unless the job has not taken the last one yet
 * (input.c). */
static bool wants_request(const struct mgr *m, const struct client *c)
{
	if (c->closing)
		return false;
	if (c->state == SS_IDLE && !c->q.head)
		return !(m->reload_at && client_at_rest(m, c));
	/* Reloading: no further INPUT once one is whole. */
	return c->state == SS_FOLLOW && c->in_job && !c->in_held &&
	       !(m->reload_at && client_at_rest(m, c));
}

static void update_mask(struct mgr *m, struct client *c)
{
	struct epoll_event ev = { .data.ptr = &c->ev };

	idle_update(m, c);
	if (wants_request(m, c))
		ev.events |= EPOLLIN;
	if (c->want_out)
		ev.events |= EPOLLOUT;
	if (!c->rdhup)
		ev.events |= EPOLLRDHUP;
	if (ev.events == c->events)
		return;
	if (epoll_ctl(m->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
		logmsg("epoll: %m");
		client_close(m, c);
		return;
	}
	c->events = ev.events;
}

/* Advance c's sequence: 1 more to do now, 0 waiting, -1 close. */
static int advance(struct mgr *m, struct client *c)
{
	struct cerr e;
	size_t before = c->q.bytes;
	int r;

	switch (c->state) {
	case SS_FOLLOW:
		r = follow_push(m, c, &e);
		if (r < 0) {
			logmsg("follower uid %u: %s", c->who.uid, e.msg);
			return -1;
		}
		return r;
	case SS_LIST:
	case SS_AUDIT:
		req_more(m, c);
		return c->q.bytes != before || c->state == SS_IDLE;
	default:
		return 0;
	}
}

void client_kick(struct mgr *m, struct client *c)
{
	struct cerr e;

	if (c->dead)
		return;
	c->want_out = false;
	for (;;) {
		int r = outq_flush(&c->q, c->fd, &e);
		if (r < 0)
			return client_close(m, c);
		if (r == 0) {
			c->want_out = true;
			break;
		}
		if (c->closing)
			return client_close(m, c);
		r = advance(m, c);
		if (r < 0)
			return client_close(m, c);
		if (r == 0 || c->want_out)
			break;
	}
	update_mask(m, c);
}

/* Keep mgr.partial_bytes equal to what every unfinished request holds
 * (a reader grows with the bytes that arrived, never with what a header
 * merely claims); -1 once they pass request_buffer_max.  The client whose
 * request pushed the total over is refused, so memory stays bounded
 * however many clients send slowly. */
static int hold_partial(struct mgr *m, struct client *c, struct cerr *e)
{
	m->partial_bytes -= c->rd_held;
	c->rd_held = c->rd.bcap;
	m->partial_bytes += c->rd_held;
	if (!c->rd_held || m->partial_bytes <= m->conf.request_buffer_max)
		return 0;
	return cerr_set(e, ENOBUFS,
			"corrald holds %llu bytes of unfinished requests (request_buffer_max = %llu); try again",
			(unsigned long long)m->partial_bytes,
			(unsigned long long)m->conf.request_buffer_max);
}

static void client_read(struct mgr *m, struct client *c)
{
	struct wire_msg msg;
	struct cerr e;
	int r = wire_reader_read(c->fd, &c->rd, &proto_client_req, &msg, &e);

	if (hold_partial(m, c, &e) < 0) {
		wire_reader_reset(&c->rd);
		hold_partial(m, c, &e);
		r = WIRE_ERR;
	}
	if (r == WIRE_AGAIN)
		return;
	if (r == WIRE_EOF)
		return client_close(m, c);
	if (r == WIRE_ERR || r == WIRE_BAD) {
		/* Say why, then close: a client that sends what it should
		 * not is not to be trusted with more (even when, after a
		 * bad body, the stream is still framed). */
		audit(m, &c->who, "invalid", NULL, "error", e.msg, false);
		reply_error(c, e.num ? e.num : EPROTO, STAGE_NONE, "%s", e.msg);
		c->closing = true;
		return client_kick(m, c);
	}
	/* Inside a reply sequence only INPUT may come (wants_request). */
	if (c->state != SS_IDLE && msg.type != C_INPUT && msg.type != C_WINSIZE) {
		reply_error(c, EPROTO, STAGE_NONE,
			    "%s while a reply is being sent: only INPUT and WINSIZE may come",
			    msg.spec->name);
		wire_msg_free(&msg);
		c->closing = true;
		return client_kick(m, c);
	}
	/* A complete request: the idle clock starts again after the reply. */
	idle_unlist(m, c);
	req_handle(m, c, &msg);
	wire_msg_free(&msg);
	client_kick(m, c);
}

void client_event(struct mgr *m, struct client *c, uint32_t events)
{
	if (c->dead)
		return;
	if ((events & EPOLLIN) && wants_request(m, c))
		client_read(m, c);
	if (c->dead)
		return;
	if (events & EPOLLERR)
		return client_close(m, c);
	if (events & EPOLLHUP) {
		/* Peer gone both ways; an idle reader would see EOF. */
		if (!(events & EPOLLIN) || c->state != SS_IDLE || c->q.head)
			return client_close(m, c);
	}
	if (events & EPOLLRDHUP)
		c->rdhup = true;
	if (events & EPOLLOUT)
		client_kick(m, c);
	else
		update_mask(m, c);
}

void clients_freeze(struct mgr *m)
{
	for (struct client *c = m->clients; c; c = c->all_next)
		update_mask(m, c);
}

/* A connection that sent no complete request for client_idle_timeout
 * holds a slot for nothing: tell it why and close it. */
void clients_expire(struct mgr *m)
{
	int64_t now = mono_ms();
	char msg[96];

	while (m->idle_head && m->idle_head->idle_at <= now) {
		struct client *c = m->idle_head;
		idle_unlist(m, c);
		snprintf(msg, sizeof msg, "closed after %llu ms without a request (client_idle_timeout)",
			 (unsigned long long)m->conf.client_idle_ms);
		refuse_now(c->fd, ETIMEDOUT, msg);
		client_close(m, c);
	}
}
