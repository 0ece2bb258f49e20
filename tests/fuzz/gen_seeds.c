/* Write the fuzzers' wire seed corpora: a few small valid messages of
 * every type of both links, made with the framing library itself.
 *
 *   gen_seeds DIR   writes DIR/fuzz_wire_packet/, DIR/fuzz_wire_stream/
 *                   and DIR/fuzz_helper_request/ (helper link only) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto.h"
#include "wire.h"

static const char JOB[] = "0123abcd-4567-89ef-0123-456789abcdef";

static void put_limits(struct wire_out *o)
{
	struct io_limit io = { 8, 0, 1 << 20, 0, 0, 100 };
	uint8_t b[IO_LIMIT_LEN];

	wire_put_str(o, F_ARGV, "/bin/sh");
	wire_put_str(o, F_ARGV, "-c");
	wire_put_str(o, F_ARGV, "echo hi");
	wire_put_str(o, F_ENV, "PATH=/usr/bin:/bin");
	wire_put_str(o, F_CWD, "/tmp");
	wire_put_u64(o, F_MEMORY_MAX, 64 << 20);
	wire_put_u64(o, F_CPU_QUOTA_USEC, 50000);
	wire_put_u64(o, F_PIDS_MAX, 64);
	wire_put_str(o, F_CPUSET_CPUS, "0-1");
	io_limit_encode(&io, b);
	wire_put_bytes(o, F_IO_LIMIT, b, sizeof b);
	wire_put_u32(o, F_NS_OFF, NS_NET);
}

/* Fill o with a typical message of its type. */
static void fill(struct wire_out *o, const struct wire_proto *p, uint16_t t)
{
	bool h = p == &proto_helper_req || p == &proto_helper_ev;

	if (h && t == H_START) {
		wire_put_str(o, F_JOB_ID, JOB);
		wire_put_u32(o, F_UID, 1000);
		put_limits(o);
		wire_put_fd(o, -1);	/* counted, never sent */
		wire_put_fd(o, -1);
	} else if (h && (t == H_SIGNAL || t == H_KILL || t == H_STARTED)) {
		wire_put_str(o, F_JOB_ID, JOB);
		if (t == H_SIGNAL) {
			wire_put_u32(o, F_SIGNAL, 2);
			wire_put_u32(o, F_FOREGROUND, 1);
		}
		if (t == H_STARTED)
			wire_put_u32(o, F_PID, 4242);
	} else if (h && (t == H_HELLO || t == H_VERSION)) {
		wire_put_u32(o, F_R_LINK_VERSION, HELPER_LINK_VERSION);
	} else if (h && (t == H_REEXEC || t == H_JOBS)) {
		/* no fields */
	} else if (h && t == H_HELD) {
		wire_put_str(o, F_JOB_ID, JOB);
		wire_put_u32(o, F_PID, 4242);
		wire_put_u32(o, F_R_FLAGS, RF_STARTED | RF_EXITED);
		wire_put_u32(o, F_WSTATUS, 0x100);
	} else if (h && t == H_HELD_END) {
		wire_put_u32(o, F_PID, 1);
		wire_put_u32(o, F_MAX_JOBS, 64);
	} else if (h && t == H_READY) {
		wire_put_u32(o, F_PID, 1);
		wire_put_u32(o, F_MAX_JOBS, 64);
		wire_put_str(o, F_CONTROLLERS, "cpu memory pids io cpuset");
	} else if (h && t == H_START_FAILED) {
		wire_put_str(o, F_JOB_ID, JOB);
		wire_put_u32(o, F_STAGE, STAGE_JOB_EXEC);
		wire_put_u32(o, F_ERRNO, ENOENT);
		wire_put_str(o, F_MESSAGE, "execve /bin/nope: No such file");
	} else if (h && t == H_EXITED) {
		wire_put_str(o, F_JOB_ID, JOB);
		wire_put_u32(o, F_WSTATUS, 0x100);
		wire_put_u64(o, F_OOM_KILLS, 0);
		wire_put_u64(o, F_CPU_USEC, 12345);
		wire_put_u64(o, F_MEMORY_PEAK, 1 << 22);
	} else if ((h && t == H_ERROR) || (!h && t == C_ERROR)) {
		wire_put_u32(o, F_ERRNO, EPERM);
		wire_put_str(o, F_MESSAGE, "not allowed");
	} else if (t == C_RUN) {
		put_limits(o);
		wire_put_str(o, F_NAME, "build");
		wire_put_u64(o, F_TIMEOUT_MS, 60000);
		wire_put_u64(o, F_PRIORITY, 5);
		wire_put_str(o, F_AFTER, "0123");
		wire_put_u32(o, F_AFTER_OK, 1);
		wire_put_u32(o, F_HANGUP, 1);
		wire_put_u64(o, F_TTY, 1);
		wire_put_u32(o, F_ROWS, 24);
		wire_put_u32(o, F_COLS, 80);
	} else if (t == C_FOLLOW || t == C_STATUS || t == C_STOP || t == C_KILL ||
		   t == C_RM) {
		wire_put_str(o, F_JOB_REF, "0123");
		if (t == C_STOP || t == C_KILL)
			wire_put_u32(o, F_UID, 1000);
		if (t == C_FOLLOW) {
			wire_put_u32(o, F_FOLLOW, 1);
			wire_put_u64(o, F_FROM, 4096);
		}
		if (t == C_STOP)
			wire_put_u64(o, F_GRACE_MS, 5000);
		if (t == C_KILL) {
			wire_put_u32(o, F_SIGNAL, 10);
			wire_put_u32(o, F_FOREGROUND, 0);
		}
	} else if (t == C_LIST || t == C_AUDIT) {
		wire_put_u32(o, F_LIMIT, 20);
		if (t == C_LIST) {
			wire_put_u32(o, F_STATES, 1u << JS_RUNNING | 1u << JS_EXITED | 1u << JS_QUEUED);
			wire_put_str(o, F_NAME, "build");
		} else {
			wire_put_u32(o, F_UID, 1000);
			wire_put_str(o, F_ACTION, "run");
			wire_put_u64(o, F_SINCE_MS, 1700000000000ull);
		}
	} else if (t == C_VIA) {
		wire_put_str(o, F_VIA, "ssh:192.0.2.7:50022");
	} else if (t == C_INPUT) {
		wire_put_bytes(o, F_DATA, "ls\n", 3);
		wire_put_u32(o, F_EOF, 1);
	} else if (t == C_WINSIZE) {
		wire_put_u32(o, F_ROWS, 24);
		wire_put_u32(o, F_COLS, 80);
	} else if (t == C_STARTED) {
		wire_put_str(o, F_JOB_ID, JOB);
	} else if (t == C_QUEUED) {
		wire_put_str(o, F_JOB_ID, JOB);
		wire_put_u32(o, F_POSITION, 3);
		wire_put_str(o, F_WAITING, "waiting for a slot: 4 of 4 running");
	} else if (t == C_LOG_DATA) {
		wire_put_u32(o, F_STREAM, STREAM_STDOUT);
		wire_put_u64(o, F_TIME_MS, 1700000000000ull);
		wire_put_bytes(o, F_DATA, "hi\n", 3);
	} else if (t == C_JOB) {
		wire_put_str(o, F_JOB_ID, JOB);
		wire_put_u32(o, F_UID, 1000);
		wire_put_str(o, F_STATE, "exited");
		put_limits(o);
		wire_put_u64(o, F_CREATED_MS, 1700000000000ull);
		wire_put_u32(o, F_EXIT_CODE, 0);
	} else if (t == C_AUDIT_ROW) {
		wire_put_u64(o, F_TIME_MS, 1700000000000ull);
		wire_put_u32(o, F_UID, 1000);
		wire_put_str(o, F_ACTION, "run");
		wire_put_str(o, F_OUTCOME, "ok");
	} else if (t == C_OK) {
		wire_put_u32(o, F_UID, 1000);
		wire_put_u32(o, F_ADMIN, 0);
	}
}

static int write_file(const char *dir, const char *name, const void *a,
		      size_t alen, const void *b, size_t blen)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "wbe");
	if (!f || fwrite(a, 1, alen, f) != alen ||
	    (blen && fwrite(b, 1, blen, f) != blen) || fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

/* One file per message type for the packet target; for the stream
 * target, all of a link's messages back to back behind a 5-byte prefix
 * (link bit, split style, split seed), once per split style. */
static int gen_link(const char *root, const struct wire_proto *p, int link)
{
	char dir[4096], hdir[4096], name[64];
	uint8_t *all = NULL;
	size_t alen = 0;

	snprintf(dir, sizeof dir, "%s/fuzz_wire_packet", root);
	snprintf(hdir, sizeof hdir, "%s/fuzz_helper_request", root);
	for (size_t i = 0; i < p->nmsgs; i++) {
		struct wire_out o;
		struct cerr e;
		if (p->msgs[i].dir != p->dir)
			continue;
		wire_out_init(&o, p, p->msgs[i].type);
		fill(&o, p, p->msgs[i].type);
		if (wire_out_finish(&o, &e) < 0) {
			fprintf(stderr, "gen_seeds: %s\n", e.msg);
			wire_out_free(&o);
			free(all);
			return -1;
		}
		snprintf(name, sizeof name, "%s-%s", link & 2 ? "client" : "helper",
			 p->msgs[i].name);
		if (write_file(dir, name, o.buf, o.len, NULL, 0) < 0)
			return -1;
		/* the helper's request fuzzer reads the same datagrams */
		if (link == 0 && write_file(hdir, name, o.buf, o.len, NULL, 0) < 0)
			return -1;
		all = realloc(all, alen + o.len);
		if (!all)
			return -1;
		memcpy(all + alen, o.buf, o.len);
		alen += o.len;
		wire_out_free(&o);
	}
	snprintf(dir, sizeof dir, "%s/fuzz_wire_stream", root);
	for (uint8_t style = 0; style < 3; style++) {
		uint8_t pre[5] = { (uint8_t)(link | style << 2), 0x5a, 0x17, 0x3c, 0x01 };
		snprintf(name, sizeof name, "%s-%s-all-%u", link & 2 ? "client" : "helper",
			 link & 1 ? "rep" : "req", style);
		if (write_file(dir, name, pre, sizeof pre, all, alen) < 0)
			return -1;
	}
	free(all);
	return 0;
}

int main(int argc, char **argv)
{
	char dir[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds DIR\n");
		return 2;
	}
	snprintf(dir, sizeof dir, "%s/fuzz_wire_packet", argv[1]);
	mkdir(argv[1], 0755);
	mkdir(dir, 0755);
	snprintf(dir, sizeof dir, "%s/fuzz_wire_stream", argv[1]);
	mkdir(dir, 0755);
	snprintf(dir, sizeof dir, "%s/fuzz_helper_request", argv[1]);
	mkdir(dir, 0755);
	/* link: bit 1 the client link, bit 0 the reply direction; the
	 * stream target reads the same bits */
	if (gen_link(argv[1], &proto_helper_req, 0) < 0 ||
	    gen_link(argv[1], &proto_helper_ev, 1) < 0 ||
	    gen_link(argv[1], &proto_client_req, 2) < 0 ||
	    gen_link(argv[1], &proto_client_rep, 3) < 0)
		return 1;
	return 0;
}
