/* The names of the fds systemd's file descriptor store hands back
 * (LISTEN_FDNAMES), as corrald parked them: "helper" (the helper link),
 * "out-<job id>", "err-<job id>" and "tty-<job id>" (a job's output read
 * ends, a -t job's pty master).  They come from outside corrald's
 * process, so they are parsed here and nowhere else, with every length
 * and count bounded.  See docs/restart.md. */
#ifndef CORRAL_FDNAMES_H
#define CORRAL_FDNAMES_H

#include <stddef.h>

#include "bounds.h"
#include "err.h"

#define FDNAME_LEN_MAX 255	/* systemd's FDNAME= limit */
#define FDSTORE_FDS_MAX 65536	/* fds taken back at most */

enum fdname_kind {
	FDN_BAD,	/* not one of ours, or ill-formed: closed */
	FDN_HELPER,
	FDN_OUT,
	FDN_ERR,
	FDN_TTY,
};

struct fdname {
	enum fdname_kind kind;
	char job_id[JOB_ID_LEN + 1];	/* FDN_OUT, FDN_ERR, FDN_TTY */
};

/* One name, len bytes (no NUL needed). */
void fdname_parse(const char *name, size_t len, struct fdname *out);

/* The name corrald parks an fd of kind under: buf holds FDNAME_LEN_MAX+1. */
void fdname_format(enum fdname_kind kind, const char *job_id, char *buf);

/* LISTEN_FDS and LISTEN_FDNAMES: the count (decimal, 0 to
 * FDSTORE_FDS_MAX) and the names of fds 3, 4, ... separated by ':'
 * (names may be NULL: every fd unnamed).  fn is called once per fd with
 * its index (fd 3 + i) and its parsed name; a missing or ill-formed name
 * is FDN_BAD.  Names past the count are ignored.  -1 (e set) only for a
 * bad count or fn's own failure. */
typedef int (*fdnames_fn)(void *ctx, unsigned i, const struct fdname *n,
			  struct cerr *e);
int fdnames_each(const char *count, const char *names, fdnames_fn fn,
		 void *ctx, struct cerr *e);

#endif
