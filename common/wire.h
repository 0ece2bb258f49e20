/* The one framing layer every corral link uses.
 *
 * A message is a 12-byte header followed by a body of typed,
 * length-prefixed fields:
 *
 *   header: u32 magic "CRL\x01" | u16 version | u16 type | u32 body length
 *   field:  u16 id | u16 type | u32 length | value (length bytes)
 *
 * All integers are little-endian.  Every message type has a schema (struct
 * wire_msg_spec) in a per-link table (struct wire_proto); the decoder looks
 * the type up and checks every field against it, so no process validates
 * a message with ad-hoc code.  See docs/wire.md. */
#ifndef CORRAL_WIRE_H
#define CORRAL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define WIRE_MAGIC 0x014C5243u	/* "CRL\x01" on the wire */
#define WIRE_VERSION 1
#define WIRE_HDR_LEN 12u
#define WIRE_FIELD_HDR_LEN 8u
#define WIRE_MAX_BODY (128u * 1024u)	/* hard cap on any body */
#define WIRE_MAX_FIELDS 4096u		/* hard cap on fields per message */
#define WIRE_MAX_FDS 4u			/* hard cap on fds per message */
/* The largest U64 any stored field may carry: SQLite integers are signed,
 * so every bound stops here and nothing needs clamping later. */
#define WIRE_U63_MAX 0x7fffffffffffffffull

enum wire_ftype {
	WT_U32 = 1,
	WT_U64 = 2,
	WT_STR = 4,	/* bytes with no NUL; delivered NUL-terminated */
	WT_BYTES = 5,
};

/* Which way a message travels on its link: requests go to the side that
 * serves (corrald for clients, the helper for corrald); replies and
 * events come back.  Each end decodes with the view of the direction it
 * receives, so a message sent the wrong way is refused while decoding. */
enum wire_dir {
	WD_REQ = 1,
	WD_REP = 2,
};

enum {
	WF_REQUIRED = 1,
	WF_REPEATED = 2,
};

struct wire_field_spec {
	uint16_t id;
	uint8_t type;		/* enum wire_ftype */
	uint8_t flags;		/* WF_* */
	const char *name;
	uint64_t min, max;	/* ints: value bounds; str/bytes: length bounds */
	uint32_t max_count;	/* WF_REPEATED: most occurrences */
};

struct wire_msg_spec {
	uint16_t type;
	uint8_t dir;		/* enum wire_dir */
	const char *name;
	uint8_t min_fds, max_fds;
	uint32_t max_body;	/* 0: WIRE_MAX_BODY */
	const struct wire_field_spec *fields;
	size_t nfields;
};

/* One direction of one link: the messages of the table that travel in
 * direction dir.  Encoders name the view their peer decodes with. */
struct wire_proto {
	const char *name;
	const struct wire_msg_spec *msgs;	/* the whole link's table */
	size_t nmsgs;
	uint8_t dir;		/* the only direction this view accepts */
};

struct wire_val {
	uint16_t id;
	uint8_t type;
	uint32_t len;
	const uint8_t *p;	/* into the message's arena; STR is NUL-terminated */
	uint64_t u;		/* U32/U64 value */
};

struct wire_msg {
	const struct wire_msg_spec *spec;
	uint16_t type;
	struct wire_val *vals;
	uint32_t nvals;
	int fds[WIRE_MAX_FDS];
	uint32_t nfds;
	uint8_t *arena;
};

/* Results of the receiving functions (wire_io.c).  WIRE_BAD: a malformed
 * message was consumed whole and the link is still usable; WIRE_ERR: the
 * link is unusable (I/O error, framing lost). */
enum { WIRE_ERR = -1, WIRE_AGAIN = 0, WIRE_READY = 1, WIRE_EOF = 2,
       WIRE_BAD = 3 };

/* --- decoding (wire.c) ----------------------------------------------- */

/* The spec of type in p's direction, or NULL. */
const struct wire_msg_spec *wire_find_spec(const struct wire_proto *p,
					   uint16_t type);

/* Check a header; on success *type and *body_len are set. */
int wire_check_header(const struct wire_proto *p, const uint8_t *hdr,
		      uint16_t *type, uint32_t *body_len, struct cerr *e);

/* Decode one whole message (header + body, exactly len bytes).  On
 * success m owns its memory; free it with wire_msg_free. */
int wire_decode(const struct wire_proto *p, const uint8_t *buf, size_t len,
		struct wire_msg *m, struct cerr *e);

/* Decode a buffer of whole messages one after another (records in a
 * file, never a link); fn owns each (keeps or frees it); the first
 * failure stops. */
typedef int (*wire_each_fn)(void *ctx, struct wire_msg *m, struct cerr *e);
int wire_decode_each(const struct wire_proto *p, const uint8_t *buf, size_t len,
		     wire_each_fn fn, void *ctx, struct cerr *e);

/* Close fds not taken and free the arena.  Safe on a zeroed msg. */
void wire_msg_free(struct wire_msg *m);

bool wire_has(const struct wire_msg *m, uint16_t id);
uint64_t wire_u64(const struct wire_msg *m, uint16_t id, uint64_t dflt);
uint32_t wire_u32(const struct wire_msg *m, uint16_t id, uint32_t dflt);
const char *wire_str(const struct wire_msg *m, uint16_t id);
const uint8_t *wire_bytes(const struct wire_msg *m, uint16_t id, size_t *len);
size_t wire_count(const struct wire_msg *m, uint16_t id);
/* The idx-th occurrence of a repeated field, or NULL. */
const struct wire_val *wire_nth(const struct wire_msg *m, uint16_t id,
				size_t idx);
/* A malloc'd NULL-terminated array of the strings of a repeated STR
 * field, pointing into m's arena (valid while m lives). */
const char **wire_strv(const struct wire_msg *m, uint16_t id, size_t *count);
/* Take ownership of received fd idx (-1 if absent). */
int wire_take_fd(struct wire_msg *m, uint32_t idx);

/* --- encoding (wire.c) ----------------------------------------------- */

struct wire_out {
	const struct wire_proto *proto;
	uint16_t type;
	uint8_t *buf;
	size_t len, cap;
	int fds[WIRE_MAX_FDS];	/* borrowed, never closed by wire_out */
	uint32_t nfds;
	bool failed;
	struct cerr err;
};

void wire_out_init(struct wire_out *o, const struct wire_proto *p,
		   uint16_t type);
void wire_put_u32(struct wire_out *o, uint16_t id, uint32_t v);
void wire_put_u64(struct wire_out *o, uint16_t id, uint64_t v);
void wire_put_str(struct wire_out *o, uint16_t id, const char *s);
void wire_put_bytes(struct wire_out *o, uint16_t id, const void *p, size_t n);
void wire_put_fd(struct wire_out *o, int fd);
/* Patch the header and validate the result against its own schema, so a
 * sender never puts a message on the wire its peer would reject.  Errors
 * from the put calls are sticky and reported here. */
int wire_out_finish(struct wire_out *o, struct cerr *e);
void wire_out_free(struct wire_out *o);

#endif
