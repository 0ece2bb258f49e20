/* bench-fanout: many followers of one job, in one process.
 *
 *   bench-fanout gen BYTES GOFILE
 *       (the job) wait until GOFILE exists, then write BYTES of a pattern
 *       to stdout: byte o is byte o%8 of the little-endian u64 o/8, so a
 *       reader can check every byte's value and position on its own.
 *   bench-fanout follow -n N -p CORRALD_PID -g GOFILE JOB BYTES
 *       open N connections, send FOLLOW (all streams, follow=1) on each,
 *       read /proc/PID/stat, create GOFILE, then serve all connections
 *       with one epoll until every follower has its final record.
 *       Prints "key value" lines (see bench.sh). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cleanup.h"
#include "floor.h"
#include "libcorral.h"

#define MAX_FOLLOWERS 100000
#define READ_BUF (256 * 1024)
#define STALL_SECS 120

struct follower {
	int fd;
	struct wire_reader rd;
	uint64_t off;		/* stdout bytes received and checked */
	bool done, bad;
};

static void die(const char *what, const struct cerr *e)
{
	fprintf(stderr, "bench-fanout: %s: %s\n", what, e->msg);
	exit(1);
}

static uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (*end || v == 0 || v > (1ULL << 40)) {
		fprintf(stderr, "bench-fanout: bad byte count '%s'\n", s);
		exit(2);
	}
	return v;
}

static uint8_t pattern_byte(uint64_t o)
{
	return (uint8_t)((o / 8) >> ((o % 8) * 8));
}

static void fill_pattern(uint8_t *p, uint64_t o, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pattern_byte(o + i);
}

static int gen(uint64_t bytes, const char *go)
{
	static uint8_t buf[1 << 20];
	uint64_t o = 0;

	for (int i = 0; access(go, F_OK) != 0; i++) {
		if (i > 600 * 200)
			return 1;
		usleep(5000);
	}
	while (o < bytes) {
		size_t n = bytes - o < sizeof buf ? (size_t)(bytes - o) : sizeof buf;
		ssize_t w;

		fill_pattern(buf, o, n);
		for (size_t done = 0; done < n; done += (size_t)w) {
			w = write(1, buf + done, n - done);
			if (w < 0)
				return 1;
		}
		o += n;
	}
	return 0;
}

/* Check data against the pattern at stream offset o, a word at a time. */
static bool check_pattern(uint64_t o, const uint8_t *p, size_t len)
{
	size_t i = 0;

	for (; i < len && (o + i) % 8; i++)
		if (p[i] != pattern_byte(o + i))
			return false;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		if (le64toh(w) != (o + i) / 8)
			return false;
	}
	for (; i < len; i++)
		if (p[i] != pattern_byte(o + i))
			return false;
	return true;
}

static long long proc_cpu_ticks(int pid)
{
	char path[64], buf[2048], *p;
	unsigned long long ut, st;
	_cleanup_close_ int fd = -1;
	ssize_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || (n = read(fd, buf, sizeof buf - 1)) <= 0)
		return -1;
	buf[n] = 0;
	p = strrchr(buf, ')');	/* comm may hold spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

static long long proc_status_kib(int pid, const char *key)
{
	char path[64], line[256];
	_cleanup_fclose_ FILE *f = NULL;
	long long v = -1;

	snprintf(path, sizeof path, "/proc/%d/status", pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':')
			v = atoll(line + strlen(key) + 1);
	return v;
}

static void open_follower(struct follower *f, int ep, uint32_t idx, const char *job)
{
	struct corral_conn c;
	struct wire_out o;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = idx };
	struct cerr e = { 0 };

	if (corral_connect(&c, corral_socket_path(NULL), &e) < 0)
		die("connect", &e);
	f->fd = c.fd;
	wire_out_init(&o, &proto_client_req, C_FOLLOW);
	wire_put_str(&o, F_JOB_REF, job);
	wire_put_u32(&o, F_FOLLOW, 1);
	if (wire_out_finish(&o, &e) < 0 || wire_send_stream(f->fd, &o, &e) < 0)
		die("sending FOLLOW", &e);
	wire_out_free(&o);
	if (fcntl(f->fd, F_SETFL, O_NONBLOCK) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, f->fd, &ev) < 0) {
		perror("bench-fanout: epoll");
		exit(1);
	}
}

/* One decoded message for follower f; false on anything unexpected. */
static bool on_msg(struct follower *f, struct wire_msg *m, uint64_t bytes)
{
	if (m->type == C_LOG_DATA) {
		size_t len;
		const uint8_t *d = wire_bytes(m, F_DATA, &len);

		if (wire_u32(m, F_STREAM, 0) != STREAM_STDOUT)
			return true;	/* notes and stderr: not ours to count */
		if (!d || f->off + len > bytes || !check_pattern(f->off, d, len))
			return false;
		f->off += len;
		return true;
	}
	if (m->type == C_JOB) {
		const char *st = wire_str(m, F_STATE);

		f->done = true;
		return st && strcmp(st, "exited") == 0 && f->off == bytes &&
		       wire_u64(m, F_LOG_BYTES, 0) == bytes;
	}
	if (m->type == C_ERROR)
		fprintf(stderr, "bench-fanout: corrald: %s\n", wire_str(m, F_MESSAGE));
	return false;
}

/* Drain one readable connection; returns bytes read. */
static size_t serve(struct follower *f, uint8_t *buf, uint64_t bytes)
{
	size_t total = 0;

	for (;;) {
		ssize_t n = read(f->fd, buf, READ_BUF);
		size_t pos = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return total;
		if (n <= 0) {
			f->bad = f->bad || !f->done;
			f->done = true;
			return total;
		}
		total += (size_t)n;
		while (pos < (size_t)n && !f->bad) {
			struct wire_msg m;
			struct cerr e = { 0 };
			size_t used;
			int rc = wire_reader_feed(&f->rd, &proto_client_rep, buf + pos,
						  (size_t)n - pos, &used, &m, &e);
			pos += used;
			if (rc == WIRE_ERR) {
				fprintf(stderr, "bench-fanout: %s\n", e.msg);
				f->bad = true;
			} else if (rc == WIRE_READY) {
				f->bad = !on_msg(f, &m, bytes);
				wire_msg_free(&m);
			}
		}
		if (f->bad || f->done) {
			f->done = true;
			return total;
		}
	}
}

static int follow(int argc, char **argv)
{
	const char *go = NULL;
	int n = 0, pid = 0, opt, ep, ndone = 0, nbad = 0;
	long long cpu0, cpu1, t0, last;
	uint64_t bytes, recv_total = 0;
	struct follower *fs;
	uint8_t *buf;

	while ((opt = getopt(argc, argv, "n:p:g:")) != -1) {
		switch (opt) {
		case 'n': n = atoi(optarg); break;
		case 'p': pid = atoi(optarg); break;
		case 'g': go = optarg; break;
		default: return 2;
		}
	}
	if (optind != argc - 2 || n < 1 || n > MAX_FOLLOWERS || pid <= 0 || !go) {
		fprintf(stderr, "usage: bench-fanout follow -n N -p PID -g GOFILE JOB BYTES\n");
		return 2;
	}
	bytes = parse_size(argv[optind + 1]);
	struct rlimit rl = { .rlim_cur = (rlim_t)n + 64, .rlim_max = (rlim_t)n + 64 };
	struct rlimit old;
	if (getrlimit(RLIMIT_NOFILE, &old) == 0 && old.rlim_max > rl.rlim_max)
		rl.rlim_max = old.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		perror("bench-fanout: setrlimit RLIMIT_NOFILE");
		return 1;
	}
	fs = calloc((size_t)n, sizeof *fs);
	buf = malloc(READ_BUF);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!fs || !buf || ep < 0) {
		perror("bench-fanout");
		return 1;
	}
	t0 = now_ns();
	for (int i = 0; i < n; i++)
		open_follower(&fs[i], ep, (uint32_t)i, argv[optind]);
	printf("connect_s %.3f\n", (now_ns() - t0) / 1e9);
	cpu0 = proc_cpu_ticks(pid);
	close(open(go, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	t0 = last = now_ns();
	while (ndone < n) {
		struct epoll_event ev[256];
		int k = epoll_wait(ep, ev, 256, 1000);

		if (k < 0 && errno != EINTR) {
			perror("bench-fanout: epoll_wait");
			return 1;
		}
		for (int i = 0; i < k; i++) {
			struct follower *f = &fs[ev[i].data.u32];
			if (f->done)
				continue;
			recv_total += serve(f, buf, bytes);
			last = now_ns();
			if (f->done) {
				ndone++;
				nbad += f->bad;
				epoll_ctl(ep, EPOLL_CTL_DEL, f->fd, NULL);
				close(f->fd);
				wire_reader_reset(&f->rd);
			}
		}
		if (now_ns() - last > STALL_SECS * 1000000000LL) {
			fprintf(stderr, "bench-fanout: no progress for %d s, %d of %d done\n",
				STALL_SECS, ndone, n);
			break;
		}
	}
	cpu1 = proc_cpu_ticks(pid);
	printf("elapsed_s %.3f\n", (now_ns() - t0) / 1e9);
	printf("followers %d\nok %d\nbad %d\n", n, ndone - nbad, nbad + (n - ndone));
	printf("bytes_each %llu\nwire_bytes %llu\n", (unsigned long long)bytes,
	       (unsigned long long)recv_total);
	printf("corrald_cpu_s %.3f\n", (cpu1 - cpu0) / (double)sysconf(_SC_CLK_TCK));
	printf("corrald_hwm_kib %lld\n", proc_status_kib(pid, "VmHWM"));
	return nbad == 0 && ndone == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "gen") == 0)
		return gen(parse_size(argv[2]), argv[3]);
	if (argc > 1 && strcmp(argv[1], "follow") == 0)
		return follow(argc - 1, argv + 1);
	fprintf(stderr, "usage: bench-fanout gen BYTES GOFILE | follow ...\n");
	return 2;
}
