/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * inetmon datapath records: shared between datapath.bpf.c and the Rust
 * mirror in crates/inetmon-bpf/src/record/datapath.rs, whose build script
 * compiles this header with a static assertion for every size, offset and
 * constant the mirror has (inetmon-core's decode/datapath.rs reads records
 * by that mirror). All fields are in host byte order. A record is
 * the header of its type followed by `cap_len` packet bytes at `hdr_len`;
 * the ring-buffer record may be longer (fixed-size reservation).
 *
 * Versioning: `version` changes when a field changes meaning; new fields are
 * appended and `hdr_len` grows, so an older reader still finds the packet.
 */
#ifndef INETMON_DATAPATH_H
#define INETMON_DATAPATH_H

#define INETMON_DP_VERSION 1
#define INETMON_DP_MAX_CAP 256 /* upper bound of the configurable snaplen */

enum inetmon_dp_type {
	INETMON_DP_DROP = 1,
	INETMON_DP_TRACE = 2,
};

enum inetmon_dp_layer {
	INETMON_DP_LAYER_NONE = 0,
	INETMON_DP_LAYER_ETHERNET = 1,
	INETMON_DP_LAYER_NETWORK = 2,
};

/* flags */
#define INETMON_DP_F_PROCESS 0x01 /* drops: pid/tid/comm are the task that dropped it;
				    * stack traces: the socket's owner (see dp_owner) */

enum inetmon_dp_point {
	INETMON_DP_FROM_NETWORK = 1, /* tc ingress */
	INETMON_DP_TO_NETWORK = 2,   /* tc egress */
	INETMON_DP_FROM_STACK = 3,   /* cgroup_skb egress: a local socket sent it */
	INETMON_DP_TO_STACK = 4,     /* cgroup_skb ingress: delivered to a local socket */
};

struct inetmon_dp_common {
	__u8 type;       /* enum inetmon_dp_type */
	__u8 version;    /* INETMON_DP_VERSION */
	__u16 hdr_len;   /* bytes before the packet data */
	__u32 cpu;
	__u64 ktime_ns;  /* bpf_ktime_get_boot_ns() */
	__u32 ifindex;
	__u32 orig_len;  /* skb->len (+ mac header when captured from it) */
	__u16 cap_len;   /* packet bytes that follow the header */
	__u16 protocol;  /* ethertype, host order (bpf_ntohs(skb->protocol)) */
	__u8 layer;      /* enum inetmon_dp_layer */
	__u8 flags;
	__u16 reserved;
	__u32 netns;     /* network namespace inode */
	__u32 mark;      /* skb->mark */
}; /* 40 bytes */

struct inetmon_dp_drop {
	struct inetmon_dp_common common;
	__u32 reason;    /* enum skb_drop_reason, raw (subsystem in bits 16-31) */
	__u32 pid;       /* tgid */
	__u32 tid;
	__u32 reserved;
	__u64 location;  /* the tracepoint's location (return address) */
	char comm[16];
}; /* 80 bytes */

struct inetmon_dp_trace {
	struct inetmon_dp_common common;
	__u8 point;      /* enum inetmon_dp_point */
	__u8 reserved[3];
	__u32 sample_rate; /* 1 in N packets reported */
	/* Stack points only (zero at the network points): the socket's owner,
	 * valid when INETMON_DP_F_PROCESS is set, and its cookie (0: no socket). */
	__u32 pid;       /* tgid */
	__u32 tid;
	__u64 sock_cookie;
	char comm[16];
}; /* 80 bytes */

/* Key of the `drop_counts` map (summary mode: counts instead of records). */
struct inetmon_dp_drop_key {
	__u32 reason;
	__u32 ifindex;
	__u64 location;
}; /* 16 bytes; the value is a per-CPU __u64 count */

#endif
