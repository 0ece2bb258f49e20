/* The CLI's pure helpers: option values in, text out.  Nothing here
 * talks to corrald, so all of it is unit-tested (tests/unit/test_cli.c). */
#ifndef CORRAL_CLIFMT_H
#define CORRAL_CLIFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pwd.h>
#include <stdio.h>

#include "err.h"
#include "libcorral.h"
#include "parse.h"

/* corral's own exit codes; everything else is the job's. */
enum {
	EXIT_CORRAL = 125,	/* usage, connection, refusal, bad reply, lost */
	EXIT_NOSTART = 126,	/* the job could not be started */
	EXIT_NOTFOUND = 127,	/* the command was not found (stage job-exec, ENOENT) */
	EXIT_TIMEDOUT = 124,	/* its --timeout ran out, as timeout(1) says */
};

/* --- io limits ------------------------------------------------------- */

enum io_kind { IO_RBPS, IO_WBPS, IO_RIOPS, IO_WIOPS };

/* Turn a device name ("vda", "/dev/vda") into major:minor.  "MAJ:MIN" is
 * handled before this is called. */
typedef int (*io_resolve_fn)(const char *dev, uint32_t *major,
			     uint32_t *minor, struct cerr *e);

/* stat() the device (a bare name means /dev/NAME); must be a block device. */
int io_resolve_dev(const char *dev, uint32_t *major, uint32_t *minor,
		   struct cerr *e);

/* Parse one "DEV=VALUE" given to flag (for messages) and merge it into
 * lim->io: one entry per device, later flags override the same field.
 * Rates take size suffixes (1M = 1048576 bytes/s); iops a plain count.
 * Zero is refused (on the wire it would mean "no limit"). */
int io_spec_merge(struct runopts *lim, const char *flag,
		  enum io_kind kind, const char *spec, io_resolve_fn resolve,
		  struct cerr *e);

/* --- exit status ----------------------------------------------------- */

/* What `corral run` / `corral wait` exit with for a final job record. */
int job_exit_status(const struct corral_job *j);

/* What `corral run` exits with when RUN was answered with ERROR naming
 * start stage (STAGE_NONE: a refusal before any start). */
int run_error_status(unsigned stage, const struct cerr *e);

/* --- humanizing ------------------------------------------------------ */

/* fmt_size, fmt_duration and fmt_cpus are parse.h's. */

/* cpu time in seconds with three decimals: 1234567 us -> "1.235". */
const char *fmt_cpu_seconds(uint64_t usec, char *buf, size_t len);

/* Local time "2024-05-01 12:00:03"; "-" for 0. */
const char *fmt_time_ms(uint64_t ms, char *buf, size_t len);

/* "SIGKILL", or "SIG42" for a number without a name. */
const char *fmt_signal(uint32_t sig, char *buf, size_t len);

/* Strings from users never reach the terminal raw: control characters
 * show as \n \t \r \xHH, bytes that are not UTF-8 as \xHH, C1
 * controls, U+2028/2029 and bidi controls as \uHHHH, a backslash as \\.
 * Output is cut to at most width bytes (and the buffer), ending in "..."
 * when cut, never inside an escape or a UTF-8 sequence. */

/* argv as shell words joined with spaces, so it can be pasted back:
 * sh -c 'echo hi', 'it'\''s', $'a\nb' when something must be escaped. */
const char *fmt_command(const char *const *argv, size_t argc, size_t width,
			char *buf, size_t len);

/* One value for a human column or line, escaped as above, unquoted. */
const char *fmt_text(const char *s, size_t width, char *buf, size_t len);

/* The EXIT column of `corral ps`: "0", "SIGKILL", or "-". */
const char *fmt_exit(const struct corral_job *j, char *buf, size_t len);

/* --- JSON ------------------------------------------------------------ */

/* A JSON string literal with quotes.  '"' '\\' and control characters
 * are escaped (\n \t \r, others \u00XX), and so are C1 controls,
 * U+2028/2029 and bidi controls (\uXXXX); bytes that are not valid UTF-8
 * become \ufffd so the output is always valid JSON. */
void json_str(FILE *f, const char *s);

/* A whole job record as one JSON object (no newline). */
void json_job(FILE *f, const struct corral_job *j);

/* One audit row as a JSON object. */
/* pw, if not NULL, adds the user's name. */
void json_audit_row(FILE *f, const struct corral_audit_row *r,
		    const struct passwd *pw);

#endif
