/* Anti-spoofing rules on a job's bridge port (nftables, bridge family),
 * made by running nft(8); nft.c says why that is safe. */
#ifndef CORRAL_HELPER_NFT_H
#define CORRAL_HELPER_NFT_H

#include <stdint.h>

#include "err.h"

/* From port (the host end of the job's veth) only frames from mac, IPv4
 * from addr (host byte order), ARP that says both.  Made before the
 * veth exists, so the port is never open. */
int nft_port_add(const char *port, const uint8_t mac[6], uint32_t addr,
		 struct cerr *e);
/* The port's rules gone; whether or not they were there. */
int nft_port_del(const char *port, struct cerr *e);

#endif
