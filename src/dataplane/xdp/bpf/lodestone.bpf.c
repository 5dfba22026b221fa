// SPDX-License-Identifier: Apache-2.0 OR GPL-2.0
/*
 * lodestone's XDP fast path: L4 load balancing of TCP and UDP over IPv4 and IPv6.
 *
 *   packet -> VIP lookup (addr, port, proto) -> conntrack (flow -> backend)
 *          -> on miss: Maglev ring slot = hash(flow) % ring_size -> backend
 *          -> DSR: rewrite destination MAC, send back out (XDP_TX) or redirect
 *          -> NAT: rewrite dst to the backend and src to our address + a port,
 *                  remember the reverse mapping, translate the replies back.
 * Everything that is not for a VIP (or a NAT reply) goes to the kernel (XDP_PASS).
 *
 * The control plane (TypeScript, ../loader.ts + ../maps.ts) owns every map: it
 * writes VIPs, backends ("reals") and rings, reads counters, flushes conntrack.
 * Map layout: lodestone_maps.h.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lodestone_maps.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LS_MAX_VIPS);
	__type(key, struct ls_vip_key);
	__type(value, struct ls_vip_meta);
} vips SEC(".maps");

/* Every VIP's Maglev ring, back to back: slot i of a VIP is ring[ring_offset + i]. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LS_RING_ENTRIES_DEFAULT);
	__type(key, __u32);
	__type(value, __u32);
} ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LS_MAX_REALS);
	__type(key, __u32);
	__type(value, struct ls_real);
} reals SEC(".maps");

/*
 * Connection table. LRU with per-CPU LRU lists (BPF_F_NO_COMMON_LRU): each CPU
 * evicts from its own list, so the fast path takes no shared LRU lock, yet every
 * CPU sees every flow. A flow's packets do not always arrive on one CPU (veth
 * runs XDP on the sender's CPU; RSS can rehash), and a flow must keep its
 * backend whichever CPU sees it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LS_CT_ENTRIES);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct ls_flow_key);
	__type(value, struct ls_flow);
} conntrack SEC(".maps");

/* NAT reverse mappings, keyed by the reply flow (backend -> us). Shared LRU. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LS_NAT_ENTRIES);
	__type(key, struct ls_flow_key);
	__type(value, struct ls_nat_entry);
} nat SEC(".maps");

/* Per-CPU counters: one slot per VIP (vip_id) plus LS_STATS_GLOBAL. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LS_MAX_VIPS + 1);
	__type(key, __u32);
	__type(value, struct ls_stats);
} vip_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LS_MAX_REALS);
	__type(key, __u32);
	__type(value, struct ls_stats);
} real_stats SEC(".maps");

#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
#define NEXTHDR_FRAGMENT 44

/* What the parser learned about a packet; offsets are from ctx->data. */
struct packet {
	struct ls_flow_key flow;
	__u32 l3_off;
	__u32 l4_off;
	__u8 fragment; /* ports unknown or not to be trusted: hash on 3 tuple */
	__u8 tcp_syn;
	__u8 tcp_rst;
	__u8 tcp_fin;
	__u8 tcp_bare; /* no payload: a pure ACK (or SYN, FIN, RST) */
	__u16 l3_len;  /* IP header + payload, from the IP header */
	__u64 len;
};

/* ---- hashing: jhash (Bob Jenkins), as in the kernel's jhash.h ---- */

static __always_inline __u32 rol32(__u32 word, unsigned int shift)
{
	return (word << shift) | (word >> ((-shift) & 31));
}

#define __jhash_mix(a, b, c)                                                                      \
	{                                                                                         \
		a -= c; a ^= rol32(c, 4); c += b;                                                 \
		b -= a; b ^= rol32(a, 6); a += c;                                                 \
		c -= b; c ^= rol32(b, 8); b += a;                                                 \
		a -= c; a ^= rol32(c, 16); c += b;                                                \
		b -= a; b ^= rol32(a, 19); a += c;                                                \
		c -= b; c ^= rol32(b, 4); b += a;                                                 \
	}

#define __jhash_final(a, b, c)                                                                    \
	{                                                                                         \
		c ^= b; c -= rol32(b, 14);                                                        \
		a ^= c; a -= rol32(c, 11);                                                        \
		b ^= a; b -= rol32(a, 25);                                                        \
		c ^= b; c -= rol32(b, 16);                                                        \
		a ^= c; a -= rol32(c, 4);                                                         \
		b ^= a; b -= rol32(a, 14);                                                        \
		c ^= b; c -= rol32(b, 24);                                                        \
	}

#define JHASH_INITVAL 0xdeadbeef

/* Hash exactly 9 words: src[4], dst[4], ports-or-proto. */
static __always_inline __u32 jhash_9words(const __u32 *k, __u32 initval)
{
	__u32 a, b, c;
	a = b = c = JHASH_INITVAL + (9 << 2) + initval;
	a += k[0]; b += k[1]; c += k[2];
	__jhash_mix(a, b, c);
	a += k[3]; b += k[4]; c += k[5];
	__jhash_mix(a, b, c);
	a += k[6]; b += k[7]; c += k[8];
	__jhash_final(a, b, c);
	return c;
}

static __always_inline __u32 flow_hash(const struct packet *pkt, __u32 vip_flags)
{
	__u32 words[9] = {};
	int i;

#pragma unroll
	for (i = 0; i < 4; i++)
		words[i] = pkt->flow.src[i];
	if (!(vip_flags & LS_VIP_HASH_SRC)) {
#pragma unroll
		for (i = 0; i < 4; i++)
			words[4 + i] = pkt->flow.dst[i];
		words[8] = pkt->flow.proto;
		if (!pkt->fragment && !(vip_flags & LS_VIP_HASH_3TUPLE))
			words[8] ^= ((__u32)pkt->flow.sport << 16) | pkt->flow.dport;
	}
	return jhash_9words(words, 0);
}

/* ---- checksums: RFC 1624 incremental updates through bpf_csum_diff ---- */

static __always_inline __u16 csum_fold(__u64 csum)
{
	int i;
#pragma unroll
	for (i = 0; i < 4; i++) {
		if (csum >> 16)
			csum = (csum & 0xffff) + (csum >> 16);
	}
	return ~csum;
}

/* ---- parsing ---- */

static __always_inline int parse_l4(void *data, void *data_end, struct packet *pkt)
{
	if (pkt->fragment)
		return 0;
	if (pkt->flow.proto == IPPROTO_TCP) {
		struct tcphdr *tcp = data + pkt->l4_off;
		if ((void *)(tcp + 1) > data_end)
			return -1;
		pkt->flow.sport = tcp->source;
		pkt->flow.dport = tcp->dest;
		pkt->tcp_syn = tcp->syn && !tcp->ack;
		pkt->tcp_rst = tcp->rst;
		pkt->tcp_fin = tcp->fin;
		pkt->tcp_bare = pkt->l3_len == (pkt->l4_off - pkt->l3_off) + tcp->doff * 4;
	} else {
		struct udphdr *udp = data + pkt->l4_off;
		if ((void *)(udp + 1) > data_end)
			return -1;
		pkt->flow.sport = udp->source;
		pkt->flow.dport = udp->dest;
	}
	return 0;
}

/* 1 = parsed TCP/UDP, 0 = not ours (pass), -1 = truncated (pass: the kernel decides). */
static __always_inline int parse(struct xdp_md *ctx, struct packet *pkt)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return -1;
	pkt->l3_off = sizeof(*eth);
	pkt->len = data_end - data;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + sizeof(*eth);
		if ((void *)(ip + 1) > data_end)
			return -1;
		if (ip->ihl < 5)
			return -1;
		if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
			return 0;
		pkt->flow.family = LS_FAMILY_V4;
		pkt->flow.proto = ip->protocol;
		pkt->flow.src[0] = ip->saddr;
		pkt->flow.dst[0] = ip->daddr;
		pkt->l4_off = sizeof(*eth) + ip->ihl * 4;
		pkt->l3_len = bpf_ntohs(ip->tot_len);
		/* Any fragment, first included: later ones carry no ports, so none may use them. */
		pkt->fragment = (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)) != 0;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + sizeof(*eth);
		__u8 next;
		if ((void *)(ip6 + 1) > data_end)
			return -1;
		next = ip6->nexthdr;
		pkt->l4_off = sizeof(*eth) + sizeof(*ip6);
		pkt->l3_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
		if (next == NEXTHDR_FRAGMENT) {
			/* struct frag_hdr { u8 nexthdr; u8 reserved; be16 frag_off; be32 id; } */
			__u8 *frag = data + pkt->l4_off;
			if ((void *)(frag + 8) > data_end)
				return -1;
			next = frag[0];
			pkt->fragment = 1;
			pkt->l4_off += 8;
		}
		if (next != IPPROTO_TCP && next != IPPROTO_UDP)
			return 0;
		pkt->flow.family = LS_FAMILY_V6;
		pkt->flow.proto = next;
		__builtin_memcpy(pkt->flow.src, &ip6->saddr, 16);
		__builtin_memcpy(pkt->flow.dst, &ip6->daddr, 16);
	} else {
		return 0;
	}
	if (parse_l4(data, data_end, pkt) < 0)
		return -1;
	return 1;
}

/* ---- counters ---- */

static __always_inline struct ls_stats *vip_counters(__u32 vip_id)
{
	return bpf_map_lookup_elem(&vip_stats, &vip_id);
}

static __always_inline struct ls_stats *real_counters(__u32 real_id)
{
	return bpf_map_lookup_elem(&real_stats, &real_id);
}

static __always_inline int drop(struct ls_stats *vs, __u32 reason)
{
	if (vs && reason < LS_DROP_REASONS)
		vs->drops[reason]++;
	return XDP_DROP;
}

/* ---- backend choice ---- */

static __always_inline struct ls_real *usable_real(__u32 real_id, __u32 vip_id, int need_active)
{
	struct ls_real *real = bpf_map_lookup_elem(&reals, &real_id);
	if (!real || real->vip_id != vip_id || real->family == 0)
		return 0;
	if (need_active && !(real->flags & LS_REAL_ACTIVE))
		return 0;
	return real;
}

/* ---- rewriting ---- */

static __always_inline int send(struct xdp_md *ctx, __u32 ifindex, const __u8 *dst_mac,
				const __u8 *src_mac_for_redirect)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	if (ifindex == 0 || ifindex == ctx->ingress_ifindex) {
		/* Out the way it came: our MAC on this side is the frame's destination. */
		__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
		__builtin_memcpy(eth->h_dest, dst_mac, ETH_ALEN);
		return XDP_TX;
	}
	__builtin_memcpy(eth->h_source, src_mac_for_redirect, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, dst_mac, ETH_ALEN);
	return bpf_redirect(ifindex, 0);
}

/*
 * Rewrite addresses and ports of the parsed packet, fixing the IPv4 header and
 * TCP/UDP checksums incrementally. new_src/new_dst are 4 words; ports network order.
 */
static __always_inline int rewrite(struct xdp_md *ctx, struct packet *pkt, const __u32 *new_src,
				   const __u32 *new_dst, __u16 new_sport, __u16 new_dport)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 from[9] = {}, to[9] = {};
	__u16 *l4_csum = 0;
	__u16 *ports;
	__u64 diff;
	int n, i;

	if (pkt->l4_off > 120)
		return -1;
	ports = data + pkt->l4_off;
	if ((void *)(ports + 2) > data_end)
		return -1;

	if (pkt->flow.proto == IPPROTO_TCP) {
		struct tcphdr *tcp = data + pkt->l4_off;
		if ((void *)(tcp + 1) > data_end)
			return -1;
		l4_csum = &tcp->check;
	} else {
		struct udphdr *udp = data + pkt->l4_off;
		if ((void *)(udp + 1) > data_end)
			return -1;
		l4_csum = &udp->check;
	}

	if (pkt->flow.family == LS_FAMILY_V4) {
		struct iphdr *ip = data + sizeof(struct ethhdr);
		if ((void *)(ip + 1) > data_end)
			return -1;
		from[0] = ip->saddr;
		from[1] = ip->daddr;
		to[0] = new_src[0];
		to[1] = new_dst[0];
		diff = bpf_csum_diff(from, 8, to, 8, ~((__u32)ip->check) & 0xffff);
		ip->check = csum_fold(diff);
		ip->saddr = new_src[0];
		ip->daddr = new_dst[0];
		n = 2;
	} else {
		struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);
		if ((void *)(ip6 + 1) > data_end)
			return -1;
#pragma unroll
		for (i = 0; i < 4; i++) {
			from[i] = pkt->flow.src[i];
			from[4 + i] = pkt->flow.dst[i];
			to[i] = new_src[i];
			to[4 + i] = new_dst[i];
		}
		__builtin_memcpy(&ip6->saddr, new_src, 16);
		__builtin_memcpy(&ip6->daddr, new_dst, 16);
		n = 8;
	}

	/* Ports: one 32-bit word (source then destination), as on the wire. */
	from[n] = (__u32)ports[0] | ((__u32)ports[1] << 16);
	ports[0] = new_sport;
	ports[1] = new_dport;
	to[n] = (__u32)ports[0] | ((__u32)ports[1] << 16);

	/* UDP over IPv4 may carry no checksum (0): leave it so. */
	if (!(pkt->flow.proto == IPPROTO_UDP && pkt->flow.family == LS_FAMILY_V4 && *l4_csum == 0)) {
		__u16 folded;
		if (n == 2)
			diff = bpf_csum_diff(from, 12, to, 12, ~((__u32)*l4_csum) & 0xffff);
		else
			diff = bpf_csum_diff(from, 36, to, 36, ~((__u32)*l4_csum) & 0xffff);
		folded = csum_fold(diff);
		if (pkt->flow.proto == IPPROTO_UDP && folded == 0)
			folded = 0xffff;
		*l4_csum = folded;
	}
	return 0;
}

static __always_inline int addr_eq(const __u32 *a, const __u32 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

/* The NAT reverse key of a flow: backend:port -> our address:nat_port. */
static __always_inline void nat_reply_key(struct ls_flow_key *rkey, const struct ls_real *real,
					  const struct ls_vip_meta *vip, __u16 nat_port, __u8 proto,
					  __u8 family)
{
	__builtin_memcpy(rkey->src, real->addr, 16);
	__builtin_memcpy(rkey->dst, vip->nat_addr, 16);
	rkey->sport = real->port;
	rkey->dport = nat_port;
	rkey->proto = proto;
	rkey->family = family;
}

/* NAT: find or claim a source port for this flow; 0 = none free. */
static __always_inline __u16 nat_claim_port(struct xdp_md *ctx, struct packet *pkt,
					    struct ls_vip_meta *vip, struct ls_real *real,
					    __u32 real_id, __u32 hash, __u16 preferred)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ls_flow_key rkey = {};
	struct ls_nat_entry entry = {};
	__u32 range, i;

	if ((void *)(eth + 1) > data_end)
		return 0;
	if (vip->nat_port_max < vip->nat_port_min)
		return 0;
	range = (__u32)vip->nat_port_max - vip->nat_port_min + 1;

	nat_reply_key(&rkey, real, vip, 0, pkt->flow.proto, pkt->flow.family);

	__builtin_memcpy(entry.client, pkt->flow.src, 16);
	__builtin_memcpy(entry.vip, pkt->flow.dst, 16);
	entry.client_port = pkt->flow.sport;
	entry.vip_port = pkt->flow.dport;
	__builtin_memcpy(entry.client_mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(entry.lb_mac, eth->h_dest, ETH_ALEN);
	entry.ifindex = ctx->ingress_ifindex;
	entry.vip_id = vip->vip_id;
	entry.real_id = real_id;

	/* Bounded probe: the preferred port (the one the flow had), then 8 hashed candidates. */
	for (i = 0; i < 9; i++) {
		struct ls_nat_entry *cur;
		__u16 port;
		if (i == 0) {
			if (!preferred)
				continue;
			port = preferred;
		} else {
			port = bpf_htons(vip->nat_port_min + ((hash + i * 0x9e3779b1u) % range));
		}
		rkey.dport = port;
		if (bpf_map_update_elem(&nat, &rkey, &entry, BPF_NOEXIST) == 0)
			return port;
		cur = bpf_map_lookup_elem(&nat, &rkey);
		if (cur && cur->client_port == entry.client_port && cur->vip_port == entry.vip_port &&
		    addr_eq(cur->client, entry.client) && addr_eq(cur->vip, entry.vip))
			return port;
	}
	return 0;
}

/*
 * TCP teardown, so entries go when their flow does rather than by LRU ageing alone:
 * 1 = this packet ends the flow (a RST, or the last ACK after a FIN each way), forget
 * it once the packet is on its way; 0 = keep. `flow` may be null (no entry yet). FINs
 * are only seen both ways in NAT mode (DSR replies bypass us), so DSR forgets on RST.
 */
static __always_inline int tcp_flow_ends(struct ls_flow *flow, const struct packet *pkt, __u8 fin_bit)
{
	if (pkt->flow.proto != IPPROTO_TCP || pkt->fragment)
		return 0;
	if (pkt->tcp_rst)
		return 1;
	if (!flow)
		return 0;
	if (pkt->tcp_fin) {
		flow->closing |= fin_bit;
		return 0;
	}
	return pkt->tcp_bare && flow->closing == (LS_FLOW_FIN_FWD | LS_FLOW_FIN_REPLY);
}

/* Where a NATed flow's replies go: the NAT entry, copied out (it may be evicted meanwhile). */
struct nat_back {
	__u32 client[4];
	__u32 vip[4];
	__u16 client_port;
	__u16 vip_port;
	__u32 ifindex;
	__u8 client_mac[ETH_ALEN];
	__u8 lb_mac[ETH_ALEN];
};

/* Looks up the NAT entry of a reply key into `out` and counts the reply; 0 = none. */
static __always_inline int nat_back_of(const struct ls_flow_key *key, struct nat_back *out, __u64 len)
{
	struct ls_nat_entry *entry = bpf_map_lookup_elem(&nat, key);
	struct ls_stats *vs, *rs;

	if (!entry)
		return 0;
	__builtin_memcpy(out->client, entry->client, 16);
	__builtin_memcpy(out->vip, entry->vip, 16);
	__builtin_memcpy(out->client_mac, entry->client_mac, ETH_ALEN);
	__builtin_memcpy(out->lb_mac, entry->lb_mac, ETH_ALEN);
	out->client_port = entry->client_port;
	out->vip_port = entry->vip_port;
	out->ifindex = entry->ifindex;
	vs = vip_counters(entry->vip_id);
	rs = real_counters(entry->real_id);
	if (vs) {
		vs->reply_packets++;
		vs->reply_bytes += len;
	}
	if (rs) {
		rs->reply_packets++;
		rs->reply_bytes += len;
	}
	return 1;
}

/* A reply from a backend to one of our NAT addresses: translate it back to the client. */
static __always_inline int nat_reply(struct xdp_md *ctx, struct packet *pkt)
{
	struct nat_back back;

	if (pkt->fragment || !nat_back_of(&pkt->flow, &back, pkt->len))
		return XDP_PASS;
	/* Teardown seen from the backend's side: the flow's conntrack entry is keyed by the client. */
	if (pkt->flow.proto == IPPROTO_TCP && (pkt->tcp_rst || pkt->tcp_fin || pkt->tcp_bare)) {
		struct ls_flow_key ckey = {};
		struct ls_flow *flow;

		__builtin_memcpy(ckey.src, back.client, 16);
		__builtin_memcpy(ckey.dst, back.vip, 16);
		ckey.sport = back.client_port;
		ckey.dport = back.vip_port;
		ckey.proto = pkt->flow.proto;
		ckey.family = pkt->flow.family;
		flow = bpf_map_lookup_elem(&conntrack, &ckey);
		if (tcp_flow_ends(flow, pkt, LS_FLOW_FIN_REPLY)) {
			bpf_map_delete_elem(&conntrack, &ckey);
			bpf_map_delete_elem(&nat, &pkt->flow);
		}
	}
	if (rewrite(ctx, pkt, back.vip, back.client, back.vip_port, back.client_port) < 0)
		return XDP_PASS;
	return send(ctx, back.ifindex, back.client_mac, back.lb_mac);
}

/* ---- ICMP errors about NATed flows ---- */

/* <linux/icmp.h> pulls in libc headers; the few values needed here. */
#define ICMP_DEST_UNREACH 3
#define ICMP_TIME_EXCEEDED 11
#define ICMPV6_DEST_UNREACH 1
#define ICMPV6_PKT_TOOBIG 2
#define ICMPV6_TIME_EXCEED 3

/* The first 8 bytes of an ICMP or ICMPv6 error; the quoted packet follows. */
struct icmp_err {
	__u8 type;
	__u8 code;
	__u16 checksum;
	__u32 rest; /* unused, or the next-hop MTU */
};

/*
 * Ones'-complement accumulation of 16-bit replacements (RFC 1624: HC' = ~(~HC + ~m + m')),
 * over 32-bit words as they lie in memory. The sum is byte-order independent, so words
 * read raw from the packet and raw checksum fields agree. Fold with csum_fold(~HC + acc).
 */
static __always_inline __u64 csum_replace_word(__u64 acc, __u32 from, __u32 to)
{
	__u32 nf = ~from;
	return acc + (nf & 0xffff) + (nf >> 16) + (to & 0xffff) + (to >> 16);
}

static __always_inline __u64 csum_replace_half(__u64 acc, __u16 from, __u16 to)
{
	return acc + (__u16)~from + to;
}

static __always_inline __u16 csum_apply(__u16 check, __u64 acc)
{
	return csum_fold((__u64)(__u16)~check + acc);
}

/* ICMP error types that quote a packet we sent and matter to the client's stack. */
static __always_inline int icmp4_is_error(__u8 type)
{
	return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED;
}

static __always_inline int icmp6_is_error(__u8 type)
{
	return type == ICMPV6_DEST_UNREACH || type == ICMPV6_PKT_TOOBIG || type == ICMPV6_TIME_EXCEED;
}

/*
 * The quoted packet is one we sent (NAT address:port -> backend:port); its reverse is
 * the key of the NAT entry. Fills `key` from the quoted addresses and ports.
 */
static __always_inline void quoted_reply_key(struct ls_flow_key *key, const __u32 *qsrc, const __u32 *qdst,
					     __u16 qsport, __u16 qdport, __u8 proto, __u8 family)
{
	__builtin_memcpy(key->src, qdst, 16);
	__builtin_memcpy(key->dst, qsrc, 16);
	key->sport = qdport;
	key->dport = qsport;
	key->proto = proto;
	key->family = family;
}

/* Offsets of an ICMPv4 error with option-less outer and quoted IPv4 headers. */
#define I4_IP (sizeof(struct ethhdr))
#define I4_ICMP (I4_IP + sizeof(struct iphdr))
#define I4_QIP (I4_ICMP + sizeof(struct icmp_err))
#define I4_QL4 (I4_QIP + sizeof(struct iphdr))

/*
 * An ICMPv4 error (unreachable, fragmentation needed, time exceeded) about a packet we
 * NATed towards a backend: rewrite it as the client would have got it without us. The
 * quoted header becomes client -> VIP again (addresses, ports, its IP checksum and, when
 * quoted, its TCP/UDP checksum), the outer destination the client (and the outer source
 * the VIP when the backend itself sent it; a router's address stays), and the ICMP and
 * outer IP checksums follow. Then it goes where the flow's replies go.
 */
static __always_inline int icmp4_nat_reply(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + I4_IP;
	struct icmp_err *icmp = data + I4_ICMP;
	struct iphdr *qip = data + I4_QIP;
	__u16 *qports = data + I4_QL4;
	struct ls_flow_key key = {};
	struct nat_back back;
	__u32 qsrc[4] = {}, qdst[4] = {};
	__u32 client, vip, new_saddr;
	__u16 old_qcheck, *l4check;
	__u64 icmp_acc = 0, ip_acc = 0, q_acc = 0;
	__u32 old_w, new_w;

	if ((void *)(qports + 2) > data_end)
		return XDP_PASS;
	if (ip->ihl != 5 || qip->ihl != 5 || !icmp4_is_error(icmp->type))
		return XDP_PASS;
	if (qip->protocol != IPPROTO_TCP && qip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	/* Sent to the address the quoted packet came from: ours. */
	if (ip->daddr != qip->saddr)
		return XDP_PASS;
	qsrc[0] = qip->saddr;
	qdst[0] = qip->daddr;
	quoted_reply_key(&key, qsrc, qdst, qports[0], qports[1], qip->protocol, LS_FAMILY_V4);
	if (!nat_back_of(&key, &back, data_end - data))
		return XDP_PASS;
	client = back.client[0];
	vip = back.vip[0];

	/* The quoted TCP/UDP checksum, when the quote reaches it (its pseudo header holds the addresses). */
	l4check = data + I4_QL4 + (qip->protocol == IPPROTO_TCP ? 16 : 6);
	if ((void *)(l4check + 1) > data_end || (qip->protocol == IPPROTO_UDP && *l4check == 0))
		l4check = 0;

	/* Quoted header: client -> VIP, as the client sent it. */
	q_acc = csum_replace_word(q_acc, qip->saddr, client);
	q_acc = csum_replace_word(q_acc, qip->daddr, vip);
	old_qcheck = qip->check;
	qip->check = csum_apply(qip->check, q_acc);
	old_w = (__u32)qports[0] | ((__u32)qports[1] << 16);
	new_w = (__u32)back.client_port | ((__u32)back.vip_port << 16);
	if (l4check) {
		__u16 old_l4 = *l4check, new_l4;
		new_l4 = csum_apply(old_l4, csum_replace_word(q_acc, old_w, new_w));
		if (qip->protocol == IPPROTO_UDP && new_l4 == 0)
			new_l4 = 0xffff;
		*l4check = new_l4;
		icmp_acc = csum_replace_half(icmp_acc, old_l4, new_l4);
	}
	icmp_acc += q_acc; /* the quoted addresses are ICMP payload too */
	icmp_acc = csum_replace_half(icmp_acc, old_qcheck, qip->check);
	icmp_acc = csum_replace_word(icmp_acc, old_w, new_w);
	qip->saddr = client;
	qip->daddr = vip;
	qports[0] = back.client_port;
	qports[1] = back.vip_port;
	icmp->checksum = csum_apply(icmp->checksum, icmp_acc);

	/* Outer header: to the client; from the VIP if the backend itself complained. */
	new_saddr = ip->saddr == qdst[0] ? vip : ip->saddr;
	ip_acc = csum_replace_word(ip_acc, ip->saddr, new_saddr);
	ip_acc = csum_replace_word(ip_acc, ip->daddr, client);
	ip->check = csum_apply(ip->check, ip_acc);
	ip->saddr = new_saddr;
	ip->daddr = client;
	return send(ctx, back.ifindex, back.client_mac, back.lb_mac);
}

#define I6_IP (sizeof(struct ethhdr))
#define I6_ICMP (I6_IP + sizeof(struct ipv6hdr))
#define I6_QIP (I6_ICMP + sizeof(struct icmp_err))
#define I6_QL4 (I6_QIP + sizeof(struct ipv6hdr))

/*
 * The same for ICMPv6 (unreachable, packet too big, time exceeded), whose checksum also
 * covers a pseudo header with the outer addresses. Quoted packets with extension
 * headers are passed.
 */
static __always_inline int icmp6_nat_reply(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ipv6hdr *ip6 = data + I6_IP;
	struct icmp_err *icmp = data + I6_ICMP;
	struct ipv6hdr *qip = data + I6_QIP;
	__u16 *qports = data + I6_QL4;
	__u32 *osrc, *odst, *qsrc, *qdst;
	struct ls_flow_key key = {};
	struct nat_back back;
	__u16 *l4check;
	__u64 addr_acc = 0, icmp_acc = 0;
	__u32 old_w, new_w;
	int i, from_backend;

	if ((void *)(qports + 2) > data_end)
		return XDP_PASS;
	if (!icmp6_is_error(icmp->type))
		return XDP_PASS;
	if (qip->nexthdr != IPPROTO_TCP && qip->nexthdr != IPPROTO_UDP)
		return XDP_PASS;
	osrc = (__u32 *)&ip6->saddr;
	odst = (__u32 *)&ip6->daddr;
	qsrc = (__u32 *)&qip->saddr;
	qdst = (__u32 *)&qip->daddr;
	if (!addr_eq(odst, qsrc))
		return XDP_PASS;
	quoted_reply_key(&key, qsrc, qdst, qports[0], qports[1], qip->nexthdr, LS_FAMILY_V6);
	if (!nat_back_of(&key, &back, data_end - data))
		return XDP_PASS;

	l4check = data + I6_QL4 + (qip->nexthdr == IPPROTO_TCP ? 16 : 6);
	if ((void *)(l4check + 1) > data_end)
		l4check = 0;

	/* Outer addresses (in the ICMPv6 pseudo header): to the client, from the VIP if the
	 * backend sent it (a router's address stays). Summed before anything is written. */
	from_backend = addr_eq(osrc, qdst);
#pragma unroll
	for (i = 0; i < 4; i++) {
		/* Quoted addresses: nat address -> client, backend -> VIP. */
		addr_acc = csum_replace_word(addr_acc, qsrc[i], back.client[i]);
		addr_acc = csum_replace_word(addr_acc, qdst[i], back.vip[i]);
		if (from_backend)
			icmp_acc = csum_replace_word(icmp_acc, osrc[i], back.vip[i]);
		icmp_acc = csum_replace_word(icmp_acc, odst[i], back.client[i]);
	}
	old_w = (__u32)qports[0] | ((__u32)qports[1] << 16);
	new_w = (__u32)back.client_port | ((__u32)back.vip_port << 16);
	if (l4check) {
		__u16 old_l4 = *l4check, new_l4;
		new_l4 = csum_apply(old_l4, csum_replace_word(addr_acc, old_w, new_w));
		if (qip->nexthdr == IPPROTO_UDP && new_l4 == 0)
			new_l4 = 0xffff;
		*l4check = new_l4;
		icmp_acc = csum_replace_half(icmp_acc, old_l4, new_l4);
	}
	icmp_acc += addr_acc;
	icmp_acc = csum_replace_word(icmp_acc, old_w, new_w);
	icmp->checksum = csum_apply(icmp->checksum, icmp_acc);
	__builtin_memcpy(qsrc, back.client, 16);
	__builtin_memcpy(qdst, back.vip, 16);
	qports[0] = back.client_port;
	qports[1] = back.vip_port;
	if (from_backend)
		__builtin_memcpy(osrc, back.vip, 16);
	__builtin_memcpy(odst, back.client, 16);
	return send(ctx, back.ifindex, back.client_mac, back.lb_mac);
}

/* 4: an unfragmented ICMPv4 packet, 6: ICMPv6 (no extension headers), 0: neither. */
static __always_inline int icmp_family(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return 0;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + sizeof(*eth);
		if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_ICMP)
			return 0;
		return ip->frag_off & bpf_htons(IP_MF | IP_OFFSET) ? 0 : 4;
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + sizeof(*eth);
		if ((void *)(ip6 + 1) > data_end || ip6->nexthdr != IPPROTO_ICMPV6)
			return 0;
		return 6;
	}
	return 0;
}

/* TCP and UDP: VIP traffic is balanced, NAT replies translated, the rest passed. */
static __always_inline int balance(struct xdp_md *ctx)
{
	struct packet pkt = {};
	struct ls_vip_key vkey = {};
	struct ls_vip_meta *vip;
	struct ls_stats *vs, *rs;
	struct ls_flow *flow;
	struct ls_real *real = 0;
	__u32 real_id = LS_REAL_NONE, vip_id, hash;
	__u16 nat_port = 0;
	int new_flow = 0;
	int ret;

	ret = parse(ctx, &pkt);
	if (ret <= 0)
		return XDP_PASS;

	__builtin_memcpy(vkey.addr, pkt.flow.dst, 16);
	vkey.port = pkt.fragment ? 0 : pkt.flow.dport;
	vkey.proto = pkt.flow.proto;
	vkey.family = pkt.flow.family;
	vip = bpf_map_lookup_elem(&vips, &vkey);
	if (!vip && vkey.port) {
		vkey.port = 0;
		vip = bpf_map_lookup_elem(&vips, &vkey);
	}
	/* A 3-tuple VIP's port-0 entry exists for its fragments, not to take every port. */
	if (vip && (vip->flags & LS_VIP_FRAG_ALIAS) && !pkt.fragment)
		vip = 0;
	if (!vip) {
		ret = nat_reply(ctx, &pkt);
		if (ret == XDP_PASS) {
			__u32 global = LS_STATS_GLOBAL;
			vs = bpf_map_lookup_elem(&vip_stats, &global);
			if (vs) {
				vs->packets++;
				vs->bytes += pkt.len;
			}
		}
		return ret;
	}

	vip_id = vip->vip_id;
	vs = vip_counters(vip_id);
	if (vs) {
		vs->packets++;
		vs->bytes += pkt.len;
	}
	/*
	 * Fragments and 3-tuple VIPs share one conntrack entry per (src, dst, proto):
	 * a datagram's first fragment (ports visible) and the rest (no ports) must
	 * agree. A 3-tuple VIP is also written under port 0, which is what a
	 * fragment's lookup above falls back to.
	 */
	if (pkt.fragment || (vip->flags & LS_VIP_HASH_3TUPLE)) {
		pkt.flow.sport = 0;
		pkt.flow.dport = 0;
	}

	flow = bpf_map_lookup_elem(&conntrack, &pkt.flow);
	if (flow) {
		real_id = flow->real_id;
		nat_port = flow->nat_port;
		real = usable_real(real_id, vip_id, 1);
	}
	hash = flow_hash(&pkt, vip->flags);
	if (!real) {
		__u32 slot;
		__u32 *ring_val;

		if (vip->ring_size == 0)
			return drop(vs, LS_DROP_NO_BACKEND);
		slot = vip->ring_offset + hash % vip->ring_size;
		ring_val = bpf_map_lookup_elem(&ring, &slot);
		if (!ring_val || *ring_val == LS_REAL_NONE)
			return drop(vs, LS_DROP_NO_BACKEND);
		real_id = *ring_val;
		real = usable_real(real_id, vip_id, 0);
		if (!real)
			return drop(vs, LS_DROP_BAD_REAL);
		new_flow = 1;
		if (vs) {
			if (pkt.flow.proto == IPPROTO_TCP && !pkt.tcp_syn && !pkt.fragment)
				vs->ct_misses++;
			else
				vs->new_flows++;
		}
	}

	rs = real_counters(real_id);
	if (rs) {
		rs->packets++;
		rs->bytes += pkt.len;
		if (new_flow)
			rs->new_flows++;
	}

	if (vip->flags & LS_VIP_NAT) {
		struct ls_flow_key fkey = pkt.flow;
		__u32 nat_src[4], dst[4];
		__u16 port;

		if (pkt.fragment)
			return XDP_PASS; /* NAT needs ports in every packet */
		/* Re-claim each packet: cheap when ours, and repairs an evicted reverse entry. */
		port = nat_claim_port(ctx, &pkt, vip, real, real_id, hash, new_flow ? 0 : nat_port);
		if (!port)
			return drop(vs, LS_DROP_NAT_PORTS);
		if (new_flow || port != nat_port) {
			struct ls_flow fv = {};
			fv.real_id = real_id;
			fv.vip_id = vip_id;
			fv.created_ns = bpf_ktime_get_ns();
			fv.nat_port = port;
			bpf_map_update_elem(&conntrack, &fkey, &fv, BPF_ANY);
		}
		/* `flow` is the entry only when it was neither missing nor rewritten above. */
		if (tcp_flow_ends(new_flow || port != nat_port ? 0 : flow, &pkt, LS_FLOW_FIN_FWD)) {
			struct ls_flow_key rkey = {};
			nat_reply_key(&rkey, real, vip, port, pkt.flow.proto, pkt.flow.family);
			bpf_map_delete_elem(&nat, &rkey);
			bpf_map_delete_elem(&conntrack, &fkey);
		}
		__builtin_memcpy(nat_src, vip->nat_addr, 16);
		__builtin_memcpy(dst, real->addr, 16);
		if (rewrite(ctx, &pkt, nat_src, dst, port, real->port) < 0)
			return XDP_PASS;
	} else if (!(vip->flags & LS_VIP_HASH_3TUPLE) && tcp_flow_ends(0, &pkt, LS_FLOW_FIN_FWD)) {
		/* DSR: a RST ends the flow (a RST that opens none leaves no entry behind). Not on
		 * a 3-tuple VIP, whose one entry per (src, dst, proto) other connections share. */
		if (flow)
			bpf_map_delete_elem(&conntrack, &pkt.flow);
	} else if (new_flow) {
		struct ls_flow fv = {};
		fv.real_id = real_id;
		fv.vip_id = vip_id;
		fv.created_ns = bpf_ktime_get_ns();
		bpf_map_update_elem(&conntrack, &pkt.flow, &fv, BPF_ANY);
	}

	ret = send(ctx, real->ifindex, real->mac, real->src_mac);
	if (ret == XDP_ABORTED || ret == XDP_DROP)
		return drop(vs, LS_DROP_REDIRECT);
	return ret;
}

SEC("xdp")
int lodestone_xdp(struct xdp_md *ctx)
{
	/* Separate scopes (no locals here) let the compiler overlap the two paths' stack. */
#ifdef LS_VERIFIER_SELFTEST
	/* Only in the loader's test build: a packet read without a bounds check, which the verifier must refuse. */
	if (*(__u32 *)(long)ctx->data == 0)
		return XDP_DROP;
#endif
	switch (icmp_family(ctx)) {
	case 4:
		return icmp4_nat_reply(ctx);
	case 6:
		return icmp6_nat_reply(ctx);
	default:
		return balance(ctx);
	}
}
