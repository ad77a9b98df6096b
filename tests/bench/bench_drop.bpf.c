// SPDX-License-Identifier: GPL-2.0
/* Drops everything but ARP: the benchmark's traffic sinks cost the CPU nothing. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int bench_drop(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;

    if ((void *)(eth + 1) > end || eth->h_proto == bpf_htons(ETH_P_ARP))
        return XDP_PASS;
    return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
