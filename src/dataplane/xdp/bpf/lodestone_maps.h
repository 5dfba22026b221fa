/* SPDX-License-Identifier: Apache-2.0 OR GPL-2.0 */
/*
 * The map layout: the whole contract between the XDP program (lodestone.bpf.c)
 * and the TypeScript control plane (../layout.ts mirrors every struct and
 * constant here; test/unit/xdp/layout.test.ts compiles a probe against this
 * header and checks sizes and offsets field by field). Change both together.
 *
 * Addresses are stored in network byte order in four 32-bit words; IPv4 uses
 * word 0 and leaves the rest zero. Ports are in network byte order too, so the
 * fast path compares and copies them without swapping.
 */
#ifndef LODESTONE_MAPS_H
#define LODESTONE_MAPS_H

#include <linux/types.h>

/* Capacities. The ring array's size is set by the loader before load. */
#define LS_MAX_VIPS 256
#define LS_MAX_REALS 4096
#define LS_RING_ENTRIES_DEFAULT (1 << 20)
#define LS_CT_ENTRIES 262144
#define LS_NAT_ENTRIES 262144

/* Ring slot value meaning "no backend". */
#define LS_REAL_NONE 0xffffffffu

/* Address families as stored in keys (not AF_*: one byte, stable across libcs). */
#define LS_FAMILY_V4 4
#define LS_FAMILY_V6 6

/* ls_vip_meta.flags */
#define LS_VIP_NAT (1u << 0)         /* rewrite dst to the backend, src to nat_addr; else DSR */
#define LS_VIP_HASH_SRC (1u << 1)    /* hash on the source address only */
#define LS_VIP_HASH_3TUPLE (1u << 2) /* hash on (src, dst, proto): every fragment lands with its flow */
#define LS_VIP_FRAG_ALIAS (1u << 3)  /* the port-0 copy of a 3-tuple VIP: matches fragments only */

/* ls_real.flags */
#define LS_REAL_ACTIVE (1u << 0) /* established flows may stay on this backend */

/* Drop reasons: index into ls_stats.drops. */
#define LS_DROP_NO_BACKEND 0 /* the ring slot is empty: no backend has weight */
#define LS_DROP_BAD_REAL 1   /* the ring named a backend slot that is not programmed */
#define LS_DROP_NAT_PORTS 2  /* no free NAT source port after the bounded search */
#define LS_DROP_REDIRECT 3   /* bpf_redirect to the backend's interface failed */
#define LS_DROP_REASONS 4

/* The slot of vip_stats that counts traffic matching no VIP (passed to the kernel). */
#define LS_STATS_GLOBAL LS_MAX_VIPS

struct ls_vip_key {
	__u32 addr[4];
	__u16 port; /* 0 = every port; fragments (no ports) look up port 0 only */
	__u8 proto; /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 family;
};

struct ls_vip_meta {
	__u32 flags;
	__u32 vip_id;      /* index into vip_stats */
	__u32 ring_offset; /* first slot of this VIP's Maglev ring in `ring` */
	__u32 ring_size;   /* prime; 0 = no ring yet (drop, counted as no_backend) */
	__u32 nat_addr[4]; /* NAT mode: the load balancer's own address backends reply to */
	__u16 nat_port_min; /* NAT mode: source ports handed out, host byte order, inclusive */
	__u16 nat_port_max;
};

struct ls_real {
	__u32 addr[4];
	__u16 port; /* NAT mode: the backend's port; DSR keeps the VIP port */
	__u8 family;
	__u8 flags;
	__u8 mac[6];     /* next hop towards the backend */
	__u8 src_mac[6]; /* our MAC on ifindex, used when redirecting to another interface */
	__u32 ifindex;   /* 0 or the ingress interface = XDP_TX, else bpf_redirect */
	__u32 vip_id;    /* owner VIP: a conntrack entry only counts for the VIP it was made for */
};

/* A flow as seen on the wire: the conntrack key, and (for replies) the NAT key. */
struct ls_flow_key {
	__u32 src[4];
	__u32 dst[4];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 family;
	__u8 pad[2];
};

/* ls_flow.closing: FINs seen, so the entry can go with the flow's last ACK. */
#define LS_FLOW_FIN_FWD (1u << 0)   /* from the client */
#define LS_FLOW_FIN_REPLY (1u << 1) /* from the backend (NAT mode: replies pass us) */

struct ls_flow {
	__u32 real_id;
	__u32 vip_id;
	__u64 created_ns;
	__u16 nat_port; /* NAT mode: our source port for this flow, network order */
	__u8 closing;   /* LS_FLOW_FIN_* */
	__u8 pad[5];
};

/* NAT replies: keyed by the reply's ls_flow_key (backend -> nat_addr:nat_port). */
struct ls_nat_entry {
	__u32 client[4];
	__u32 vip[4];
	__u16 client_port;
	__u16 vip_port;
	__u8 client_mac[6]; /* where the client's packets came from (router or client) */
	__u8 lb_mac[6];     /* our MAC on that side */
	__u32 ifindex;      /* interface the client's packets arrived on */
	__u32 vip_id;
	__u32 real_id;
};

struct ls_stats {
	__u64 packets;
	__u64 bytes;
	__u64 new_flows; /* conntrack entries created for a flow's first packet */
	__u64 ct_misses; /* mid-flow packets (TCP without SYN) that found no entry */
	__u64 reply_packets; /* NAT replies translated back to the client */
	__u64 reply_bytes;
	__u64 drops[LS_DROP_REASONS];
};

#endif
