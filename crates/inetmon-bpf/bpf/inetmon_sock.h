/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The record the socket-event programs put on the ring buffer, shared by the
 * BPF programs and (mirrored) by the Rust decoder in inetmon-core
 * (decode/sock.rs) and inetmon-bpf (src/record.rs). Layout tests on the Rust
 * side compile this header with the host C compiler and compare offsets.
 * Change INETMON_SOCK_VERSION on any layout change. */
#ifndef INETMON_SOCK_H
#define INETMON_SOCK_H

#define INETMON_SOCK_VERSION 1

/* Operations (rec.op). */
#define INETMON_OP_CREATE 1
#define INETMON_OP_BIND 2
#define INETMON_OP_DYNBIND 3
#define INETMON_OP_LISTEN 4
#define INETMON_OP_ACCEPT 5
#define INETMON_OP_CONNECT 6   /* the attempt */
#define INETMON_OP_CONNECTED 7 /* the outcome: result 0 or -errno */
#define INETMON_OP_DISCONNECT 8
#define INETMON_OP_CLOSE 9
#define INETMON_OP_MAX 16      /* size of the per-CPU loss counter array */

/* rec.attribution */
#define INETMON_ATTR_UNKNOWN 0
#define INETMON_ATTR_PROCESS 1 /* taken in the caller's context */
#define INETMON_ATTR_OWNER 2   /* taken from the socket's recorded owner */

/* rec.initiator (disconnect only) */
#define INETMON_INIT_NONE 0
#define INETMON_INIT_LOCAL 1
#define INETMON_INIT_PEER 2

struct inetmon_sock_rec {
	__u64 ts_ns;     /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 cookie;    /* socket cookie; 0 when the kernel has none yet */
	__u64 cgroup_id; /* cgroup v2 id of the attributed task */
	__u32 netns;     /* network namespace inode */
	__u32 pid;       /* tgid */
	__u32 tid;
	__u32 uid;
	__u32 gid;
	__s32 result;    /* 0 or -errno */
	__u16 family;    /* AF_INET / AF_INET6 */
	__u16 type;      /* SOCK_STREAM / SOCK_DGRAM */
	__u16 protocol;  /* IPPROTO_TCP / IPPROTO_UDP */
	__u16 lport;     /* host byte order */
	__u16 fport;     /* host byte order */
	__u8 op;
	__u8 attribution;
	__u8 initiator;
	__u8 flags;      /* reserved, 0 */
	__u8 version;    /* INETMON_SOCK_VERSION */
	__u8 pad;
	__u8 laddr[16];  /* network order; IPv4 in the first 4 bytes */
	__u8 faddr[16];
	char comm[16];
};

#endif
