// SPDX-License-Identifier: Apache-2.0 OR GPL-2.0
/*
 * XDP_PASS and nothing else. Attached in native mode to the far end of a veth
 * pair, it makes the kernel enable NAPI there, which veth needs before it can
 * take frames that lodestone's program sends back with XDP_TX or redirects in.
 * (Enabling GRO on that veth, `ethtool -K <peer> gro on`, does the same.)
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int lodestone_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
