/* Anti-spoofing rules on a job's bridge port (nftables, bridge family),
 * made by running nft(8); nft.c says why that is safe. */
#ifndef CORRAL_HELPER_NFT_H
#define CORRAL_HELPER_NFT_H

#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* From port (the host end of the job's veth) only frames from mac, IPv4
 * from addr (host byte order), ARP that says both.  Made before the
 * veth exists, so the port is never open. */
int nft_port_add(const char *port, const uint8_t mac[6], uint32_t addr,
		 struct cerr *e);
/* A running nft. */
struct nft_proc {
	pid_t pid;	/* -1: none */
	int errfd;
};
/* The port's rules gone, whether or not they were there: start deleting
 * them (p->pid -1 if that could not start), then finish (if the quick
 * delete failed, a thorough one runs to the end). */
int nft_port_del_start(const char *port, struct nft_proc *p, struct cerr *e);
int nft_port_del_finish(const char *port, struct nft_proc *p, struct cerr *e);
/* Reap a started nft (at most 5 s); its failure named in e. */
int nft_wait(struct nft_proc *p, struct cerr *e);

#endif
