/* Followers are served from the job's log file at their own offset with
 * sendfile(2): no per-follower buffer, and a follower whose socket is
 * full waits for EPOLLOUT without slowing anyone else. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job.h"
#include "le.h"
#include "proto.h"

#define SEND_CHUNK (1u << 20)
#define ROUNDS_PER_PUSH 64	/* then yield; EPOLLOUT brings us back */
#define REC_PEEK (WIRE_HDR_LEN + WIRE_FIELD_HDR_LEN + 4)

static void list_add(struct logf *l, struct client *c)
{
	c->f.prev = NULL;
	c->f.next = l->followers;
	if (l->followers)
		l->followers->f.prev = c;
	l->followers = c;
	c->f.listed = true;
}

static void list_del(struct logf *l, struct client *c)
{
	if (!c->f.listed)
		return;
	if (c->f.prev)
		c->f.prev->f.next = c->f.next;
	else
		l->followers = c->f.next;
	if (c->f.next)
		c->f.next->f.prev = c->f.prev;
	c->f.listed = false;
}

void follow_detach(struct client *c)
{
	if (!c->f.log)
		return;
	list_del(c->f.log, c);
	logf_put(c->f.log);
	c->f.log = NULL;
}

/* New data or the end: push to every follower not waiting on its socket. */
void logf_wake(struct mgr *m, struct logf *l)
{
	struct client *c = l->followers, *next;

	l->refs++;	/* followers may leave while we walk */
	for (; c; c = next) {
		next = c->f.next;
		if (!c->want_out)
			client_kick(m, c);
	}
	logf_put(l);
}

int follow_start(struct mgr *m, struct client *c, const char *id,
		 uint32_t streams, bool live, struct cerr *e)
{
	struct job *j = job_find(m, id);
	struct logf *l;

	if (j) {
		l = j->log;
		l->refs++;
	} else if ((l = queue_log(m, id))) {
		l->refs++;	/* queued: no file yet; the job's when it starts */
	} else if (!(l = logf_open_finished(m, id, e))) {
		return -1;
	}
	memset(&c->f, 0, sizeof c->f);
	c->f.log = l;
	c->f.streams = streams;
	c->f.live = live;
	/* Only the end wanted (corral wait): the log is never read, so a
	 * damaged one cannot keep anyone from an exit status. */
	c->f.end = !streams ? 0 : live ? UINT64_MAX : l->size;
	snprintf(c->f.job_id, sizeof c->f.job_id, "%s", id);
	if (live && !l->done)
		list_add(l, c);
	c->state = SS_FOLLOW;
	return 0;
}

/* At a record boundary: which stream is it, and where does it end?
 * 1 = record (*stream, *end set), 0 = no complete record, -1 = corrupt. */
static int peek_record(struct logf *l, uint64_t off, uint32_t *stream,
		       uint64_t *end, struct cerr *e)
{
	uint8_t b[REC_PEEK];
	uint32_t blen;
	uint16_t type;
	ssize_t n = pread(l->fd, b, sizeof b, (off_t)off);

	if (n < (ssize_t)sizeof b)
		return 0;
	if (wire_check_header(&proto_client_rep, b, &type, &blen, e) < 0 ||
	    type != C_LOG_DATA)
		return cerr_set(e, EBADMSG, "log of job %s is corrupt at offset %llu",
				l->job_id, (unsigned long long)off);
	/* corrald writes the stream field first in every record. */
	if (le16_get(b + WIRE_HDR_LEN) != F_STREAM ||
	    le32_get(b + WIRE_HDR_LEN + 4) != 4)
		return cerr_set(e, EBADMSG, "log of job %s: record at %llu has no leading stream",
				l->job_id, (unsigned long long)off);
	*stream = le32_get(b + WIRE_HDR_LEN + WIRE_FIELD_HDR_LEN);
	*end = off + WIRE_HDR_LEN + blen;
	return 1;
}

/* A log cut inside its last record (a power loss: logs are not fsynced)
 * is shown up to its last whole record, then this note. */
static int torn_note(struct client *c, struct cerr *e)
{
	struct logf *l = c->f.log;
	struct wire_out o;
	char note[160];
	int r;

	if (!l->torn || !(c->f.streams & STREAM_META) || !c->f.end)
		return 0;
	snprintf(note, sizeof note,
		 "the log ends in %llu bytes of an incomplete record (cut off when corrald stopped); they are left out",
		 (unsigned long long)l->torn);
	wire_out_init(&o, &proto_client_rep, C_LOG_DATA);
	wire_put_u32(&o, F_STREAM, STREAM_META);
	wire_put_u64(&o, F_TIME_MS, (uint64_t)now_ms());
	wire_put_bytes(&o, F_DATA, note, strlen(note));
	r = outq_push(&c->q, &o, e);
	wire_out_free(&o);
	return r;
}

/* The final (or current) JOB record after the log. */
static int follow_finish(struct mgr *m, struct client *c, struct cerr *e)
{
	struct logf *l = c->f.log;
	struct wire_out o;
	int r = torn_note(c, e);

	if (r < 0)
		return -1;
	if (c->f.live && l->final) {
		r = outq_push_buf(&c->q, l->final, e);
	} else {
		r = store_job_msg(m->store, c->f.job_id, NULL, &o, e);
		if (r == 0)
			r = outq_push(&c->q, &o, e);
		wire_out_free(&o);
	}
	follow_detach(c);
	c->state = SS_IDLE;
	return r < 0 ? -1 : 1;
}

/* At the gap note: one written ahead, at the head's end, before anything
 * was cut has nothing to say yet and is passed over; past a note, the log
 * goes on at the gap's end (the bytes between were punched out). */
static void skip_note(struct follow *f, const struct logf *l, uint64_t note_end)
{
	if (note_end && f->off == l->gap_rec && l->gap_end == note_end)
		f->off = f->rec_end = note_end;
	if (note_end && f->off == note_end)
		f->off = f->rec_end = l->gap_end;
}

/* Which bytes to send next: 1 = [off, *to) is ready, 0 = nothing yet. */
static int next_range(struct client *c, uint64_t limit, uint64_t *to,
		      struct cerr *e)
{
	struct follow *f = &c->f;
	uint32_t stream = 0;
	uint64_t end = 0;
	int r;

	struct logf *l = f->log;
	uint64_t note_end = l->gap_rec ? l->gap_rec + gap_note_len() : 0;

	skip_note(f, l, note_end);
	if (f->streams == (STREAM_STDOUT | STREAM_STDERR | STREAM_META)) {
		/* Stop at the note, and at its end: both are decisions. */
		uint64_t stop = !note_end ? limit
			: f->off < l->gap_rec ? l->gap_rec
			: f->off < note_end ? note_end : limit;
		*to = stop < limit ? stop : limit;
		return f->off < *to;
	}
	while (f->off >= f->rec_end) {
		skip_note(f, l, note_end);
		if (f->off >= limit)
			return 0;
		r = peek_record(f->log, f->off, &stream, &end, e);
		if (r <= 0)
			return r;
		if (end > limit)
			return 0;
		if (stream & f->streams)
			f->rec_end = end;
		else
			f->off = end;
	}
	*to = f->rec_end;
	return 1;
}

/* A client's offset must be a record's start in this log (or its end),
 * past a gap note's punched-out bytes. */
static int seek_check(struct client *c, struct cerr *e)
{
	struct follow *f = &c->f;
	struct logf *l = f->log;
	uint8_t b[WIRE_HDR_LEN];
	uint32_t blen;
	uint16_t type;

	f->seek = false;
	if (l->gap_rec && f->off > l->gap_rec + gap_note_len() && f->off < l->gap_end)
		f->off = f->rec_end = l->gap_end;
	if (f->off == l->size || (l->fd >= 0 && f->off < l->size &&
	    pread(l->fd, b, sizeof b, (off_t)f->off) == (ssize_t)sizeof b &&
	    wire_check_header(&proto_client_rep, b, &type, &blen, e) == 0 &&
	    type == C_LOG_DATA))
		return 0;
	return cerr_set(e, EINVAL, "offset %llu is not a record of the log of job %s",
			(unsigned long long)f->off, l->job_id);
}

int follow_push(struct mgr *m, struct client *c, struct cerr *e)
{
	struct follow *f = &c->f;
	struct logf *l = f->log;

	if (f->seek && seek_check(c, e) < 0)
		return -1;

	for (int i = 0; i < ROUNDS_PER_PUSH; i++) {
		uint64_t limit = l->size < f->end ? l->size : f->end, to = 0;
		int r = l->fd >= 0 ? next_range(c, limit, &to, e) : 0;
		off_t off = (off_t)f->off;	/* next_range may skip records */
		ssize_t n;

		if (r < 0)
			return -1;
		if (r == 0) {
			if (f->live && !l->done)
				return 0;
			return follow_finish(m, c, e);
		}
		n = sendfile(c->fd, l->fd, &off,
			     to - f->off < SEND_CHUNK ? to - f->off : SEND_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			c->want_out = true;
			return 0;
		}
		if (n <= 0)
			return n < 0 ? cerr_sys(e, "send log") :
				cerr_set(e, EIO, "log of job %s shrank", l->job_id);
		f->off += (uint64_t)n;
	}
	c->want_out = true;	/* more to do: come back when writable */
	return 0;
}
