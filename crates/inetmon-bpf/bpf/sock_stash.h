/* SPDX-License-Identifier: GPL-2.0 */
/* sock.bpf.c's per-thread stash: the syscall arguments a sys_enter
 * tracepoint keeps for its sys_exit, and the UDP socket whose dynamic bind
 * a connect is about to make. Defines a map: included by sock.bpf.c only,
 * after inetmon_sock.h. */
#ifndef INETMON_SOCK_STASH_H
#define INETMON_SOCK_STASH_H

/* Per thread (task local storage, created at the first sys_enter): the
 * syscall arguments stashed at sys_enter for sys_exit (live while between
 * the two), and the UDP socket whose dynamic bind a connect is about to
 * make. Never deleted: it goes with the task. */
struct args {
	__s64 fd;
	__u32 syn_sent; /* connect: the socket went to SYN_SENT in this call */
	__u32 addrlen;
	__u64 uaddr;   /* bind/connect: the user's sockaddr (read at sys_exit) */
	__u32 tcp;     /* connect: the connect4/6 hook saw a TCP socket */
	__u32 live;    /* set at sys_enter, cleared at sys_exit */
	__u32 sys;     /* which syscall stashed it (STASH_*) */
	/* UDP socket (struct sock *) with no local port that is connecting:
	 * a dynamic bind is about to happen; cleared at sys_exit_connect. */
	__u64 dynbind;
};

/* args.sys: the syscall between its sys_enter and sys_exit. The cgroup
 * hooks that run inside one (post_bind in bind, connect4/6 in connect)
 * take its fd from here only when it is theirs: io_uring and
 * sendto(MSG_FASTOPEN) run them outside any stashed syscall. */
#define STASH_BIND 1
#define STASH_CONNECT 2
#define STASH_LISTEN 3
#define STASH_ACCEPT 4

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct args);
} stash SEC(".maps");

/* The current thread's stash, created when asked to. */
static __always_inline struct args *task_args(int create)
{
	return bpf_task_storage_get(&stash, bpf_get_current_task_btf(), 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/* The current thread's stash when a sys_enter started it for this
 * sys_exit, else NULL. */
static __always_inline struct args *live_args(void)
{
	struct args *a = task_args(0);

	return a && a->live ? a : NULL;
}

/* Starts the current thread's stash for a sys_exit: the fd and, for
 * bind()/connect(), the user sockaddr pointer, which the exit reads only
 * when it reports it (a failure): the kernel does not write it, and
 * reading user memory costs ~0.1 us. */
static __always_inline int stash_args(__u32 sys, __s64 fd, __u64 uaddr, __u32 addrlen)
{
	struct args *a = task_args(1);

	if (!a)
		return 0;
	a->fd = fd;
	a->syn_sent = 0;
	a->addrlen = addrlen;
	a->uaddr = uaddr;
	a->tcp = 0;
	a->sys = sys;
	a->live = 1;
	return 0;
}

/* stash_args() for bind(fd, addr, len) and connect(fd, addr, len). */
static __always_inline int stash_addr(struct trace_event_raw_sys_enter *ctx, __u32 sys)
{
	return stash_args(sys, (__s64)ctx->args[0], ctx->args[1], (__u32)ctx->args[2]);
}

/* The fd of the stashed syscall `sys` of the current thread, when one is
 * in progress, into r (flags INETMON_F_FD); else r is left without. */
static __always_inline void stashed_fd(struct inetmon_sock_rec *r, __u32 sys)
{
	struct args *a = task_args(0);

	if (a && a->live && a->sys == sys) {
		r->fd = (__s32)a->fd;
		r->flags |= INETMON_F_FD;
	}
}

/* A sockaddr_in/in6 (28 bytes) into an address and port. */
static __always_inline void sockaddr_end(const __u8 *sa, __u8 *addr, __u16 *port)
{
	__u16 fam = 0;

	__builtin_memcpy(&fam, sa, 2);
	__builtin_memset(addr, 0, 16);
	if (fam == AF_INET)
		__builtin_memcpy(addr, sa + 4, 4);
	else if (fam == AF_INET6)
		__builtin_memcpy(addr, sa + 8, 16);
	*port = ((__u16)sa[2] << 8) | sa[3];
}

/* Copies the stashed user sockaddr_in/in6 into an address and port (zero
 * when unreadable). */
static __always_inline void stashed_end(const struct args *a, __u8 *addr, __u16 *port)
{
	__u8 sa[28];

	/* (Zeroes the buffer when the read fails.) */
	bpf_probe_read_user(sa, sizeof(sa), (const void *)a->uaddr);
	sockaddr_end(sa, addr, port);
}
/* stash_args() for listen(fd, ...) and accept(fd, ...). */
static __always_inline int stash_fd(struct trace_event_raw_sys_enter *ctx, __u32 sys)
{
	return stash_args(sys, (__s64)ctx->args[0], 0, 0);
}

#endif
