// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A tc classifier that does nothing (TC_ACT_UNSPEC): the floor of what any
 * tc-attached tracer costs, for bench/trace-hook-floor.sh. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int noop(struct __sk_buff *skb)
{
	return -1;
}

char LICENSE[] SEC("license") = "GPL";
