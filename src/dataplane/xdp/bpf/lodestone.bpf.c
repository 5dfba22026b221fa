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
		/* Any fragment, first included: later ones carry no ports, so none may use them. */
		pkt->fragment = (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)) != 0;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + sizeof(*eth);
		__u8 next;
		if ((void *)(ip6 + 1) > data_end)
			return -1;
		next = ip6->nexthdr;
		pkt->l4_off = sizeof(*eth) + sizeof(*ip6);
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

	__builtin_memcpy(rkey.src, real->addr, 16);
	__builtin_memcpy(rkey.dst, vip->nat_addr, 16);
	rkey.sport = real->port;
	rkey.proto = pkt->flow.proto;
	rkey.family = pkt->flow.family;

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

/* A reply from a backend to one of our NAT addresses: translate it back to the client. */
static __always_inline int nat_reply(struct xdp_md *ctx, struct packet *pkt)
{
	struct ls_nat_entry *entry;
	struct ls_stats *vs, *rs;
	__u32 vip_id, real_id;
	__u8 client_mac[ETH_ALEN], lb_mac[ETH_ALEN];
	__u32 client[4], vip[4];
	__u16 client_port, vip_port;
	__u32 ifindex;

	if (pkt->fragment)
		return XDP_PASS;
	entry = bpf_map_lookup_elem(&nat, &pkt->flow);
	if (!entry)
		return XDP_PASS;
	/* Copy out: the entry may be evicted while we rewrite. */
	__builtin_memcpy(client, entry->client, 16);
	__builtin_memcpy(vip, entry->vip, 16);
	__builtin_memcpy(client_mac, entry->client_mac, ETH_ALEN);
	__builtin_memcpy(lb_mac, entry->lb_mac, ETH_ALEN);
	client_port = entry->client_port;
	vip_port = entry->vip_port;
	ifindex = entry->ifindex;
	vip_id = entry->vip_id;
	real_id = entry->real_id;

	vs = vip_counters(vip_id);
	rs = real_counters(real_id);
	if (vs) {
		vs->reply_packets++;
		vs->reply_bytes += pkt->len;
	}
	if (rs) {
		rs->reply_packets++;
		rs->reply_bytes += pkt->len;
	}
	if (rewrite(ctx, pkt, vip, client, vip_port, client_port) < 0)
		return XDP_PASS;
	return send(ctx, ifindex, client_mac, lb_mac);
}

SEC("xdp")
int lodestone_xdp(struct xdp_md *ctx)
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

#ifdef LS_VERIFIER_SELFTEST
	/* Only in the loader's test build: a packet read without a bounds check, which the verifier must refuse. */
	if (*(__u32 *)(long)ctx->data == 0)
		return XDP_DROP;
#endif
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
		__builtin_memcpy(nat_src, vip->nat_addr, 16);
		__builtin_memcpy(dst, real->addr, 16);
		if (rewrite(ctx, &pkt, nat_src, dst, port, real->port) < 0)
			return XDP_PASS;
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
