#include "proto.h"

#include <errno.h>
#include <signal.h>

#include "cleanup.h"

#define U32(id, n, fl, lo, hi) { id, WT_U32, fl, n, lo, hi, 1 }
#define U64(id, n, fl, lo, hi) { id, WT_U64, fl, n, lo, hi, 1 }
#define STR(id, n, fl, lo, hi) { id, WT_STR, fl, n, lo, hi, 1 }
#define STRV(id, n, fl, lo, hi, cnt) { id, WT_STR, (fl) | WF_REPEATED, n, lo, hi, cnt }
#define BYTESV(id, n, fl, lo, hi, cnt) { id, WT_BYTES, (fl) | WF_REPEATED, n, lo, hi, cnt }
#define MSG(t, d, n, lo, hi, cap, f) { t, d, n, lo, hi, cap, f, ARRAY_SIZE(f) }
#define MSG0(t, d, n, cap) { t, d, n, 0, 0, cap, NULL, 0 }

#define R WF_REQUIRED
#define U63 WIRE_U63_MAX
#define JOBID STR(F_JOB_ID, "job_id", R, JOB_ID_LEN, JOB_ID_LEN)
#define STAGE_FIELD(fl) U32(F_STAGE, "stage", fl, 1, STAGE_COUNT - 1)

/* The run options of runopt.def as field specs, included into a
 * message's table: JOB-scope options travel to the helper too, MGR-scope
 * ones stop at corrald: define IF_JOB and IF_MGR, then include
 * "runopt.def". */
#define WT_OF_SIZE WT_U64
#define WT_OF_CPUS WT_U64
#define WT_OF_COUNT WT_U64
#define WT_OF_DURATION WT_U64
#define WT_OF_FLAG WT_U64
#define WT_OF_OCTAL WT_U64
#define WT_OF_CPUSET WT_STR
#define WT_OF_NAME WT_STR
#define WT_OF_PATH WT_STR
#define WT_OF_NETREF WT_STR
#define OPT(ID, field, name, type, min, max, flag, meta, scope, ...) \
	IF_##scope({ F_##ID, WT_OF_##type, 0, name, min, max, 1 })

/* A --network job's address and MAC, as the helper chose them. */
#define NET_FIELDS \
	STR(F_NET_ADDRESS, "net_address", 0, 9, NET_ADDRESS_LEN_MAX), \
	STR(F_NET_MAC, "net_mac", 0, NET_MAC_LEN, NET_MAC_LEN)

/* What a job is made of, in RUN, START and JOB alike. */
#define COMMAND_FIELDS \
	STRV(F_ARGV, "argv", R, 0, ARG_LEN_MAX, ARGV_MAX), \
	STRV(F_ENV, "env", 0, 2, ENV_LEN_MAX, ENV_MAX), \
	STR(F_CWD, "cwd", R, 1, PATH_LEN_MAX), \
	BYTESV(F_IO_LIMIT, "io_limit", 0, IO_LIMIT_LEN, IO_LIMIT_LEN, IO_LIMIT_MAX), \
	U32(F_NS_OFF, "ns_off", 0, 0, NS_ALL)

#define IF_JOB(...) __VA_ARGS__,
#define IF_MGR(...)
/* -t: the terminal's size when the job starts (WINSIZE follows changes). */
#define WINSIZE_FIELDS(fl) \
	U32(F_ROWS, "rows", fl, 0, 65535), \
	U32(F_COLS, "cols", fl, 0, 65535)

static const struct wire_field_spec h_start[] = {
	JOBID,
	U32(F_UID, "uid", R, 0, 0xfffffffeu),
	COMMAND_FIELDS,
	WINSIZE_FIELDS(0),
#include "runopt.def"
};
#undef IF_MGR
#define IF_MGR(...) __VA_ARGS__,
static const struct wire_field_spec c_run[] = {
	COMMAND_FIELDS,
	STR(F_AFTER, "after", 0, 1, NAME_LEN_MAX),
	U32(F_AFTER_OK, "after_ok", 0, 0, 1),
	U32(F_NO_QUEUE, "no_queue", 0, 0, 1),
	U32(F_HANGUP, "hangup", 0, 0, 1),
	WINSIZE_FIELDS(0),
#include "runopt.def"
};
static const struct wire_field_spec c_job[] = {
	JOBID,
	U32(F_UID, "uid", R, 0, 0xffffffffu),
	STR(F_USER, "user", 0, 0, USER_LEN_MAX),
	STR(F_STATE, "state", R, 1, STATE_LEN_MAX),
	COMMAND_FIELDS,
	U32(F_PID, "pid", 0, 1, 0x7fffffff),
	U64(F_CREATED_MS, "created_ms", R, 0, U63),
	U64(F_STARTED_MS, "started_ms", 0, 0, U63),
	U64(F_ENDED_MS, "ended_ms", 0, 0, U63),
	U32(F_EXIT_CODE, "exit_code", 0, 0, 255),
	U32(F_SIGNAL, "signal", 0, 1, 64),
	U32(F_WSTATUS, "wstatus", 0, 0, 0xffff),
	U64(F_OOM_KILLS, "oom_kills", 0, 0, U63),
	U64(F_CPU_USEC, "cpu_usec", 0, 0, U63),
	U64(F_MEMORY_PEAK, "memory_peak", 0, 0, U63),
	STR(F_ERROR, "error", 0, 0, MESSAGE_LEN_MAX),
	STAGE_FIELD(0),
	U32(F_ERRNO, "errno", 0, 0, 4095),
	U64(F_LOG_BYTES, "log_bytes", 0, 0, U63),
	U64(F_LOG_DROPPED, "log_dropped", 0, 0, U63),
	U64(F_LOG_DELETED_MS, "log_deleted_ms", 0, 0, U63),
	STR(F_AFTER, "after", 0, JOB_ID_LEN, JOB_ID_LEN),
	U32(F_AFTER_OK, "after_ok", 0, 0, 1),
	U32(F_POSITION, "position", 0, 1, 0xffffffffu),
	STR(F_WAITING, "waiting", 0, 0, MESSAGE_LEN_MAX),
	NET_FIELDS,
#include "runopt.def"
};
#undef IF_JOB
#undef IF_MGR
#undef OPT

static const struct wire_field_spec h_signal[] = {
	JOBID,
	U32(F_SIGNAL, "signal", R, 1, 64),
	U32(F_FOREGROUND, "foreground", 0, 0, 1),
};
static const struct wire_field_spec h_kill[] = { JOBID };
static const struct wire_field_spec h_ready[] = {
	U32(F_PID, "pid", R, 1, 0x7fffffff),
	STR(F_CONTROLLERS, "controllers", R, 0, 256),
	U32(F_MAX_JOBS, "max_jobs", 0, 1, 0xffffffffu),
};
static const struct wire_field_spec h_started[] = {
	JOBID,
	U32(F_PID, "pid", R, 1, 0x7fffffff),
	NET_FIELDS,
};
static const struct wire_field_spec h_start_failed[] = {
	JOBID,
	STAGE_FIELD(R),
	U32(F_ERRNO, "errno", R, 0, 4095),
	STR(F_MESSAGE, "message", R, 0, MESSAGE_LEN_MAX),
};
static const struct wire_field_spec h_exited[] = {
	JOBID,
	U32(F_WSTATUS, "wstatus", R, 0, 0xffff),
	/* Without the memory controller (or before Linux 5.19, for
	 * memory.peak) these are not measured, and not sent. */
	U64(F_OOM_KILLS, "oom_kills", 0, 0, U63),
	U64(F_CPU_USEC, "cpu_usec", R, 0, U63),
	U64(F_MEMORY_PEAK, "memory_peak", 0, 0, U63),
};
static const struct wire_field_spec h_version[] = {
	U32(F_R_LINK_VERSION, "version", R, 1, 0xffffffffu),
};
/* RF_STARTED, RF_EXITED and RF_ENDED only; pid 0: not started yet.
 * An end told already (RF_ENDED) comes with EXITED's figures. */
static const struct wire_field_spec h_held[] = {
	JOBID,
	U32(F_PID, "pid", R, 0, 0x7fffffff),
	U32(F_R_FLAGS, "flags", R, 0, RF_STARTED | RF_EXITED | RF_ENDED),
	U32(F_WSTATUS, "wstatus", 0, 0, 0xffff),
	U64(F_OOM_KILLS, "oom_kills", 0, 0, U63),
	U64(F_CPU_USEC, "cpu_usec", 0, 0, U63),
	U64(F_MEMORY_PEAK, "memory_peak", 0, 0, U63),
};
static const struct wire_field_spec h_held_end[] = {
	U32(F_PID, "pid", R, 1, 0x7fffffff),
	U32(F_MAX_JOBS, "max_jobs", 0, 1, 0xffffffffu),
};
static const struct wire_field_spec h_error[] = {
	STR(F_JOB_ID, "job_id", 0, 0, 64),
	U32(F_ERRNO, "errno", R, 0, 4095),
	STR(F_MESSAGE, "message", R, 0, MESSAGE_LEN_MAX),
};

/* The whole helper link; each end reads one direction of it. */
static const struct wire_msg_spec helper_msgs[] = {
	MSG(H_START, WD_REQ, "START", 0, 3, 0, h_start),
	MSG(H_SIGNAL, WD_REQ, "SIGNAL", 0, 0, 256, h_signal),
	MSG(H_KILL, WD_REQ, "KILL", 0, 0, 256, h_kill),
	MSG(H_HELLO, WD_REQ, "HELLO", 0, 0, 64, h_version),
	MSG0(H_REEXEC, WD_REQ, "REEXEC", 64),
	MSG0(H_JOBS, WD_REQ, "JOBS", 64),
	MSG(H_HELD, WD_REP, "HELD", 0, 0, 256, h_held),
	MSG(H_HELD_END, WD_REP, "HELD_END", 0, 0, 64, h_held_end),
	MSG(H_VERSION, WD_REP, "VERSION", 0, 0, 64, h_version),
	MSG(H_READY, WD_REP, "READY", 0, 0, 1024, h_ready),
	MSG(H_STARTED, WD_REP, "STARTED", 0, 1, 256, h_started),
	MSG(H_START_FAILED, WD_REP, "START_FAILED", 0, 0, 2048, h_start_failed),
	MSG(H_EXITED, WD_REP, "EXITED", 0, 0, 256, h_exited),
	MSG(H_ERROR, WD_REP, "ERROR", 0, 0, 2048, h_error),
};

const struct wire_proto proto_helper_req = {
	"helper link", helper_msgs, ARRAY_SIZE(helper_msgs), WD_REQ
};
const struct wire_proto proto_helper_ev = {
	"helper link", helper_msgs, ARRAY_SIZE(helper_msgs), WD_REP
};

/* F_UID in a job reference: whose job names it means (admins only). */
#define REF_FIELDS \
	STR(F_JOB_REF, "job", R, 1, NAME_LEN_MAX), \
	U32(F_UID, "uid", 0, 0, 0xfffffffeu)
static const struct wire_field_spec c_follow[] = {
	REF_FIELDS,
	U32(F_STREAMS, "streams", 0, 0, STREAM_STDOUT | STREAM_STDERR | STREAM_META),
	U32(F_FOLLOW, "follow", 0, 0, 1),
	U64(F_FROM, "from", 0, 0, U63),
};
static const struct wire_field_spec c_list[] = {
	U32(F_ALL, "all", 0, 0, 1),
	U32(F_UID, "uid", 0, 0, 0xfffffffeu),
	U32(F_STATES, "states", 0, 1, (1u << JS_COUNT) - 1),
	STR(F_NAME, "name", 0, 1, NAME_LEN_MAX),
	U32(F_LIMIT, "limit", 0, 1, LIST_LIMIT_MAX + 1),
};
static const struct wire_field_spec c_ref[] = {
	REF_FIELDS,
};
static const struct wire_field_spec c_stop[] = {
	REF_FIELDS,
	U64(F_GRACE_MS, "grace_ms", 0, 0, GRACE_MS_MAX),
};
/* With a signal other than KILL: that signal, not cgroup.kill. */
static const struct wire_field_spec c_kill[] = {
	REF_FIELDS,
	U32(F_SIGNAL, "signal", 0, 1, 64),
	U32(F_FOREGROUND, "foreground", 0, 0, 1),
};
static const struct wire_field_spec c_prune[] = {
	U32(F_DRY_RUN, "dry_run", 0, 0, 1),
};
static const struct wire_field_spec c_audit[] = {
	U32(F_LIMIT, "limit", 0, 1, LIST_LIMIT_MAX + 1),
	U32(F_UID, "uid", 0, 0, 0xfffffffeu),
	STR(F_ACTION, "action", 0, 1, 32),
	U64(F_SINCE_MS, "since_ms", 0, 0, U63),
};
/* Printable ASCII without spaces: corrald checks what the schema cannot. */
static const struct wire_field_spec c_via[] = {
	STR(F_VIA, "via", R, 1, VIA_LEN_MAX),
};
/* A job's input, and its terminal's size: see docs/tty.md. */
static const struct wire_field_spec c_input[] = {
	{ F_DATA, WT_BYTES, 0, "data", 0, INPUT_CHUNK_MAX, 1 },
	U32(F_EOF, "eof", 0, 0, 1),
};
static const struct wire_field_spec c_winsize[] = { WINSIZE_FIELDS(R) };
static const struct wire_field_spec c_started[] = { JOBID };
static const struct wire_field_spec c_queued[] = {
	JOBID,
	U32(F_POSITION, "position", 0, 1, 0xffffffffu),
	STR(F_WAITING, "waiting", 0, 0, MESSAGE_LEN_MAX),
};
static const struct wire_field_spec c_log_data[] = {
	U32(F_STREAM, "stream", R, STREAM_STDOUT, STREAM_META),
	U64(F_TIME_MS, "time_ms", R, 0, U63),
	U64(F_SKIP_TO, "skip_to", 0, 0, U63),
	{ F_DATA, WT_BYTES, R, "data", 0, LOG_CHUNK_MAX, 1 },
};
static const struct wire_field_spec c_audit_row[] = {
	U64(F_TIME_MS, "time_ms", R, 0, U63),
	U32(F_UID, "uid", R, 0, 0xffffffffu),
	U32(F_PID, "pid", 0, 0, 0x7fffffff),
	STR(F_ACTION, "action", R, 1, 32),
	STR(F_JOB_ID, "job_id", 0, 0, 64),
	STR(F_OUTCOME, "outcome", R, 1, 32),
	STR(F_DETAIL, "detail", 0, 0, MESSAGE_LEN_MAX),
};
static const struct wire_field_spec c_ok[] = {
	STR(F_JOB_ID, "job_id", 0, JOB_ID_LEN, JOB_ID_LEN),
	STR(F_MESSAGE, "message", 0, 0, MESSAGE_LEN_MAX),
	U32(F_UID, "uid", 0, 0, 0xffffffffu),
	U32(F_ADMIN, "admin", 0, 0, 1),
};
/* A refused or failed RUN names the start stage, so clients choose
 * their exit status from a field, never from the text. */
static const struct wire_field_spec c_error[] = {
	U32(F_ERRNO, "errno", R, 0, 4095),
	STR(F_MESSAGE, "message", R, 0, MESSAGE_LEN_MAX),
	STAGE_FIELD(0),
};

static const struct wire_msg_spec client_msgs[] = {
	MSG(C_RUN, WD_REQ, "RUN", 0, 0, 0, c_run),
	MSG(C_FOLLOW, WD_REQ, "FOLLOW", 0, 0, 256, c_follow),
	MSG(C_LIST, WD_REQ, "LIST", 0, 0, 256, c_list),
	MSG(C_STATUS, WD_REQ, "STATUS", 0, 0, 256, c_ref),
	MSG(C_STOP, WD_REQ, "STOP", 0, 0, 256, c_stop),
	MSG(C_KILL, WD_REQ, "KILL", 0, 0, 256, c_kill),
	MSG(C_AUDIT, WD_REQ, "AUDIT", 0, 0, 256, c_audit),
	MSG0(C_WHOAMI, WD_REQ, "WHOAMI", 64),
	MSG(C_RM, WD_REQ, "RM", 0, 0, 256, c_ref),
	MSG(C_PRUNE, WD_REQ, "PRUNE", 0, 0, 64, c_prune),
	MSG(C_VIA, WD_REQ, "VIA", 0, 0, 128, c_via),
	MSG(C_INPUT, WD_REQ, "INPUT", 0, 0, INPUT_CHUNK_MAX + 64, c_input),
	MSG(C_WINSIZE, WD_REQ, "WINSIZE", 0, 0, 64, c_winsize),
	MSG(C_STARTED, WD_REP, "STARTED", 0, 0, 256, c_started),
	MSG(C_QUEUED, WD_REP, "QUEUED", 0, 0, 2048, c_queued),
	MSG(C_LOG_DATA, WD_REP, "LOG_DATA", 0, 0, LOG_CHUNK_MAX + 64, c_log_data),
	MSG(C_JOB, WD_REP, "JOB", 0, 0, 0, c_job),
	MSG(C_AUDIT_ROW, WD_REP, "AUDIT_ROW", 0, 0, 4096, c_audit_row),
	MSG0(C_DONE, WD_REP, "DONE", 64),
	MSG(C_OK, WD_REP, "OK", 0, 0, 2048, c_ok),
	MSG(C_ERROR, WD_REP, "ERROR", 0, 0, 2048, c_error),
};

const struct wire_proto proto_client_req = {
	"client link", client_msgs, ARRAY_SIZE(client_msgs), WD_REQ
};
const struct wire_proto proto_client_rep = {
	"client link", client_msgs, ARRAY_SIZE(client_msgs), WD_REP
};

static const char *const ns_names[] = { "net", "pid", "mount", "uts", "ipc" };

const char *ns_name(unsigned bit_index)
{
	return bit_index < ARRAY_SIZE(ns_names) ? ns_names[bit_index] : "?";
}

int signal_check_sig(int sig, bool foreground, struct cerr *e)
{
	if (sig < 1 || sig > 64)
		return cerr_set(e, EINVAL, "signal %d: not 1 to 64", sig);
	if (foreground && sig != SIGTERM && sig != SIGINT && sig != SIGHUP &&
	    sig != SIGQUIT)
		return cerr_set(e, EINVAL, "signal %d: only TERM, INT, HUP and QUIT go to the foreground group", sig);
	if (sig == SIGKILL)
		return cerr_set(e, EINVAL, "signal 9 (KILL) is a kill of the whole cgroup, not a signal");
	if (sig == 32 || sig == 33)
		return cerr_set(e, EINVAL, "signal %d is the C library's own", sig);
	return 0;
}

/* --- the resume records (manager/resume.c) ------------------------------ */

#define FD(id, n, fl) U32(id, n, fl, 0, 0x7fffffff)
#define MONO(id, n) U64(id, n, 0, 0, U63)
static const struct wire_field_spec r_mgr[] = {
	U32(F_R_VERSION, "version", R, 0, 0xffffffffu),
	STR(F_R_PATH, "path", R, 1, PATH_LEN_MAX),
	FD(F_R_FD, "listen_fd", R),
	FD(F_R_LOCK_FD, "lock_fd", R),
	U64(F_R_INO, "socket_ino", 0, 0, U63),
	FD(F_R_HELPER_FD, "helper_fd", 0),
	U32(F_PID, "helper_pid", 0, 1, 0x7fffffff),
	U32(F_MAX_JOBS, "max_jobs", 0, 1, 0xffffffffu),
	U32(F_R_FLAGS, "flags", 0, 0, 0xffffffffu),
	U64(F_R_SEQ, "seq", 0, 0, U63),
};
static const struct wire_field_spec r_job[] = {
	JOBID,
	U32(F_UID, "uid", R, 0, 0xfffffffeu),
	FD(F_R_FD, "out_fd", 0),
	FD(F_R_FD2, "err_fd", 0),
	U32(F_R_FLAGS, "flags", 0, 0, 0xffffffffu),
	U32(F_R_REASON, "reason", 0, 0, 16),
	U32(F_R_PENDING, "pending", 0, 0, 64),
	U64(F_TIMEOUT_MS, "timeout_ms", 0, 0, U63),
	MONO(F_R_TIMEOUT_AT, "timeout_at"),
	MONO(F_R_KILL_AT, "kill_at"),
	MONO(F_R_DRAIN_AT, "drain_at"),
	U64(F_PRIORITY, "priority", 0, 0, 0xffffffffu),
	U64(F_R_SEQ, "seq", 0, 0, U63),
	STR(F_CWD, "cwd", 0, 0, PATH_LEN_MAX),
	STR(F_ARGV, "argv0", 0, 0, ARG_LEN_MAX),
	STAGE_FIELD(0),
	U32(F_ERRNO, "errno", 0, 0, 4095),
	STR(F_MESSAGE, "why", 0, 0, MESSAGE_LEN_MAX),
	U64(F_ENDED_MS, "ended_ms", 0, 0, U63),
	U32(F_WSTATUS, "wstatus", 0, 0, 0xffff),
	U64(F_OOM_KILLS, "oom_kills", 0, 0, UINT64_MAX),
	U64(F_CPU_USEC, "cpu_usec", 0, 0, U63),
	U64(F_MEMORY_PEAK, "memory_peak", 0, 0, UINT64_MAX),
	U64(F_R_OUTPUT, "output", 0, 0, U63),
	U64(F_LOG_BYTES, "stored", 0, 0, U63),
	U64(F_LOG_DROPPED, "dropped", 0, 0, U63),
	U64(F_R_LEFT_OUT, "left_out", 0, 0, U63),
	U64(F_R_GAP_OUTPUT, "gap_output", 0, 0, U63),
	U64(F_R_MARK_EVERY, "mark_every", 0, 0, U63),
	U64(F_R_FAILED_BYTES, "failed_bytes", 0, 0, U63),
	FD(F_R_IN_FD, "in_fd", 0),
	{ F_DATA, WT_BYTES, 0, "in_held", 1, INPUT_CHUNK_MAX, 1 },
};
static const struct wire_field_spec r_client[] = {
	FD(F_R_FD, "fd", R),
	U32(F_R_KIND, "kind", R, R_CL_IDLE, R_CL_QUEUED),
	STR(F_VIA, "via", 0, 1, VIA_LEN_MAX),
	STR(F_JOB_ID, "job_id", 0, JOB_ID_LEN, JOB_ID_LEN),
	U32(F_STREAMS, "streams", 0, 0, STREAM_STDOUT | STREAM_STDERR | STREAM_META),
	U32(F_FOLLOW, "follow", 0, 0, 1),
	U64(F_R_OFFSET, "offset", 0, 0, U63),
	U64(F_R_REC_END, "rec_end", 0, 0, U63),
	U64(F_R_END, "end", 0, 0, UINT64_MAX),
	STR(F_R_HUP_ID, "hup_id", 0, JOB_ID_LEN, JOB_ID_LEN),
	STR(F_R_IN_ID, "in_id", 0, JOB_ID_LEN, JOB_ID_LEN),
	U32(F_R_FLAGS, "flags", 0, 0, RF_INPUT),
};
/* A helper job; its report and status pipes are the only fds it hands
 * itself (the pidfd and the cgroup are found again). */
static const struct wire_field_spec r_hjob[] = {
	JOBID,
	U32(F_UID, "uid", R, 0, 0xfffffffeu),
	U32(F_PID, "pid", R, 1, 0x7fffffff),
	FD(F_R_FD, "report_fd", 0),
	FD(F_R_FD2, "status_fd", 0),
	U32(F_R_FLAGS, "flags", 0, 0, 0xffffffffu),
	U32(F_WSTATUS, "wstatus", 0, 0, 0xffff),
	U64(F_OOM_KILLS, "oom_kills", 0, 0, U63),
	U64(F_CPU_USEC, "cpu_usec", 0, 0, U63),
	U64(F_MEMORY_PEAK, "memory_peak", 0, 0, U63),
	STAGE_FIELD(0),
	U32(F_ERRNO, "errno", 0, 0, 4095),
};
static const struct wire_field_spec r_hmgr[] = {
	U32(F_R_VERSION, "version", R, 0, 0xffffffffu),
	STR(F_R_PATH, "path", R, 1, PATH_LEN_MAX),
};
#undef FD
#undef MONO

static const struct wire_msg_spec resume_msgs[] = {
	MSG(R_MGR, WD_REQ, "R_MGR", 0, 0, 8192, r_mgr),
	MSG(R_JOB, WD_REQ, "R_JOB", 0, 0, 0, r_job),
	MSG(R_CLIENT, WD_REQ, "R_CLIENT", 0, 0, 512, r_client),
	MSG(R_HJOB, WD_REQ, "R_HJOB", 0, 0, 512, r_hjob),
	MSG(R_HMGR, WD_REQ, "R_HMGR", 0, 0, 8192, r_hmgr),
};

const struct wire_proto proto_resume = {
	"resume records", resume_msgs, ARRAY_SIZE(resume_msgs), WD_REQ
};
