/* A job's log file: LOG_DATA records (the client link's own framing) in
 * state_dir/logs/<id>.log, written by one pwrite per record so followers
 * only ever see whole ones, and capped at log_max_bytes of output. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job.h"
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

struct logf *logf_open_finished(struct mgr *m, const char *id,
				struct cerr *e)
{
	char path[PATH_MAX];
	struct stat st;
	struct logf *l;
	int fd;

	log_path(m, id, path);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno != ENOENT) {
		cerr_sys(e, "open log of job %s", id);
		return NULL;
	}
	if (fd >= 0 && fstat(fd, &st) < 0) {
		cerr_sys(e, "log of job %s", id);
		close(fd);
		return NULL;
	}
	l = logf_new(fd, fd >= 0 ? (uint64_t)st.st_size : 0, true, id);
	if (!l) {
		cerr_sys(e, "log of job %s", id);
		if (fd >= 0)
			close(fd);
	}
	return l;
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

static void log_record(struct mgr *m, struct logf *l, uint32_t stream,
		       const void *data, size_t n)
{
	struct wire_out o;
	struct cerr e;
	ssize_t w;

	wire_out_init(&o, &proto_client_rep, C_LOG_DATA);
	wire_put_u32(&o, F_STREAM, stream);
	wire_put_u64(&o, F_TIME_MS, (uint64_t)now_ms());
	wire_put_bytes(&o, F_DATA, data, n);
	if (wire_out_finish(&o, &e) < 0) {
		logmsg("job %s: log record: %s", l->job_id, e.msg);
		goto out;
	}
	/* One pwrite per record: followers only ever see whole records,
	 * because l->size moves after the write. */
	w = pwrite(l->fd, o.buf, o.len, (off_t)l->size);
	if (w != (ssize_t)o.len) {
		if (w >= 0 || errno != ENOSPC)
			logmsg("job %s: log write failed: %s", l->job_id,
			       w < 0 ? strerror(errno) : "short write");
		if (ftruncate(l->fd, (off_t)l->size) < 0)
			logmsg("job %s: log truncate: %m", l->job_id);
		if (stream != STREAM_META)
			l->dropped += n, l->stored -= n;
		goto out;
	}
	l->size += o.len;
	logf_wake(m, l);
out:
	wire_out_free(&o);
}

void logf_output(struct mgr *m, struct logf *l, uint32_t stream,
		 const uint8_t *data, size_t n)
{
	uint64_t cap = m->conf.log_max_bytes, keep;
	char note[128];

	keep = l->stored >= cap ? 0 : cap - l->stored;
	if (keep > n)
		keep = n;
	if (keep) {
		l->stored += keep;
		log_record(m, l, stream, data, keep);
	}
	if (keep == n)
		return;
	l->dropped += n - keep;
	if (l->truncated)
		return;
	l->truncated = true;
	snprintf(note, sizeof note,
		 "output truncated after %llu bytes (log_max_bytes); the rest is dropped",
		 (unsigned long long)cap);
	log_record(m, l, STREAM_META, note, strlen(note));
}
