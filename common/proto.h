/* Message types and fields of corral's two links.  The tables in proto.c
 * are the only definition of what each side accepts; docs/protocol.md
 * describes them for people. */
#ifndef CORRAL_PROTO_H
#define CORRAL_PROTO_H

#include "bounds.h"
#include "runopt.h"
#include "state.h"
#include "wire.h"

/* Field ids, shared by both links (a message's schema says which of them
 * it may carry).  The run options' ids come from runopt.def. */
enum {
	F_JOB_ID = 1,	/* STR, a lower-case UUID, 36 bytes */
	F_UID = 2,	/* U32 */
	F_ARGV = 3,	/* STR, repeated */
	F_ENV = 4,	/* STR "KEY=VALUE", repeated */
	F_CWD = 5,	/* STR, absolute path */
	F_IO_LIMIT = 12,	/* BYTES, struct io_limit encoded, repeated */
	F_NS_OFF = 13,	/* U32, NS_* bits of namespaces NOT to create */
	F_SIGNAL = 15,	/* U32 signal number */
	F_PID = 16,	/* U32 */
	F_STAGE = 17,	/* U32 enum start_stage: where a start failed */
	F_ERRNO = 18,	/* U32 */
	F_MESSAGE = 19,	/* STR, human-readable */
	F_WSTATUS = 20,	/* U32, wait status as from waitpid() */
	F_OOM_KILLS = 21,	/* U64, memory.events oom_kill */
	F_CPU_USEC = 22,	/* U64, cpu.stat usage_usec */
	F_MEMORY_PEAK = 23,	/* U64, memory.peak */
	F_CONTROLLERS = 24,	/* STR, space separated cgroup controllers */
	/* client link */
	F_JOB_REF = 42,	/* STR: id, unique id prefix or name */
	F_STREAMS,	/* U32 STREAM_* bits wanted */
	F_FOLLOW,	/* U32 0/1 */
	F_STREAM,	/* U32 one STREAM_* value */
	F_TIME_MS,	/* U64, ms since the epoch, UTC */
	F_DATA,		/* BYTES */
	F_STATE,	/* STR job state */
	F_ALL,		/* U32 0/1 */
	F_LIMIT,	/* U32 most rows wanted */
	F_GRACE_MS,	/* U64 */
	F_CREATED_MS,	/* U64 */
	F_STARTED_MS,	/* U64 */
	F_ENDED_MS,	/* U64 */
	F_EXIT_CODE,	/* U32 */
	F_ERROR,	/* STR: why a job failed or was lost */
	F_LOG_BYTES,	/* U64 bytes of output stored */
	F_LOG_DROPPED,	/* U64 bytes of output dropped past the cap */
	F_ACTION,	/* STR audit action */
	F_OUTCOME,	/* STR audit outcome */
	F_DETAIL,	/* STR audit detail */
	F_USER,		/* STR user name */
	F_ADMIN,	/* U32 0/1 */
	F_LOG_DELETED_MS,	/* U64: when the job's log was deleted */
	F_DRY_RUN,	/* U32 0/1 */
	F_SKIP_TO,	/* U64: in a log's gap note, where the log goes on */
	F_STATES,	/* U32: LIST filter, bit (1 << enum job_state) per state */
	F_SINCE_MS,	/* U64: AUDIT filter, rows at or after this time */
	F_AFTER,	/* STR: RUN, a job reference to wait for; JOB, its id */
	F_AFTER_OK,	/* U32 0/1: start only if F_AFTER exited 0 */
	F_NO_QUEUE,	/* U32 0/1: RUN fails at once instead of queueing */
	F_POSITION,	/* U32: a queued job's place in the start order (1: next) */
	F_WAITING,	/* STR: what a queued job waits for */
	F_MAX_JOBS,	/* U32: READY, the helper's max_jobs */
	F_VIA,		/* STR: how the client came, as it says (VIA) */
	F_FOREGROUND,	/* U32 0/1: a signal to the job's foreground group only */
	F_HANGUP,	/* U32 0/1: RUN, hang the job up when this client goes */
	F_EOF,		/* U32 0/1: INPUT, the client's input ended */
	F_ROWS,		/* U32: WINSIZE, the terminal's rows */
	F_COLS,		/* U32: WINSIZE, its columns */
	/* numbered apart, so fields added above cannot run into them */
	F_NET_ADDRESS = 90,	/* STR: STARTED and JOB, a --network job's A.B.C.D/N */
	F_NET_MAC = 91,	/* STR: STARTED and JOB, its eth0's MAC */
#define OPT(ID, field, ...) F_##ID = field,
#include "runopt.def"
#undef OPT
};

/* Namespaces a job gets unless F_NS_OFF turns them off (policy allowing).
 * ns_name() gives each bit's name: net pid mount uts ipc. */
enum {
	NS_NET = 1,
	NS_PID = 2,
	NS_MNT = 4,
	NS_UTS = 8,
	NS_IPC = 16,
	NS_ALL = 31,
};
const char *ns_name(unsigned bit_index);

/* Which signals a SIGNAL (helper link) or KILL with a signal (client
 * link) may carry, checked by corrald and again by the helper: with
 * foreground, TERM, INT, HUP or QUIT (what the job's init forwards to
 * the main process's group); else any of 1-64 but KILL (its own
 * request) and 32, 33 (the C library's own). */
int signal_check_sig(int sig, bool foreground, struct cerr *e);

enum { STREAM_STDOUT = 1, STREAM_STDERR = 2, STREAM_META = 4 };

/* Helper link: corrald <-> corral-helper (SOCK_SEQPACKET). */
enum {
	H_START = 1,		/* manager -> helper, fds: stdout, stderr and, for
				 * -i, stdin; none for -t (docs/tty.md) */
	H_SIGNAL,		/* manager -> helper */
	H_KILL,			/* manager -> helper */
	H_READY = 16,		/* helper -> manager, once after start-up */
	H_STARTED,		/* -t: with the pty's master */
	H_START_FAILED,
	H_EXITED,
	H_ERROR,		/* a request was refused */
	/* link version 2 (HELPER_LINK_VERSION): a helper of version 1
	 * answers HELLO with ERROR, which is how corrald tells. */
	H_HELLO = 8,		/* manager -> helper: corrald's link version */
	H_REEXEC,		/* manager -> helper: exec yourself again */
	H_VERSION = 24,		/* helper -> manager: the helper's link version */
	/* link version 3: the re-sync after a restart (docs/restart.md) */
	H_JOBS = 10,		/* manager -> helper: which jobs do you hold? */
	H_HELD = 25,		/* helper -> manager: one job it holds */
	H_HELD_END,		/* helper -> manager: that was all of them */
};
#define HELPER_LINK_VERSION 3
extern const struct wire_proto proto_helper_req;	/* what the helper reads */
extern const struct wire_proto proto_helper_ev;		/* what corrald reads */

/* Client link: corral / libcorral <-> corrald (SOCK_STREAM). */
enum {
	C_RUN = 1,
	C_FOLLOW,
	C_LIST,
	C_STATUS,
	C_STOP,
	C_KILL,
	C_AUDIT,
	C_WHOAMI,
	C_RM,			/* delete a finished job and its log */
	C_PRUNE,		/* apply retention now (admins) */
	C_VIA,			/* the client's transport, for audit details;
				 * no reply */
	C_INPUT,		/* -i/-t: bytes for the job's stdin, from the
				 * connection that ran it; no reply */
	C_WINSIZE,		/* -t: the terminal's size; no reply */
	C_STARTED = 32,		/* reply to RUN: the job id */
	C_LOG_DATA,		/* also the on-disk log record */
	C_JOB,			/* one job record */
	C_AUDIT_ROW,
	C_DONE,			/* end of a list */
	C_OK,
	C_ERROR,
	C_QUEUED,		/* reply to RUN: queued; STARTED or ERROR follows */
};
extern const struct wire_proto proto_client_req;	/* what corrald reads */
extern const struct wire_proto proto_client_rep;	/* what clients read */

/* What a reloading corrald hands its successor (manager/resume.c,
 * docs/restart.md): a stream of these records in a memfd, never on a
 * socket.  RESUME_VERSION changes whenever a record changes meaning; a
 * corrald refuses a stream of another version. */
#define RESUME_VERSION 1
enum {
	R_MGR = 1,		/* first: the version, the listener, the helper */
	R_JOB,			/* one running job: its pipes and where it is */
	R_CLIENT,		/* one connection at rest, and its follow */
	R_HJOB,			/* the helper's: one of its jobs, at its re-exec */
	R_HMGR,			/* the helper's: first, its version and binary */
};
/* Field ids only the resume records use, apart from the links' range. */
enum {
	F_R_VERSION = 160,	/* U32 RESUME_VERSION */
	F_R_FD,			/* U32 an fd number handed over */
	F_R_FD2,		/* U32 a second one (a job's stderr) */
	F_R_LOCK_FD,		/* U32 the state directory's lock */
	F_R_HELPER_FD,		/* U32 the helper link */
	F_R_PATH,		/* STR corrald's binary */
	F_R_INO,		/* U64 the socket file's inode */
	F_R_FLAGS,		/* U32 R_* bits below */
	F_R_SEQ,		/* U64 arrival order */
	F_R_REASON,		/* U32 enum end_reason */
	F_R_PENDING,		/* U32 a stop asked before STARTED */
	F_R_TIMEOUT_AT,		/* U64 monotonic ms, 0: none */
	F_R_KILL_AT,
	F_R_DRAIN_AT,
	F_R_OUTPUT,		/* U64 a log's counters */
	F_R_LEFT_OUT,
	F_R_GAP_OUTPUT,
	F_R_MARK_EVERY,
	F_R_FAILED_BYTES,
	F_R_KIND,		/* U32 what a client was doing: R_CL_* */
	F_R_OFFSET,		/* U64 a follower's place in the log */
	F_R_REC_END,
	F_R_END,
	F_R_LINK_VERSION,	/* U32 HELPER_LINK_VERSION (HELLO, VERSION) */
	F_R_HUP_ID,		/* STR the job a connection's close hangs up */
	F_R_IN_FD,		/* U32 a -i job's stdin write end, a -t job's master */
	F_R_IN_ID,		/* STR the job a connection's INPUT goes to */
};
/* FOLLOW: the log byte to go on from, after a reconnect (U64). */
enum { F_FROM = 200 };
enum {
	RF_STARTED = 1, RF_EXITED = 2, RF_FAILED = 4, RF_LOST = 8,
	RF_CAP_DROP = 16, RF_FAILING = 32, RF_HELPER_READY = 64,
	RF_HAS_OOM = 128, RF_HAS_PEAK = 256, RF_HANGUP = 512,
	/* a job's input tie (docs/tty.md): a terminal; its client's input
	 * ended; a connection feeds it (its R_CLIENT names it) */
	RF_TTY = 1024, RF_IN_EOF = 2048, RF_IN_TIED = 4096,
	RF_INPUT = 8192,	/* a connection that ran an -i/-t job */
	RF_ENDED = 16384,	/* HELD: an end the helper told already */
};
enum { R_CL_IDLE = 1, R_CL_FOLLOW, R_CL_QUEUED };
extern const struct wire_proto proto_resume;

#endif
