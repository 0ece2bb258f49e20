/* Message types and fields of corral's two links.  The tables in proto.c
 * are the only definition of what each side accepts; docs/protocol.md
 * describes them for people. */
#ifndef CORRAL_PROTO_H
#define CORRAL_PROTO_H

#include "wire.h"

/* Field ids, shared by both links (a message's schema says which of them
 * it may carry). */
enum {
	F_JOB_ID = 1,	/* STR, a lower-case UUID, 36 bytes */
	F_UID,		/* U32 */
	F_ARGV,		/* STR, repeated */
	F_ENV,		/* STR "KEY=VALUE", repeated */
	F_CWD,		/* STR, absolute path */
	F_MEM_MAX,	/* U64 bytes -> memory.max */
	F_SWAP_MAX,	/* U64 bytes -> memory.swap.max */
	F_CPU_QUOTA,	/* U64 usec per 100000 usec period -> cpu.max */
	F_PIDS_MAX,	/* U64 -> pids.max */
	F_CPUSET_CPUS,	/* STR -> cpuset.cpus */
	F_CPUSET_MEMS,	/* STR -> cpuset.mems */
	F_IO_LIMIT,	/* BYTES, struct io_limit encoded, repeated */
	F_NS_OFF,	/* U32, NS_* bits of namespaces NOT to create */
	F_ROOTFS,	/* STR, absolute path of an allowed rootfs */
	F_SIGNAL,	/* U32 signal number */
	F_PID,		/* U32 */
	F_STAGE,	/* STR, name of the start stage that failed */
	F_ERRNO,	/* U32 */
	F_MESSAGE,	/* STR, human-readable */
	F_WSTATUS,	/* U32, wait status as from waitpid() */
	F_OOM_KILLS,	/* U64, memory.events oom_kill */
	F_CPU_USEC,	/* U64, cpu.stat usage_usec */
	F_MEM_PEAK,	/* U64, memory.peak */
	F_CONTROLLERS,	/* STR, space separated cgroup controllers */
	/* client link */
	F_NAME = 40,	/* STR job name */
	F_TIMEOUT_MS,	/* U64 */
	F_JOB_REF,	/* STR: id, unique id prefix or name */
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
};

/* Namespaces a job gets unless F_NS_OFF turns them off (policy allowing). */
enum {
	NS_NET = 1,
	NS_PID = 2,
	NS_MNT = 4,
	NS_UTS = 8,
	NS_IPC = 16,
	NS_ALL = 31,
};

enum { STREAM_STDOUT = 1, STREAM_STDERR = 2, STREAM_META = 4 };

/* F_IO_LIMIT value: 40 bytes, little-endian u32 major, u32 minor, then
 * u64 rbps, wbps, riops, wiops (0 = no limit, written as "max"). */
#define IO_LIMIT_LEN 40
#define IO_LIMIT_MAX 16
struct io_limit {
	uint32_t major, minor;
	uint64_t rbps, wbps, riops, wiops;
};
void io_limit_encode(const struct io_limit *l, uint8_t out[IO_LIMIT_LEN]);
void io_limit_decode(const uint8_t in[IO_LIMIT_LEN], struct io_limit *l);

/* Bounds shared by both links. */
#define ARGV_MAX 1024		/* argv entries */
#define ARG_LEN_MAX 8192	/* one argv entry */
#define ENV_MAX 1024		/* env entries */
#define ENV_LEN_MAX 8192	/* one env entry */
#define PATH_LEN_MAX 4096
#define NAME_LEN_MAX 64
#define CPUSET_LEN_MAX 256
#define LOG_CHUNK_MAX 65536	/* bytes in one LOG_DATA */
#define CPU_PERIOD_USEC 100000

/* Helper link: corrald <-> corral-helper (SOCK_SEQPACKET). */
enum {
	H_START = 1,		/* manager -> helper, 2 fds: stdout, stderr */
	H_SIGNAL,		/* manager -> helper */
	H_KILL,			/* manager -> helper */
	H_READY = 16,		/* helper -> manager, once after start-up */
	H_STARTED,
	H_START_FAILED,
	H_EXITED,
	H_ERROR,		/* a request was refused */
};
extern const struct wire_proto proto_helper;

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
	C_STARTED = 32,		/* reply to RUN: the job id */
	C_LOG_DATA,		/* also the on-disk log record */
	C_JOB,			/* one job record */
	C_AUDIT_ROW,
	C_DONE,			/* end of a list */
	C_OK,
	C_ERROR,
};
extern const struct wire_proto proto_client;

#endif
