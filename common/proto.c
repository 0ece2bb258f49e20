#include "proto.h"

#include "cleanup.h"

#define U32(id, n, fl, lo, hi) { id, WT_U32, fl, n, lo, hi, 1 }
#define U64(id, n, fl, lo, hi) { id, WT_U64, fl, n, lo, hi, 1 }
#define STR(id, n, fl, lo, hi) { id, WT_STR, fl, n, lo, hi, 1 }
#define STRV(id, n, fl, lo, hi, cnt) { id, WT_STR, (fl) | WF_REPEATED, n, lo, hi, cnt }
#define BYTESV(id, n, fl, lo, hi, cnt) { id, WT_BYTES, (fl) | WF_REPEATED, n, lo, hi, cnt }
#define MSG(t, n, lo, hi, cap, f) { t, n, lo, hi, cap, f, ARRAY_SIZE(f) }

#define R WF_REQUIRED
#define U64MAX UINT64_MAX
#define JOBID STR(F_JOB_ID, "job_id", R, 36, 36)

/* The limit and isolation fields of a start request, in both links. */
#define LIMIT_FIELDS \
	STRV(F_ARGV, "argv", R, 0, ARG_LEN_MAX, ARGV_MAX), \
	STRV(F_ENV, "env", 0, 2, ENV_LEN_MAX, ENV_MAX), \
	STR(F_CWD, "cwd", R, 1, PATH_LEN_MAX), \
	U64(F_MEM_MAX, "memory_max", 0, 4096, U64MAX), \
	U64(F_SWAP_MAX, "memory_swap_max", 0, 0, U64MAX), \
	U64(F_CPU_QUOTA, "cpu_quota_usec", 0, 1000, 1024ull * CPU_PERIOD_USEC), \
	U64(F_PIDS_MAX, "pids_max", 0, 1, 4194304), \
	STR(F_CPUSET_CPUS, "cpuset_cpus", 0, 1, CPUSET_LEN_MAX), \
	STR(F_CPUSET_MEMS, "cpuset_mems", 0, 1, CPUSET_LEN_MAX), \
	BYTESV(F_IO_LIMIT, "io_limit", 0, IO_LIMIT_LEN, IO_LIMIT_LEN, IO_LIMIT_MAX), \
	U32(F_NS_OFF, "ns_off", 0, 0, NS_ALL), \
	STR(F_ROOTFS, "rootfs", 0, 1, PATH_LEN_MAX)

static const struct wire_field_spec h_start[] = {
	JOBID,
	U32(F_UID, "uid", R, 0, 0xfffffffeu),
	LIMIT_FIELDS,
};
static const struct wire_field_spec h_signal[] = {
	JOBID,
	U32(F_SIGNAL, "signal", R, 1, 64),
};
static const struct wire_field_spec h_kill[] = { JOBID };
static const struct wire_field_spec h_ready[] = {
	U32(F_PID, "pid", R, 1, 0x7fffffff),
	STR(F_CONTROLLERS, "controllers", R, 0, 256),
};
static const struct wire_field_spec h_started[] = {
	JOBID,
	U32(F_PID, "pid", R, 1, 0x7fffffff),
};
static const struct wire_field_spec h_start_failed[] = {
	JOBID,
	STR(F_STAGE, "stage", R, 1, 32),
	U32(F_ERRNO, "errno", R, 0, 4095),
	STR(F_MESSAGE, "message", R, 0, 1024),
};
static const struct wire_field_spec h_exited[] = {
	JOBID,
	U32(F_WSTATUS, "wstatus", R, 0, 0xffff),
	U64(F_OOM_KILLS, "oom_kills", R, 0, U64MAX),
	U64(F_CPU_USEC, "cpu_usec", R, 0, U64MAX),
	U64(F_MEM_PEAK, "memory_peak", R, 0, U64MAX),
};
static const struct wire_field_spec h_error[] = {
	STR(F_JOB_ID, "job_id", 0, 0, 64),
	U32(F_ERRNO, "errno", R, 0, 4095),
	STR(F_MESSAGE, "message", R, 0, 1024),
};

static const struct wire_msg_spec helper_msgs[] = {
	MSG(H_START, "START", 2, 2, 0, h_start),
	MSG(H_SIGNAL, "SIGNAL", 0, 0, 256, h_signal),
	MSG(H_KILL, "KILL", 0, 0, 256, h_kill),
	MSG(H_READY, "READY", 0, 0, 1024, h_ready),
	MSG(H_STARTED, "STARTED", 0, 0, 256, h_started),
	MSG(H_START_FAILED, "START_FAILED", 0, 0, 2048, h_start_failed),
	MSG(H_EXITED, "EXITED", 0, 0, 256, h_exited),
	MSG(H_ERROR, "ERROR", 0, 0, 2048, h_error),
};

const struct wire_proto proto_helper = {
	"helper link", helper_msgs, ARRAY_SIZE(helper_msgs)
};

static const struct wire_field_spec c_run[] = {
	LIMIT_FIELDS,
	STR(F_NAME, "name", 0, 1, NAME_LEN_MAX),
	U64(F_TIMEOUT_MS, "timeout_ms", 0, 1, 366ull * 24 * 3600 * 1000),
};
static const struct wire_field_spec c_follow[] = {
	STR(F_JOB_REF, "job", R, 1, NAME_LEN_MAX),
	U32(F_STREAMS, "streams", 0, 0, STREAM_STDOUT | STREAM_STDERR | STREAM_META),
	U32(F_FOLLOW, "follow", 0, 0, 1),
};
static const struct wire_field_spec c_list[] = {
	U32(F_ALL, "all", 0, 0, 1),
	U32(F_UID, "uid", 0, 0, 0xfffffffeu),
	STR(F_STATE, "state", 0, 1, 16),
	U32(F_LIMIT, "limit", 0, 1, 100000),
};
static const struct wire_field_spec c_ref[] = {
	STR(F_JOB_REF, "job", R, 1, NAME_LEN_MAX),
};
static const struct wire_field_spec c_stop[] = {
	STR(F_JOB_REF, "job", R, 1, NAME_LEN_MAX),
	U64(F_GRACE_MS, "grace_ms", 0, 0, 3600ull * 1000),
};
static const struct wire_field_spec c_audit[] = {
	U32(F_LIMIT, "limit", 0, 1, 100000),
};
static const struct wire_field_spec c_started[] = { JOBID };
static const struct wire_field_spec c_log_data[] = {
	U32(F_STREAM, "stream", R, STREAM_STDOUT, STREAM_META),
	U64(F_TIME_MS, "time_ms", R, 0, U64MAX),
	{ F_DATA, WT_BYTES, R, "data", 0, LOG_CHUNK_MAX, 1 },
};
static const struct wire_field_spec c_job[] = {
	JOBID,
	U32(F_UID, "uid", R, 0, 0xffffffffu),
	STR(F_USER, "user", 0, 0, 64),
	STR(F_STATE, "state", R, 1, 16),
	LIMIT_FIELDS,
	STR(F_NAME, "name", 0, 1, NAME_LEN_MAX),
	U64(F_TIMEOUT_MS, "timeout_ms", 0, 1, U64MAX),
	U32(F_PID, "pid", 0, 1, 0x7fffffff),
	U64(F_CREATED_MS, "created_ms", R, 0, U64MAX),
	U64(F_STARTED_MS, "started_ms", 0, 0, U64MAX),
	U64(F_ENDED_MS, "ended_ms", 0, 0, U64MAX),
	U32(F_EXIT_CODE, "exit_code", 0, 0, 255),
	U32(F_SIGNAL, "signal", 0, 1, 64),
	U32(F_WSTATUS, "wstatus", 0, 0, 0xffff),
	U64(F_OOM_KILLS, "oom_kills", 0, 0, U64MAX),
	U64(F_CPU_USEC, "cpu_usec", 0, 0, U64MAX),
	U64(F_MEM_PEAK, "memory_peak", 0, 0, U64MAX),
	STR(F_ERROR, "error", 0, 0, 1024),
	STR(F_STAGE, "stage", 0, 1, 32),
	U64(F_LOG_BYTES, "log_bytes", 0, 0, U64MAX),
	U64(F_LOG_DROPPED, "log_dropped", 0, 0, U64MAX),
};
static const struct wire_field_spec c_audit_row[] = {
	U64(F_TIME_MS, "time_ms", R, 0, U64MAX),
	U32(F_UID, "uid", R, 0, 0xffffffffu),
	U32(F_PID, "pid", 0, 0, 0x7fffffff),
	STR(F_ACTION, "action", R, 1, 32),
	STR(F_JOB_ID, "job_id", 0, 0, 64),
	STR(F_OUTCOME, "outcome", R, 1, 32),
	STR(F_DETAIL, "detail", 0, 0, 1024),
};
static const struct wire_field_spec c_ok[] = {
	STR(F_JOB_ID, "job_id", 0, 36, 36),
	STR(F_MESSAGE, "message", 0, 0, 1024),
	U32(F_UID, "uid", 0, 0, 0xffffffffu),
	U32(F_ADMIN, "admin", 0, 0, 1),
};
static const struct wire_field_spec c_error[] = {
	U32(F_ERRNO, "errno", R, 0, 4095),
	STR(F_MESSAGE, "message", R, 0, 1024),
};

static const struct wire_msg_spec client_msgs[] = {
	MSG(C_RUN, "RUN", 0, 0, 0, c_run),
	MSG(C_FOLLOW, "FOLLOW", 0, 0, 256, c_follow),
	MSG(C_LIST, "LIST", 0, 0, 256, c_list),
	MSG(C_STATUS, "STATUS", 0, 0, 256, c_ref),
	MSG(C_STOP, "STOP", 0, 0, 256, c_stop),
	MSG(C_KILL, "KILL", 0, 0, 256, c_ref),
	MSG(C_AUDIT, "AUDIT", 0, 0, 256, c_audit),
	{ C_WHOAMI, "WHOAMI", 0, 0, 64, NULL, 0 },
	MSG(C_STARTED, "STARTED", 0, 0, 256, c_started),
	MSG(C_LOG_DATA, "LOG_DATA", 0, 0, LOG_CHUNK_MAX + 64, c_log_data),
	MSG(C_JOB, "JOB", 0, 0, 0, c_job),
	MSG(C_AUDIT_ROW, "AUDIT_ROW", 0, 0, 4096, c_audit_row),
	{ C_DONE, "DONE", 0, 0, 64, NULL, 0 },
	MSG(C_OK, "OK", 0, 0, 2048, c_ok),
	MSG(C_ERROR, "ERROR", 0, 0, 2048, c_error),
};

const struct wire_proto proto_client = {
	"client link", client_msgs, ARRAY_SIZE(client_msgs)
};

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
	le32(p, (uint32_t)v);
	le32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

void io_limit_encode(const struct io_limit *l, uint8_t out[IO_LIMIT_LEN])
{
	le32(out, l->major);
	le32(out + 4, l->minor);
	le64(out + 8, l->rbps);
	le64(out + 16, l->wbps);
	le64(out + 24, l->riops);
	le64(out + 32, l->wiops);
}

void io_limit_decode(const uint8_t in[IO_LIMIT_LEN], struct io_limit *l)
{
	l->major = rd32(in);
	l->minor = rd32(in + 4);
	l->rbps = rd64(in + 8);
	l->wbps = rd64(in + 16);
	l->riops = rd64(in + 24);
	l->wiops = rd64(in + 32);
}
