/* Parsers for values people type and files hold (sizes, durations,
 * numbers, job ids and names), each naming the bad value in its error;
 * and the formatters that write sizes, durations and CPUs for people. */
#ifndef CORRAL_PARSE_H
#define CORRAL_PARSE_H

#include <stdbool.h>
#include <stddef.h>
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
 * At most three decimals; the bounds are runopt.def's. */
int parse_cpus(const char *s, uint64_t *quota_usec, struct cerr *e);

/* Octal digits only ("022", "0077"), at most 0777777; the option's own
 * bounds are the caller's. */
int parse_octal(const char *s, uint64_t *out, struct cerr *e);

/* A signal: a name with or without SIG, any case (TERM, sigusr1), a
 * number 1-64, or RTMIN+N / RTMAX-N.  Whether it may be sent is the
 * caller's to check. */
int parse_signal(const char *s, int *sig, struct cerr *e);

/* "yes"/"no"/"true"/"false"/"1"/"0". */
int parse_bool(const char *s, bool *out, struct cerr *e);

/* A lower-case canonical UUID, exactly 36 bytes. */
bool job_id_valid(const char *s);

/* A cpuset list: digits, ',' and '-', at most CPUSET_LEN_MAX bytes,
 * non-empty. */
bool cpuset_valid(const char *s);

/* A job name: 1 to NAME_LEN_MAX of letters, digits and ._-+@, not
 * starting with '-' or '.', and not a job id. */
bool job_name_valid(const char *s);

/* An environment variable's name, its first n bytes: a letter or '_',
 * then letters, digits and '_' (POSIX's portable names; a shell can set
 * nothing else). */
bool env_name_valid(const char *s, size_t n);

/* A network's name in helper.conf and in --network: 1 to NET_NAME_MAX
 * of a-z, 0-9, '_', '-', '.', starting with a letter or digit. */
bool net_name_valid(const char *s);

/* A dotted-quad IPv4 address, exactly four decimal parts of 0-255 with no
 * leading zeros; *out in host byte order. */
int parse_ipv4(const char *s, uint32_t *out, struct cerr *e);

/* --network's value, "NAME" or "NAME=A.B.C.D": the name into name (of
 * NET_NAME_MAX + 1 bytes), the address into *addr (0: none given). */
int parse_netref(const char *s, char *name, uint32_t *addr, struct cerr *e);

/* "512 MiB", "1.5 GiB", "100 B".  buf of at least 32 bytes. */
const char *fmt_size(uint64_t bytes, char *buf, size_t len);

/* "250ms", "12.345s", "3m05s", "2h03m04s", "1d02h03m". */
const char *fmt_duration(uint64_t ms, char *buf, size_t len);

/* cpu.max quota -> CPUs: 150000 -> "1.5", 100000 -> "1", 1250 -> "0.013". */
const char *fmt_cpus(uint64_t quota_usec, char *buf, size_t len);

#endif
