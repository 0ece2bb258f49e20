/* A job's log file: LOG_DATA records (the client link's own framing) in
 * state_dir/logs/<id>.log, written by one pwrite per record so followers
 * only ever see whole ones, and capped at log_max_bytes of output. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/falloc.h>
#include <unistd.h>

#include "job.h"
#include "le.h"
#include "proto.h"

static struct logf *logf_new(int fd, uint64_t size, bool done, const char *id)
{
	struct logf *l = calloc(1, sizeof *l);

	if (!l)
		return NULL;
	l->refs = 1;
	l->fd = fd;
	l->size = size;
	l->done = done;
	snprintf(l->job_id, sizeof l->job_id, "%s", id);
	return l;
}

static void log_path(struct mgr *m, const char *id, char path[PATH_MAX])
{
	snprintf(path, PATH_MAX, "%s/logs/%s.log", m->conf.state_dir, id);
}

struct logf *logf_pending(const char *id)
{
	return logf_new(-1, 0, false, id);
}

/* The file is made with the job's first record, not here: a job that
 * writes nothing (most short ones) costs no inode, whose allocation was
 * the largest part of corrald's work per `true` (docs/bench.md).  That
 * the directory would take one is checked now, so that a start still
 * fails at once, at stage manager, when it cannot; a creation that fails
 * later (no space, no inode) is a log write that fails: the output is
 * dropped and counted, as on a full disk. */
struct logf *logf_create(struct mgr *m, const char *id, struct logf *reuse,
			 struct cerr *e)
{
	char dir[PATH_MAX];
	struct logf *l;

	if (reuse && (reuse->fd >= 0 || reuse->create))
		return reuse;
	snprintf(dir, sizeof dir, "%s/logs", m->conf.state_dir);
	if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) < 0) {
		cerr_sys(e, "create log %s/%s.log", dir, id);
		return NULL;
	}
	l = reuse ? reuse : logf_new(-1, 0, false, id);
	if (!l) {
		cerr_sys(e, "log");
		return NULL;
	}
	l->create = true;
	return l;
}

/* The live log's file, made by its first record: 0, or -1 with errno. */
static int log_file(struct mgr *m, struct logf *l)
{
	char path[PATH_MAX];

	if (l->fd >= 0)
		return 0;
	if (!l->create) {
		errno = EBADF;
		return -1;
	}
	log_path(m, l->job_id, path);
	l->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		     0640);
	return l->fd < 0 ? -1 : 0;
}

/* Bytes before a LOG_DATA record's data: the header, then the stream
 * (u32), time (u64) and data fields, in the order log_record() writes
 * them: field headers at 12, 24 and 40, values at 20, 32 and 48. */
#define REC_DATA_OFF (WIRE_HDR_LEN + 3 * WIRE_FIELD_HDR_LEN + 4 + 8)

int logf_scan(int fd, struct log_scan *ls)
{
	uint8_t b[REC_DATA_OFF];
	struct stat st;
	uint64_t off = 0;

	memset(ls, 0, sizeof *ls);
	if (fstat(fd, &st) < 0)
		return -1;
	while (off < (uint64_t)st.st_size) {
		uint32_t blen;
		uint16_t type;
		struct cerr e;

		if (pread(fd, b, sizeof b, (off_t)off) != (ssize_t)sizeof b ||
		    wire_check_header(&proto_client_rep, b, &type, &blen, &e) < 0 ||
		    type != C_LOG_DATA || blen < REC_DATA_OFF - WIRE_HDR_LEN ||
		    off + WIRE_HDR_LEN + blen > (uint64_t)st.st_size ||
		    le16_get(b + WIRE_HDR_LEN) != F_STREAM ||
		    le16_get(b + WIRE_HDR_LEN + 12) != F_TIME_MS)
			break;
		if (le16_get(b + WIRE_HDR_LEN + 28) == F_SKIP_TO && !ls->gap_rec) {
			/* the gap note: the log goes on at its skip_to */
			uint8_t v[8];
			uint64_t to;
			if (pread(fd, v, sizeof v, (off_t)(off + REC_DATA_OFF)) != (ssize_t)sizeof v)
				break;
			to = le64_get(v);
			if (to < off + WIRE_HDR_LEN + blen || to > (uint64_t)st.st_size)
				break;
			ls->gap_rec = off;
			ls->gap_end = to;
			ls->punched = to - (off + WIRE_HDR_LEN + blen);
			off = to;
			continue;
		}
		if (le16_get(b + WIRE_HDR_LEN + 28) != F_DATA)
			break;
		if (le32_get(b + WIRE_HDR_LEN + 8) != STREAM_META)
			ls->output += blen - (REC_DATA_OFF - WIRE_HDR_LEN);
		ls->last_time_ms = le64_get(b + WIRE_HDR_LEN + 20);
		off += WIRE_HDR_LEN + blen;
	}
	ls->whole = off;
	ls->torn = (uint64_t)st.st_size - off;
	return 0;
}

struct logf *logf_open_finished(struct mgr *m, const char *id,
				struct cerr *e)
{
	char path[PATH_MAX];
	struct log_scan ls = { 0 };
	struct logf *l;
	int fd;

	log_path(m, id, path);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno != ENOENT) {
		cerr_sys(e, "open log of job %s", id);
		return NULL;
	}
	/* Logs are not fsynced: after a power loss one may end in part of a
	 * record.  Readers get the whole records and a note. */
	if (fd >= 0 && logf_scan(fd, &ls) < 0) {
		cerr_sys(e, "log of job %s", id);
		close(fd);
		return NULL;
	}
	l = logf_new(fd, ls.whole, true, id);
	if (!l) {
		cerr_sys(e, "log of job %s", id);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	l->torn = ls.torn;
	l->gap_rec = ls.gap_rec;
	l->gap_end = ls.gap_end;
	return l;
}

struct logf *logf_reopen(struct mgr *m, const char *id, struct cerr *e)
{
	char path[PATH_MAX];
	struct log_scan ls;
	struct logf *l;
	int fd;

	log_path(m, id, path);
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return logf_create(m, id, NULL, e);	/* nothing written yet */
	if (fd < 0 || logf_scan(fd, &ls) < 0 ||
	    (ls.torn && ftruncate(fd, (off_t)ls.whole) < 0)) {
		cerr_sys(e, "log of job %s", id);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	l = logf_new(fd, ls.whole, false, id);
	if (!l) {
		cerr_sys(e, "log of job %s", id);
		close(fd);
		return NULL;
	}
	l->gap_rec = ls.gap_rec;
	l->gap_end = ls.gap_end;
	l->punched = ls.punched;
	l->output = ls.output;
	l->stored = ls.output;
	return l;
}

int logf_repair(struct mgr *m, const char *id, struct log_scan *ls)
{
	char path[PATH_MAX];
	int fd, r;

	memset(ls, 0, sizeof *ls);
	log_path(m, id, path);
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	r = logf_scan(fd, ls);
	if (r == 0 && ls->torn && ftruncate(fd, (off_t)ls->whole) < 0)
		r = -1;
	close(fd);
	return r;
}

void logf_put(struct logf *l)
{
	if (!l || --l->refs > 0)
		return;
	if (l->fd >= 0)
		close(l->fd);
	obuf_put(l->final);
	free(l);
}

/* Past the gap note, a record start now and then: where the gap may end.
 * Spacing grows with the cap, so the ring covers any tail. */
static void mark(struct logf *l, uint64_t off)
{
	struct log_mark *last = l->nmarks ?
		&l->marks[(l->mark_first + l->nmarks - 1) % LOG_MARKS] : NULL;
	uint64_t every = l->mark_every ? l->mark_every : 65536;

	if (!l->gap_rec || off <= l->gap_rec || (last && off - last->off < every))
		return;
	if (l->nmarks == LOG_MARKS) {
		l->mark_first = (l->mark_first + 1) % LOG_MARKS;
		l->nmarks--;
	}
	l->marks[(l->mark_first + l->nmarks++) % LOG_MARKS] =
		(struct log_mark){ off, l->output };
}

/* One record, by one pwrite: followers only ever see whole records,
 * because l->size moves after the write.  -1 with errno if the write
 * failed (the partial record is cut off again). */
static int log_record(struct mgr *m, struct logf *l, uint32_t stream,
		      const void *data, size_t n)
{
	struct wire_out o;
	struct cerr e;
	ssize_t w;
	int r = -1, err = EIO;

	wire_out_init(&o, &proto_client_rep, C_LOG_DATA);
	wire_put_u32(&o, F_STREAM, stream);
	wire_put_u64(&o, F_TIME_MS, (uint64_t)now_ms());
	wire_put_bytes(&o, F_DATA, data, n);
	if (wire_out_finish(&o, &e) < 0) {
		logmsg("job %s: log record: %s", l->job_id, e.msg);
		goto out;
	}
	if (log_file(m, l) < 0) {
		err = errno;
		goto out;
	}
	w = pwrite(l->fd, o.buf, o.len, (off_t)l->size);
	if (w != (ssize_t)o.len) {
		err = w < 0 ? errno : ENOSPC;
		if (ftruncate(l->fd, (off_t)l->size) < 0)
			logmsg("job %s: log truncate: %m", l->job_id);
		goto out;
	}
	mark(l, l->size);
	l->size += o.len;
	if (stream != STREAM_META)
		l->output += n;
	logf_wake(m, l);
	r = 0;
out:
	wire_out_free(&o);
	if (r < 0)
		errno = err;
	return r;
}

static void note(struct mgr *m, struct logf *l, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void note(struct mgr *m, struct logf *l, const char *fmt, ...)
{
	char text[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (log_record(m, l, STREAM_META, text, strlen(text)) < 0)
		logmsg("job %s: note not written: %s", l->job_id, text);
}

/* Output that cannot be written (a full disk) is dropped and counted,
 * with one line in corrald's log per job and episode, a note in the job's
 * log where one still fits (cutting off the failed record freed its
 * space), and another when writing works again.  A job is never slowed
 * or stopped by its log. */
static void store_output(struct mgr *m, struct logf *l, uint32_t stream,
			 const uint8_t *data, size_t n)
{
	if (log_record(m, l, stream, data, n) == 0) {
		if (l->failing) {
			l->failing = false;
			note(m, l, "the log is written again; %llu bytes of output were dropped while it could not be",
			     (unsigned long long)l->failed_bytes);
			logmsg("job %s: its log is written again (%llu bytes dropped)",
			       l->job_id, (unsigned long long)l->failed_bytes);
			l->failed_bytes = 0;
		}
		l->stored += n;
		return;
	}
	l->dropped += n;
	l->failed_bytes += n;
	if (l->failing)
		return;
	l->failing = true;
	logmsg("job %s: cannot write its log (%m); its output is dropped until it can",
	       l->job_id);
	note(m, l, "output dropped: the log cannot be written (%s)", strerror(errno));
}

#define GAP_TEXT_LEN 120

/* The gap note, always the same length so it can be rewritten in place
 * as the gap grows. */
static int gap_note(struct logf *l, struct wire_out *o, struct cerr *e)
{
	char text[GAP_TEXT_LEN + 1];
	int n;

	n = snprintf(text, sizeof text,
		     "%llu bytes of output left out here (log_max_bytes keeps the first and the last part)",
		     (unsigned long long)l->left_out);
	if (n < 0 || n > GAP_TEXT_LEN)
		n = 0;
	memset(text + n, ' ', (size_t)(GAP_TEXT_LEN - n));
	wire_out_init(o, &proto_client_rep, C_LOG_DATA);
	wire_put_u32(o, F_STREAM, STREAM_META);
	wire_put_u64(o, F_TIME_MS, (uint64_t)now_ms());
	wire_put_u64(o, F_SKIP_TO, l->gap_end);
	wire_put_bytes(o, F_DATA, text, GAP_TEXT_LEN);
	return wire_out_finish(o, e);
}

/* Write (at the end) or rewrite (in place) the gap note. */
static int put_gap_note(struct mgr *m, struct logf *l)
{
	struct wire_out o;
	struct cerr e;
	uint64_t at = l->gap_rec ? l->gap_rec : l->size;
	int r = -1;

	if (!l->gap_rec)
		l->gap_end = l->size + gap_note_len();
	if (gap_note(l, &o, &e) < 0)
		logmsg("job %s: gap note: %s", l->job_id, e.msg);
	else if (log_file(m, l) == 0 &&
		 pwrite(l->fd, o.buf, o.len, (off_t)at) == (ssize_t)o.len)
		r = 0;
	wire_out_free(&o);
	if (r == 0 && !l->gap_rec) {
		l->gap_rec = at;
		l->size += gap_note_len();
		logf_wake(m, l);
	}
	return r;
}

size_t gap_note_len(void)
{
	return WIRE_HDR_LEN + 2 * WIRE_FIELD_HDR_LEN + 4 + 8 +
	       WIRE_FIELD_HDR_LEN + 8 + WIRE_FIELD_HDR_LEN + GAP_TEXT_LEN;
}

/* Move the gap's end on, so the tail keeps about tail bytes of output:
 * punch the records before the new end out of the file and tell the note.
 * Never past a follower still reading there; one that lags more than two
 * caps behind is let go (its connection closed), so no reader can make a
 * log grow without bound. */
static void advance_gap(struct mgr *m, struct logf *l, uint64_t tail)
{
	uint64_t want = l->output > tail ? l->output - tail : 0, end = 0, out = 0;
	struct client *c, *next;
	unsigned k, drop = 0;

	for (c = l->followers; c; c = next) {
		next = c->f.next;
		if (c->f.off >= l->gap_end && l->size - c->f.off > 2 * m->conf.log_max_bytes) {
			logmsg("job %s: a follower (uid %u) fell %llu bytes behind; letting it go",
			       l->job_id, c->who.uid, (unsigned long long)(l->size - c->f.off));
			/* corrald's doing, not the client's: no hang-up. */
			c->hup_id[0] = '\0';
			client_close(m, c);
		}
	}
	for (k = 0; k < l->nmarks; k++) {
		const struct log_mark *mk = &l->marks[(l->mark_first + k) % LOG_MARKS];
		bool pinned = false;
		if (mk->output > want)
			break;
		for (c = l->followers; c && !pinned; c = c->f.next)
			pinned = c->f.off >= l->gap_end && c->f.off < mk->off;
		if (pinned)
			break;
		end = mk->off;
		out = mk->output;
		drop = k + 1;
	}
	if (!end || end <= l->gap_end)
		return;
	/* From the note's end, not the old gap's: blocks a punch left half
	 * in use (zeroed, still allocated) are freed by the next one. */
	if (fallocate(l->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(l->gap_rec + gap_note_len()),
		      (off_t)(end - l->gap_rec - gap_note_len())) < 0) {
		logmsg("job %s: cannot punch its log (%m); output from here on is dropped",
		       l->job_id);
		l->cap_drop = true;
		return;
	}
	l->punched += end - l->gap_end;
	l->left_out += out - l->gap_output;
	l->stored -= out - l->gap_output;
	l->dropped += out - l->gap_output;
	l->gap_output = out;
	l->gap_end = end;
	l->mark_first = (l->mark_first + drop) % LOG_MARKS;
	l->nmarks -= drop;
	if (put_gap_note(m, l) < 0)
		logmsg("job %s: gap note not rewritten: %m", l->job_id);
}

void logf_output(struct mgr *m, struct logf *l, uint32_t stream,
		 const uint8_t *data, size_t n)
{
	uint64_t cap = m->conf.log_max_bytes, head = cap / 2, tail = cap - head;

	if (l->cap_drop) {
		l->dropped += n;
		return;
	}
	if (!l->gap_rec && l->output + n > head) {
		/* the head is full: the rest of this chunk goes after the note */
		uint64_t keep = head > l->output ? head - l->output : 0;
		if (keep)
			store_output(m, l, stream, data, keep);
		data += keep;
		n -= keep;
		l->mark_every = tail / (LOG_MARKS / 2) > 65536 ? tail / (LOG_MARKS / 2) : 65536;
		if (put_gap_note(m, l) < 0) {
			logmsg("job %s: cannot write the gap note (%m); output past log_max_bytes / 2 is dropped",
			       l->job_id);
			l->cap_drop = true;
			l->dropped += n;
			return;
		}
		l->gap_output = l->output;
	}
	if (n)
		store_output(m, l, stream, data, n);
	if (l->gap_rec && l->output - l->gap_output > tail + tail / 4)
		advance_gap(m, l, tail);
}

int logf_remove(struct mgr *m, const char *id, struct cerr *e)
{
	char path[PATH_MAX];

	log_path(m, id, path);
	if (unlink(path) < 0 && errno != ENOENT)
		return cerr_sys(e, "remove the log of job %s", id);
	return 0;
}
