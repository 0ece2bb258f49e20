/* Parsers for values people type and files hold: sizes, durations,
 * numbers, job ids.  Each names the bad value in its error. */
#ifndef CORRAL_PARSE_H
#define CORRAL_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

/* Unsigned decimal, no sign, no spaces, no overflow. */
int parse_u64(const char *s, uint64_t *out, struct cerr *e);

/* Bytes: "512", "512K", "1.5G", "2MiB", "1M" (K/M/G/T, powers of 1024,
 * optional "B" or "iB").  Zero allowed. */
int parse_size(const char *s, uint64_t *out, struct cerr *e);

/* Duration in ms: "250ms", "10s", "1.5m", "2h", "1d"; a bare number is
 * seconds. */
int parse_duration_ms(const char *s, uint64_t *out, struct cerr *e);

/* CPUs as a decimal ("1.5", "0.2") -> cpu.max quota in usec per 100 ms.
 * At most three decimals; must be > 0. */
int parse_cpus(const char *s, uint64_t *quota_usec, struct cerr *e);

/* "yes"/"no"/"true"/"false"/"1"/"0". */
int parse_bool(const char *s, bool *out, struct cerr *e);

/* A lower-case canonical UUID, exactly 36 bytes. */
bool job_id_valid(const char *s);

/* A cpuset list: digits, ',' and '-', at most 256 bytes, non-empty. */
bool cpuset_valid(const char *s);

#endif
