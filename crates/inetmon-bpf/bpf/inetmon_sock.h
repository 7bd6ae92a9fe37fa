/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The record the socket-event programs put on the ring buffer and the
 * operation mask they obey, shared by the BPF programs and mirrored in Rust
 * by inetmon-bpf (src/record/sock.rs, src/watch.rs), which inetmon-core's
 * decoder (decode/sock.rs) reads by. inetmon-bpf's build script compiles
 * this header with a static assertion for every size, offset and constant
 * the Rust side has: the crate does not build when they disagree.
 * Change INETMON_SOCK_VERSION on any layout change. */
#ifndef INETMON_SOCK_H
#define INETMON_SOCK_H

#define INETMON_SOCK_VERSION 2

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
#define INETMON_OP_ABORT 10    /* abortive close: the close sends RST (AHAFS PRU_ABORT) */
#define INETMON_OP_SEGMENT 11  /* a TCP control segment (SYN, FIN, RST) of an audited connection */
#define INETMON_OP_MAX 16      /* size of the per-CPU loss counter array */

/* rec.attribution */
#define INETMON_ATTR_UNKNOWN 0
#define INETMON_ATTR_PROCESS 1 /* taken in the caller's context */
#define INETMON_ATTR_OWNER 2   /* taken from the socket's recorded owner */

/* rec.initiator (disconnect: who ended it; segment: who sent it) */
#define INETMON_INIT_NONE 0
#define INETMON_INIT_LOCAL 1
#define INETMON_INIT_PEER 2

/* rec.flags */
#define INETMON_F_FD 1 /* rec.fd holds the process's file descriptor */

/* Operation mask (`--watch`, the loader's cfg_watch): one bit per AHAFS
 * monitor, in the order of inetmon-bpf's WatchOp (streamCreate = bit 0 ...
 * dgramClose = bit 10), plus WATCH_OTHER for records that no monitor names
 * (listen/accept errors on a UDP socket). All ones = every record. */
#define WATCH_STREAM_CREATE (1u << 0)
#define WATCH_STREAM_BIND (1u << 1)
#define WATCH_STREAM_LISTEN (1u << 2)
#define WATCH_STREAM_ACCEPT (1u << 3)
#define WATCH_STREAM_CONNECT (1u << 4)
#define WATCH_STREAM_DISCONNECT (1u << 5)
#define WATCH_STREAM_CLOSE (1u << 6)
#define WATCH_DGRAM_CREATE (1u << 7)
#define WATCH_DGRAM_BIND (1u << 8)
#define WATCH_DGRAM_CONNECT (1u << 9)
#define WATCH_DGRAM_CLOSE (1u << 10)
#define WATCH_OTHER (1u << 31)

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
	__u8 flags;      /* INETMON_F_* */
	__u8 version;    /* INETMON_SOCK_VERSION */
	__u8 tcp_flags;  /* segment: the TCP header's flags byte; else 0 */
	__u8 laddr[16];  /* network order; IPv4 in the first 4 bytes */
	__u8 faddr[16];
	char comm[16];
	__s32 fd;        /* the process's file descriptor when flags has INETMON_F_FD */
	__u32 ifindex;   /* interface index (of the socket's netns); 0 = none known */
	__u8 seq_ack[8]; /* segment: the sequence and acknowledgement numbers, as sent */
};

#endif
