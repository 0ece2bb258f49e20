/* The transports of corral's links, apart from the codec (wire.h), as in
 * OpenBSD's imsg: SOCK_SEQPACKET with SCM_RIGHTS for the helper link, and
 * incremental reassembly of a SOCK_STREAM for the client link.  Results
 * are the WIRE_* values of wire.h. */
#ifndef CORRAL_WIRE_IO_H
#define CORRAL_WIRE_IO_H

#include "wire.h"

/* --- SOCK_SEQPACKET, with SCM_RIGHTS --------------------------------- */

/* Send a finished message and its fds in one datagram. */
int wire_send_packet(int sock, const struct wire_out *o, struct cerr *e);

/* Receive one datagram: WIRE_READY, WIRE_AGAIN (non-blocking socket,
 * nothing there), WIRE_EOF, WIRE_BAD (a bad datagram was consumed; the
 * socket is still usable) or WIRE_ERR (the socket is not).  Received fds
 * are CLOEXEC; on any failure every received fd has been closed. */
int wire_recv_packet(int sock, const struct wire_proto *p, struct wire_msg *m,
		     struct cerr *e);

/* --- SOCK_STREAM: incremental reassembly ----------------------------- */

struct wire_reader {
	uint8_t hdr[WIRE_HDR_LEN];
	uint32_t hlen;
	uint8_t *body;		/* the header's room, then the body: grows
				 * with the body bytes received */
	uint32_t blen, bwant;	/* received, and what the header claims */
	uint32_t bcap;		/* bytes allocated for body: what this
				 * unfinished message holds in memory */
};

/* Feed bytes; consumes at most up to the end of one message and sets
 * *used.  WIRE_READY with m filled, WIRE_AGAIN if more bytes are needed,
 * WIRE_BAD if a whole message was consumed but did not decode (the
 * stream is still framed), or WIRE_ERR (a bad header: framing lost). */
int wire_reader_feed(struct wire_reader *r, const struct wire_proto *p,
		     const uint8_t *data, size_t len, size_t *used,
		     struct wire_msg *m, struct cerr *e);

/* Read from fd (blocking or not) without reading past one message.
 * As wire_reader_feed, plus WIRE_EOF (clean, between messages); EOF
 * inside a message is WIRE_ERR. */
int wire_reader_read(int fd, struct wire_reader *r, const struct wire_proto *p,
		     struct wire_msg *m, struct cerr *e);

void wire_reader_reset(struct wire_reader *r);

/* Finish o, write it whole to a file (records in a memfd), free it. */
int wire_write_file(int fd, struct wire_out *o, struct cerr *e);

/* Write a whole finished message to a blocking stream socket. */
int wire_send_stream(int fd, const struct wire_out *o, struct cerr *e);

#endif
