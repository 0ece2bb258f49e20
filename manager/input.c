/* A job's stdin (-i) or terminal (-t), fed by INPUT messages from the
 * connection that ran it, and nothing else (docs/tty.md).
 *
 * Bounded: corrald writes each INPUT to the job at once; what the job's
 * pipe or pty cannot take (it is not reading) is held, at most one
 * INPUT's bytes per job, and the connection is not read again until the
 * job has taken them.  The client's own socket buffer then fills and its
 * writes block: a job that does not read blocks its client, and nothing
 * grows here. */
#include "job.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cleanup.h"
#include "proto.h"

bool job_wants_input(const struct runopts *opt)
{
	return runopt_has(opt, OPT_INTERACTIVE) || runopt_has(opt, OPT_TTY);
}

static void watch_writable(struct mgr *m, struct input_sink *s, bool on)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = &s->ev };

	if (s->watching == on || s->fd < 0)
		return;
	if (epoll_ctl(m->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, s->fd, &ev) < 0)
		logmsg("job %s: input: epoll: %m", s->job->id);
	else
		s->watching = on;
}

/* Read the client again (its last INPUT is written or dropped). */
static void release_client(struct mgr *m, struct input_sink *s)
{
	struct client *c = s->src;

	if (!c || !c->in_held)
		return;
	c->in_held = false;
	client_kick(m, c);
}

static void drop_held(struct input_sink *s)
{
	free(s->held);
	s->held = NULL;
	s->off = s->len = 0;
}

/* The job's side is done: EOF for a pipe; a pty master stays open for
 * the output (this is our dup of it). */
static void sink_close(struct mgr *m, struct input_sink *s)
{
	watch_writable(m, s, false);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	drop_held(s);
	release_client(m, s);
}

/* On a terminal, the end of input is the EOF character, ^D, as a
 * keyboard gives it.  (The master's own settings are not the slave's:
 * the usual character is all corrald can know.) */
static void tty_eof(struct input_sink *s)
{
	static const char eof = 4;

	if (write(s->fd, &eof, 1) < 0)
		logmsg("job %s: input: EOF: %m", s->job->id);
}

/* Write what is held; true once nothing is. */
static bool flush_held(struct mgr *m, struct input_sink *s)
{
	while (s->off < s->len) {
		ssize_t n = write(s->fd, s->held + s->off, s->len - s->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return false;
		if (n < 0) {
			/* EPIPE: the job closed its stdin; the rest of its
			 * input has nowhere to go. */
			if (errno != EPIPE && errno != EIO)
				logmsg("job %s: input: %m", s->job->id);
			sink_close(m, s);
			return true;
		}
		s->off += (size_t)n;
	}
	drop_held(s);
	return true;
}

/* Everything held is written: the end of input if asked, then the
 * client may send more. */
static void drained(struct mgr *m, struct input_sink *s)
{
	watch_writable(m, s, false);
	if (s->eof && s->fd >= 0) {
		if (s->tty)
			tty_eof(s);
		else
			sink_close(m, s);
	}
	release_client(m, s);
}

void input_event(struct mgr *m, struct ev *ev, uint32_t events)
{
	struct input_sink *s = (struct input_sink *)ev;

	if (s->job->dead || s->fd < 0)
		return;
	if (flush_held(m, s))
		drained(m, s);
}

static void accept_bytes(struct mgr *m, struct client *c,
			 struct input_sink *s, const uint8_t *p, size_t len)
{
	if (s->fd < 0 || s->eof)
		return;		/* nowhere to go: dropped, as a closed pipe */
	s->held = malloc(len ? len : 1);
	if (!s->held) {
		logmsg("job %s: input: out of memory; its input ends", s->job->id);
		return sink_close(m, s);
	}
	memcpy(s->held, p, len);
	s->off = 0;
	s->len = len;
	if (flush_held(m, s))
		return;
	/* The job is not reading: hold the rest, and the client. */
	c->in_held = true;
	watch_writable(m, s, true);
}

static void winsize(struct input_sink *s, const struct wire_msg *msg)
{
	struct winsize ws = {
		.ws_row = (unsigned short)wire_u32(msg, F_ROWS, 0),
		.ws_col = (unsigned short)wire_u32(msg, F_COLS, 0),
	};

	/* The kernel sends the job's foreground group SIGWINCH. */
	if (s->tty && s->fd >= 0 && ioctl(s->fd, TIOCSWINSZ, &ws) < 0)
		logmsg("job %s: window size: %m", s->job->id);
}

void input_message(struct mgr *m, struct client *c, const struct wire_msg *msg)
{
	struct job *j = c->in_job;
	const uint8_t *p;
	size_t len = 0;

	if (!j) {
		/* The job has ended (or its start failed) while this was on
		 * its way: dropped.  A connection that never ran one has no
		 * business sending it. */
		if (!c->input) {
			reply_error(c, EPROTO, STAGE_NONE,
				    "%s: this connection ran no job with -i or -t",
				    msg->spec->name);
			c->closing = true;
		}
		return;
	}
	if (msg->type == C_WINSIZE)
		return winsize(&j->in, msg);
	p = wire_bytes(msg, F_DATA, &len);
	if (len)
		accept_bytes(m, c, &j->in, p, len);
	if (wire_u32(msg, F_EOF, 0) && !j->in.eof) {
		j->in.eof = true;
		if (!j->in.held && j->in.fd >= 0)
			drained(m, &j->in);
	}
}

int input_attach(struct mgr *m, struct job *j, struct client *src, int fd,
		 bool tty, struct cerr *e)
{
	struct input_sink *s = &j->in;

	s->ev.type = EV_INPUT;
	s->job = j;
	s->fd = -1;
	s->tty = tty;
	/* One job's input per connection: a second -i RUN on it ends the
	 * first one's input. */
	if (src && src->in_job && src->in_job != j)
		input_client_gone(m, src);
	s->src = src;
	if (src) {
		src->in_job = j;
		src->input = true;
	}
	if (fd >= 0)
		return input_set_fd(m, j, fd, e);
	return 0;
}

int input_set_fd(struct mgr *m, struct job *j, int fd, struct cerr *e)
{
	struct input_sink *s = &j->in;

	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		close(fd);
		return cerr_sys(e, "job input");
	}
	s->fd = fd;
	/* Nobody is there to type: the job reads EOF at once. */
	if (!s->src) {
		s->eof = true;
		drained(m, s);
	}
	return 0;
}

void input_close(struct mgr *m, struct job *j)
{
	struct input_sink *s = &j->in;

	if (s->job != j)
		return;		/* never attached */
	sink_close(m, s);
	if (s->src)
		s->src->in_job = NULL;
	s->src = NULL;
}

void input_client_gone(struct mgr *m, struct client *c)
{
	struct job *j = c->in_job;

	c->in_job = NULL;
	c->in_held = false;
	if (!j)
		return;
	j->in.src = NULL;
	/* A pipe's EOF; for a pty, our dup of the master goes, and with
	 * the other one (job_client_gone) the terminal hangs up. */
	sink_close(m, &j->in);
}

/* --- a reload (resume.c, docs/restart.md) --------------------------- */

uint32_t input_record_flags(const struct job *j)
{
	const struct input_sink *s = &j->in;

	if (s->job != j)
		return 0;	/* never attached */
	return (s->tty ? RF_TTY : 0) | (s->eof ? RF_IN_EOF : 0) |
	       (s->src ? RF_IN_TIED : 0);
}

/* The tie as it was, without its connection yet: nothing is written
 * (an EOF that was due is done already; held bytes wait for the
 * connection to be tied again). */
int input_resume(struct mgr *m, struct job *j, int fd, uint32_t flags,
		 const uint8_t *held, size_t len, struct cerr *e)
{
	struct input_sink *s = &j->in;

	(void)m;
	s->ev.type = EV_INPUT;
	s->job = j;
	s->fd = -1;
	s->tty = flags & RF_TTY;
	s->eof = flags & RF_IN_EOF;
	s->awaiting = flags & RF_IN_TIED;
	if (fd >= 0 && fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		close(fd);
		return cerr_sys(e, "job input");
	}
	s->fd = fd;
	if (len && fd >= 0) {
		s->held = malloc(len);
		if (!s->held)
			return cerr_sys(e, "job input");
		memcpy(s->held, held, len);
		s->len = len;
	}
	return 0;
}

void input_retie(struct mgr *m, struct client *c, struct job *j)
{
	struct input_sink *s = &j->in;

	c->input = true;
	if (s->job != j || !s->awaiting || s->src)
		return;
	s->awaiting = false;
	s->src = c;
	c->in_job = j;
	/* The held bytes go first; the connection waits for them. */
	if (s->held) {
		c->in_held = true;
		watch_writable(m, s, true);
	}
}

/* A tie whose connection did not come back ends as at its close. */
void input_orphans(struct mgr *m)
{
	for (struct job *j = m->active; j; j = j->next) {
		if (j->in.job != j || !j->in.awaiting)
			continue;
		j->in.awaiting = false;
		sink_close(m, &j->in);
		job_tty_hangup(m, j);
	}
}
