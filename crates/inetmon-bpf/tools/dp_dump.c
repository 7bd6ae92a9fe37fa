// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * dp_dump: a throw-away libbpf loader for datapath.bpf.c, used to capture
 * real records as test fixtures until the Rust loader (inetmon-bpf) exists.
 *
 *   [DP_SUMMARY=1] [DP_WAKEUP_BYTES=N] dp_dump SECONDS NETNS_INODE [IFNAME [SAMPLE_RATE]] > records.bin
 *
 * Loads the programs, attaches tp_btf/kfree_skb (drops only from the netns
 * with that inode, 0 = all) and, with IFNAME, tc ingress+egress on it (in
 * the current netns); writes each ring-buffer record as `u32 length (host
 * order)` + bytes to stdout for SECONDS seconds, then the lost count to
 * stderr. Build: see capture.sh.
 */
#include <errno.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <linux/types.h>
#include "datapath.h"
#include "datapath.skel.h"

static int on_record(void *ctx, void *data, size_t len)
{
	uint32_t l = (uint32_t)len;

	(void)ctx;
	fwrite(&l, sizeof(l), 1, stdout);
	fwrite(data, 1, len, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct datapath *skel;
	struct ring_buffer *rb;
	struct bpf_link *link;
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, in_opts);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, out_opts);
	int seconds, ifindex = 0, err;
	time_t end;
	uint64_t lost = 0;
	int ncpu;

	if (argc < 3) {
		fprintf(stderr, "usage: %s SECONDS NETNS_INODE [IFNAME [SAMPLE_RATE]]\n", argv[0]);
		return 2;
	}
	seconds = atoi(argv[1]);
	skel = datapath__open();
	if (!skel)
		return 1;
	skel->rodata->cfg_netns = (uint32_t)strtoul(argv[2], NULL, 10);
	if (argc > 4)
		skel->rodata->cfg_sample_rate = (uint32_t)atoi(argv[4]);
	if (getenv("DP_SUMMARY"))
		skel->rodata->cfg_summary_only = 1;
	if (getenv("DP_WAKEUP_BYTES"))
		skel->rodata->cfg_wakeup_bytes = strtoull(getenv("DP_WAKEUP_BYTES"), NULL, 10);
	err = datapath__load(skel);
	if (err) {
		fprintf(stderr, "load: %d\n", err);
		return 1;
	}
	link = bpf_program__attach(skel->progs.on_kfree_skb);
	if (!link) {
		fprintf(stderr, "attach kfree_skb: %d\n", errno);
		return 1;
	}
	if (argc > 3) {
		ifindex = (int)if_nametoindex(argv[3]);
		if (!ifindex) {
			fprintf(stderr, "no interface %s\n", argv[3]);
			return 1;
		}
		hook.ifindex = ifindex;
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_create(&hook); /* EEXIST is fine */
		hook.attach_point = BPF_TC_INGRESS;
		in_opts.prog_fd = bpf_program__fd(skel->progs.tc_ingress);
		if (bpf_tc_attach(&hook, &in_opts))
			return 1;
		hook.attach_point = BPF_TC_EGRESS;
		out_opts.prog_fd = bpf_program__fd(skel->progs.tc_egress);
		if (bpf_tc_attach(&hook, &out_opts))
			return 1;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.datapath_events), on_record, NULL, NULL);
	if (!rb)
		return 1;
	fprintf(stderr, "ready\n");
	end = time(NULL) + seconds;
	while (time(NULL) < end) {
		ring_buffer__poll(rb, 50);
		ring_buffer__consume(rb); /* records submitted without a wakeup */
	}
	ring_buffer__consume(rb);
	fflush(stdout);

	ncpu = libbpf_num_possible_cpus();
	if (ncpu > 0) {
		uint64_t vals[ncpu];
		uint32_t zero = 0;

		if (!bpf_map_lookup_elem(bpf_map__fd(skel->maps.datapath_lost), &zero, vals))
			for (int i = 0; i < ncpu; i++)
				lost += vals[i];
	}
	fprintf(stderr, "lost %llu\n", (unsigned long long)lost);
	if (getenv("DP_SUMMARY") && ncpu > 0) {
		/* Summary mode: "reason ifindex location count" per key, to stderr. */
		struct inetmon_dp_drop_key key, next, *prev = NULL;
		uint64_t vals[ncpu];
		int fd = bpf_map__fd(skel->maps.drop_counts);

		while (!bpf_map_get_next_key(fd, prev, &next)) {
			uint64_t sum = 0;

			if (!bpf_map_lookup_elem(fd, &next, vals))
				for (int i = 0; i < ncpu; i++)
					sum += vals[i];
			fprintf(stderr, "count %u %u %#llx %llu\n", next.reason, next.ifindex,
				(unsigned long long)next.location, (unsigned long long)sum);
			key = next;
			prev = &key;
		}
	}
	if (ifindex) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
	ring_buffer__free(rb);
	bpf_link__destroy(link);
	datapath__destroy(skel);
	return 0;
}
