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

struct logf *logf_create(struct mgr *m, const char *id, struct cerr *e)
{
	char path[PATH_MAX];
	struct logf *l;
	int fd;

	log_path(m, id, path);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0640);
	if (fd < 0) {
		cerr_sys(e, "create log %s", path);
		return NULL;
	}
	l = logf_new(fd, 0, false, id);
	if (!l) {
		cerr_sys(e, "log");
		close(fd);
	}
	return l;
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
		    le16_get(b + WIRE_HDR_LEN + 12) != F_TIME_MS ||
		    le16_get(b + WIRE_HDR_LEN + 28) != F_DATA)
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
	w = pwrite(l->fd, o.buf, o.len, (off_t)l->size);
	if (w != (ssize_t)o.len) {
		err = w < 0 ? errno : ENOSPC;
		if (ftruncate(l->fd, (off_t)l->size) < 0)
			logmsg("job %s: log truncate: %m", l->job_id);
		goto out;
	}
	l->size += o.len;
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

void logf_output(struct mgr *m, struct logf *l, uint32_t stream,
		 const uint8_t *data, size_t n)
{
	uint64_t cap = m->conf.log_max_bytes, keep;

	keep = l->stored >= cap ? 0 : cap - l->stored;
	if (keep > n)
		keep = n;
	if (keep)
		store_output(m, l, stream, data, keep);
	if (keep == n)
		return;
	l->dropped += n - keep;
	if (l->truncated)
		return;
	l->truncated = true;
	note(m, l, "output truncated after %llu bytes (log_max_bytes); the rest is dropped",
	     (unsigned long long)cap);
}
