// SPDX-License-Identifier: GPL-2.0
/* inetmon socket-operation events (the AHAFS "inetsock" operations).
 *
 * Hooks (no kprobes/fentry/LSM: tracepoints and cgroup hooks only):
 *   cgroup/sock_create            create (process context, also io_uring)
 *   cgroup/post_bind4/6           successful bind
 *   sys_enter/exit_bind           failed bind, with the requested address
 *   sys_enter/exit_listen         listen and its result
 *   sys_enter/exit_accept(4)      accept (acceptor's context) and errors
 *   cgroup/connect4/6             connect attempt (also io_uring); records owner
 *   sys_enter/exit_connect        synchronous connect failures, UDP outcome
 *   tp_btf/inet_sock_set_state    TCP connect outcome, disconnect (owner attributed);
 *                                 gives accepted sockets a cookie at birth
 *   cgroup/sendmsg4/6             UDP dynamic bind on first send
 *   cgroup/sock_release           close (process context)
 *   cgroup_skb/ingress, egress    control segments of audited connections (seg_*;
 *                                 attached only when asked for)
 *   tp_btf/sys_enter, sys_exit    32-bit compat bind, listen, accept, connect
 *                                 (compat_*; attached only with --compat)
 *
 * Passive events (those that may run in softirq) never use the current task:
 * they take the owner recorded at create/accept/connect, or say "unknown".
 *
 * The process's file descriptor (rec.fd, flag INETMON_F_FD) is known where
 * a syscall names it: bind, listen, accept (the new fd; the listener's on
 * an error) and connect, at their sys_exit or in the cgroup hook that runs
 * inside the syscall (post_bind, connect4/6: the fd stashed at sys_enter).
 * The connect outcome (set_state, mostly in softirq) and the disconnects
 * and segments of a socket take the fd its owner recorded at connect or
 * accept. Not known: anything issued through io_uring (its requests name
 * a file, not the fd, except an accept's result) or by sendto() with
 * MSG_FASTOPEN, and records of sockets whose connect or accept was not
 * seen (create, close, dynamic binds, sockets older than the monitor).
 *
 * The interface (rec.ifindex) of the records of bind, listen, accept and
 * connect (attempts aside), their failures, and set_state's (connect
 * outcome, disconnects seen there) is sk_ifindex():
 * the output device of the route the socket has cached (a connected or
 * accepted TCP socket, a connected UDP socket), else the device its last
 * segment arrived on, else the device it is bound to (SO_BINDTODEVICE, an
 * IPv6 link-local scope); 0 when none of them is set: a listening or bound
 * socket not bound to a device, a connect that failed before a route was
 * found. (An IPv6 connect's outcome falls back on the device its route had
 * at SYN_SENT, kept with the owner: see set_state.) A segment's is the
 * device it was seen on. Other records (create, close, a disconnect seen
 * at release, dynamic binds, connect attempts) have 0: not looked up. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include "inetmon_sock.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define EAGAIN 11
#define EINPROGRESS 115
#define EALREADY 114
#define EISCONN 106
#define ECONNABORTED 103
#define ECONNRESET 104
#define EPIPE 32
#define SOCK_LINGER 4 /* enum sock_flags: bit of sk_flags */

/* TCP states (include/net/tcp_states.h). */
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_FIN_WAIT1 4
#define TCP_FIN_WAIT2 5
#define TCP_CLOSE 7
#define TCP_CLOSE_WAIT 8
#define TCP_LAST_ACK 9
#define TCP_LISTEN 10
#define TCP_CLOSING 11

/* thread_info.status: in a 32-bit (ia32 compat) syscall (arch/x86). */
#define TS_COMPAT 0x0002

/* A program that only calls its body: PROG(section, name, context type,
 * call), the context named ctx. */
#define PROG(sec, name, ctx_type, call)                                        \
	SEC(sec) int name(ctx_type *ctx) { return call; }

/* Filters, set by the loader through .rodata before load. 0 = off. */
volatile const __u32 filter_pid = 0;
volatile const __u32 filter_uid_on = 0;
volatile const __u32 filter_uid = 0;
volatile const __u32 filter_port = 0;
volatile const __u64 filter_cgroup = 0;

/* Operation mask (`--watch`, the WATCH_* bits of inetmon_sock.h), set by
 * the loader like the filters. A record whose bit is clear is dropped
 * before it reaches the ring buffer; the programs' bookkeeping (owners,
 * stash, dynbind) is unaffected. */
volatile const __u32 cfg_watch = 0xffffffff;

/* 1 when compat_enter/compat_exit are attached (`--compat`): they report a
 * 32-bit compat listen like exit_listen does, so set_state leaves it. */
volatile const __u32 cfg_compat = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

/* Reserve failures, per CPU and per operation. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, INETMON_OP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

#include "sock_owner.h"
#include "sock_stash.h"

/* The ends a TCP socket had when it went to CLOSE before it was released
 * (reset received, connect refused or timed out, failure before any SYN):
 * by then inet_put_port() has zeroed its local port, and the failed
 * connect's tcp_disconnect() zeroes its local address and foreign port
 * before close(). Written by set_state (and exit_connect) only on those
 * transitions, never for a connection closed the ordinary way; read and
 * deleted by sock_release. Keyed by struct sock *, tagged with the cookie
 * (a stale entry of a reused struct sock is ignored). */
struct last_ends {
	__u64 cookie;
	__u8 laddr[16];
	__u8 faddr[16];
	__u16 lport;
	__u16 fport;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct last_ends);
} closed_ends SEC(".maps");

static __always_inline void save_ends(__u64 skp, const struct inetmon_sock_rec *r)
{
	struct last_ends e = {};

	e.cookie = r->cookie;
	__builtin_memcpy(e.laddr, r->laddr, 16);
	__builtin_memcpy(e.faddr, r->faddr, 16);
	e.lport = r->lport;
	e.fport = r->fport;
	bpf_map_update_elem(&closed_ends, &skp, &e, BPF_ANY);
}

/* The interface a socket uses (see the top of this file): from its cached
 * route, its last input device or its bound device; 0 when none is set.
 * Read with bpf_probe_read (sk_dst_cache is RCU-managed). */
static __always_inline __u32 sk_ifindex(struct sock *sk)
{
	struct dst_entry *dst = BPF_CORE_READ(sk, sk_dst_cache);
	int i = 0;

	if (dst)
		i = BPF_CORE_READ(dst, dev, ifindex);
	if (i <= 0)
		i = BPF_CORE_READ(sk, sk_rx_dst_ifindex);
	if (i <= 0)
		i = BPF_CORE_READ(sk, __sk_common.skc_bound_dev_if);
	return i > 0 ? i : 0;
}

/* The cfg_watch bit of an operation on a socket of this type. */
static __always_inline __u32 watch_bit(__u8 op, __u16 type)
{
	int stream = type == SOCK_STREAM, dgram = type == SOCK_DGRAM;

	switch (op) {
	case INETMON_OP_CREATE:
		return stream ? WATCH_STREAM_CREATE : dgram ? WATCH_DGRAM_CREATE : WATCH_OTHER;
	case INETMON_OP_BIND:
	case INETMON_OP_DYNBIND:
		return stream ? WATCH_STREAM_BIND : dgram ? WATCH_DGRAM_BIND : WATCH_OTHER;
	case INETMON_OP_LISTEN:
		return stream ? WATCH_STREAM_LISTEN : WATCH_OTHER;
	case INETMON_OP_ACCEPT:
		return stream ? WATCH_STREAM_ACCEPT : WATCH_OTHER;
	case INETMON_OP_CONNECT:
	case INETMON_OP_CONNECTED:
		return stream ? WATCH_STREAM_CONNECT : dgram ? WATCH_DGRAM_CONNECT : WATCH_OTHER;
	case INETMON_OP_DISCONNECT:
		return stream ? WATCH_STREAM_DISCONNECT : WATCH_OTHER;
	case INETMON_OP_CLOSE:
	case INETMON_OP_ABORT:
		return stream ? WATCH_STREAM_CLOSE : dgram ? WATCH_DGRAM_CLOSE : WATCH_OTHER;
	}
	return WATCH_OTHER;
}

/* Whether records of `op` on a socket of `type` are watched. cfg_watch
 * is a constant of the frozen .rodata, so with everything watched the
 * verifier sees the first test always true and drops the rest. */
static __always_inline int watched(__u8 op, __u16 type)
{
	/* (Segments are asked for by attaching their programs.) */
	return cfg_watch == 0xffffffff || op == INETMON_OP_SEGMENT ||
	       (cfg_watch & watch_bit(op, type)) != 0;
}

/* The filters on the task fields alone (pid, uid, cgroup), known as soon
 * as fill_current() or fill_owner_from() ran: a program whose record
 * fails them skips reading the socket (its bookkeeping still runs). */
static __always_inline int task_filters_pass(const struct inetmon_sock_rec *r)
{
	if (filter_pid && r->pid != filter_pid)
		return 0;
	if (filter_uid_on && r->uid != filter_uid)
		return 0;
	if (filter_cgroup && r->cgroup_id != filter_cgroup)
		return 0;
	return 1;
}

static __always_inline int filters_pass(const struct inetmon_sock_rec *r)
{
	if (!task_filters_pass(r))
		return 0;
	if (filter_port && r->lport != filter_port && r->fport != filter_port)
		return 0;
	return 1;
}

/* Wake-up policy. Waking the reader costs an irq_work (a self-IPI, a VM
 * exit on a guest) inside the program: about 0.5 us per connection under
 * a connection storm with the kernel's default (wake whenever the reader
 * had caught up). So a record only wakes the reader when no record was
 * emitted for WAKE_GAP_NS before it; records closer together are submitted
 * without a wake-up. The reader (SocketsProducer::poll) keeps draining for
 * a few milliseconds after any non-empty read before it blocks, which
 * picks those up; the worst case, a record delayed by preemption between
 * its timestamp and its commit, waits for the reader's poll timeout.
 * last_emit_ns is only refreshed every REFRESH_NS so that the two CPUs do
 * not bounce its cache line on every record. */
#define WAKE_GAP_NS 1000000ULL
#define REFRESH_NS 100000ULL
__u64 last_emit_ns = 0;

static __always_inline void emit(struct inetmon_sock_rec *r)
{
	__u64 now, since, flags = BPF_RB_NO_WAKEUP;

	/* Decided before the ring buffer is touched: an unwatched operation
	 * costs no space and no wake-up. */
	if (!watched(r->op, r->type) || !filters_pass(r))
		return;
	now = bpf_ktime_get_ns();
	since = now - last_emit_ns;
	if (since >= WAKE_GAP_NS)
		flags = BPF_RB_FORCE_WAKEUP;
	if (since >= REFRESH_NS)
		last_emit_ns = now;
	r->ts_ns = now;
	r->version = INETMON_SOCK_VERSION;
	if (bpf_ringbuf_output(&events, r, sizeof(*r), flags)) {
		__u32 k = r->op;
		__u64 *c = bpf_map_lookup_elem(&lost, &k);
		/* Atomic although per CPU: the cgroup hooks have no recursion
		 * guard, so set_state (softirq) can interrupt one of them on
		 * this CPU between a plain load and store. */
		if (c)
			__sync_fetch_and_add(c, 1);
	}
}

static __always_inline void fill_current(struct inetmon_sock_rec *r)
{
	__u64 pt = bpf_get_current_pid_tgid();
	__u64 ug = bpf_get_current_uid_gid();
	r->pid = pt >> 32;
	r->tid = (__u32)pt;
	r->uid = (__u32)ug;
	r->gid = ug >> 32;
	r->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	r->attribution = INETMON_ATTR_PROCESS;
}

/* A copy of the start of a struct sock_common, up to and with skc_cookie:
 * addresses, ports, family, netns pointer, IPv6 addresses and cookie in one
 * bpf_probe_read_kernel (each read costs ~30 ns, about what a copy of the
 * whole prefix costs). Fields are read from the copy at their CO-RE
 * relocated offsets; raw[] keeps those inside the buffer on a kernel whose
 * struct is larger than vmlinux.h's. */
union skc_copy {
	struct sock_common sc;
	__u8 raw[192];
};

static __always_inline void read_common(union skc_copy *u, struct sock *sk, int upto_net,
					int upto_flags)
{
	/* IPv4 ends and the netns pointer come first: when the cookie is
	 * not needed either, copy only that far (the cost grows with the
	 * length); skc_flags (SOCK_LINGER) comes right after the cookie. */
	__u32 n = upto_flags ? bpf_core_field_offset(struct sock_common, skc_flags) +
				       bpf_core_field_size(struct sock_common, skc_flags)
		  : upto_net ? bpf_core_field_offset(struct sock_common, skc_net) +
				       bpf_core_field_size(struct sock_common, skc_net)
			     : bpf_core_field_offset(struct sock_common, skc_cookie) +
				       bpf_core_field_size(struct sock_common, skc_cookie);

	if (n > sizeof(*u))
		n = sizeof(*u);
	bpf_probe_read_kernel(u, n, &sk->__sk_common);
}

/* The inode number of a network namespace: with plain (BTF) loads from the
 * current task's own netns when that is the one (nearly always: sockets
 * are used where they were made), else with a read. */
static __always_inline __u32 netns_inum(struct net *net)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct net *tn = t->nsproxy->net_ns;
	__u64 tv = (__u64)tn;

	/* Compared through an opaque copy: on tn == net the compiler would
	 * load through net, which the verifier only knows as a number. */
	barrier_var(tv);
	if (tv == (__u64)net)
		return tn->ns.inum;
	return BPF_CORE_READ(net, ns.inum);
}

/* Both ends and the netns of a kernel socket whose family is known, and
 * with want_cookie its cookie (callers with a context take the cookie from
 * bpf_get_socket_cookie() instead, which also creates one); with flags
 * non-NULL, sk_flags into *flags from the same copy. */
static __always_inline void fill_ends_flags(struct inetmon_sock_rec *r, struct sock *sk,
					    __u16 fam, int want_cookie, __u64 *flags)
{
	union skc_copy u;
	struct net *net;

	read_common(&u, sk, fam == AF_INET && !want_cookie, flags != NULL);
	if (flags)
		*flags = u.sc.skc_flags;
	r->lport = u.sc.skc_num;
	r->fport = bpf_ntohs(u.sc.skc_dport);
	if (fam == AF_INET) {
		__be32 l = u.sc.skc_rcv_saddr, f = u.sc.skc_daddr;
		__builtin_memcpy(r->laddr, &l, 4);
		__builtin_memcpy(r->faddr, &f, 4);
	} else {
		__builtin_memcpy(r->laddr, &u.sc.skc_v6_rcv_saddr, 16);
		__builtin_memcpy(r->faddr, &u.sc.skc_v6_daddr, 16);
	}
	net = u.sc.skc_net.net;
	r->netns = netns_inum(net);
	if (want_cookie)
		r->cookie = u.sc.skc_cookie.counter;
}

static __always_inline void fill_ends(struct inetmon_sock_rec *r, struct sock *sk, __u16 fam,
				      int want_cookie)
{
	fill_ends_flags(r, sk, fam, want_cookie, NULL);
}

/* sk_protocol and sk_type with one read when adjacent (as in vmlinux.h). */
static __always_inline void read_proto_type(struct sock *sk, __u16 *proto, __u16 *type)
{
	if (bpf_core_field_offset(struct sock, sk_type) ==
	    bpf_core_field_offset(struct sock, sk_protocol) + 2) {
		__u16 pt[2] = {};
		bpf_core_read(pt, sizeof(pt), &sk->sk_protocol);
		*proto = pt[0];
		*type = pt[1];
	} else {
		*proto = BPF_CORE_READ(sk, sk_protocol);
		*type = BPF_CORE_READ(sk, sk_type);
	}
}

/* Family, type and protocol as given, both ends and netns of the socket,
 * and with want_cookie its cookie. */
static __always_inline void fill_sk_as(struct inetmon_sock_rec *r, struct sock *sk, __u16 fam,
				       __u16 type, __u16 proto, int want_cookie)
{
	r->family = fam;
	r->type = type;
	r->protocol = proto;
	fill_ends(r, sk, fam, want_cookie);
}

/* Both ends, netns and cookie of a socket whose family, type and protocol
 * are known (read already, or from a context). */
static __always_inline void fill_sk_known(struct inetmon_sock_rec *r, struct sock *sk, __u16 fam,
					  __u16 type, __u16 proto)
{
	fill_sk_as(r, sk, fam, type, proto, 1);
}

/* Family, type, protocol, both ends, netns and cookie of a kernel socket. */
static __always_inline void fill_sk(struct inetmon_sock_rec *r, struct sock *sk)
{
	__u16 proto, type;

	read_proto_type(sk, &proto, &type);
	fill_sk_known(r, sk, BPF_CORE_READ(sk, __sk_common.skc_family), type, proto);
}

/* Fills family, type and protocol from a cgroup sock context (plain
 * loads), both ends and netns from the socket; the caller takes the
 * cookie from bpf_get_socket_cookie(). */
static __always_inline void fill_sk_ctx(struct inetmon_sock_rec *r, struct sock *sk, __u32 fam,
					__u32 type, __u32 proto)
{
	fill_sk_as(r, sk, fam, type, proto, 0);
}

/* The inet TCP/UDP socket behind a struct file, or NULL; with its family,
 * type and protocol. (Read from the file pointer on: the callers' files
 * come from an fd table or an io_uring request.) */
static __always_inline struct sock *sock_from_file(struct file *f, __u16 *famp, __u16 *typep,
						   __u16 *protop)
{
	struct socket *so;
	struct sock *sk;
	__u16 fam, proto, type;

	if (!f)
		return NULL;
	so = BPF_CORE_READ(f, private_data);
	if (!so || BPF_CORE_READ(so, file) != f)
		return NULL;
	sk = BPF_CORE_READ(so, sk);
	if (!sk)
		return NULL;
	fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	read_proto_type(sk, &proto, &type);
	if ((fam != AF_INET && fam != AF_INET6) || (proto != IPPROTO_TCP && proto != IPPROTO_UDP))
		return NULL;
	*famp = fam;
	*typep = type;
	*protop = proto;
	return sk;
}

/* The struct sock behind a file descriptor of the current task, or NULL;
 * with its family, type and protocol (only AF_INET/AF_INET6 TCP/UDP
 * sockets). The task's file table is walked with plain (BTF) loads from
 * bpf_get_current_task_btf(); from the file pointer on, with reads. */
static __always_inline struct sock *sock_from_fd(__s64 fd, __u16 *famp, __u16 *typep,
						 __u16 *protop)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct fdtable *fdt = t->files->fdt;
	unsigned int max = fdt->max_fds;
	struct file **fds = fdt->fd;
	struct file *f = NULL;

	if (fd < 0 || fd >= max)
		return NULL;
	bpf_core_read(&f, sizeof(f), &fds[fd]);
	return sock_from_file(f, famp, typep, protop);
}

/* The kernel pointer behind a cgroup/sock context (which is the sock). */
static __always_inline __u64 ctx_ptr(void *ctx)
{
	__u64 p;
	asm volatile("%0 = %1" : "=r"(p) : "r"(ctx));
	return p;
}

/* The record of a syscall exit about the current task's socket behind
 * fd: task, socket, op, result, fd and interface filled in. NULL (r
 * untouched) unless fd is a TCP or UDP inet socket. */
static __always_inline struct sock *exit_rec(struct inetmon_sock_rec *r, __s64 fd, __u8 op,
					     long result)
{
	__u16 fam, type, proto;
	struct sock *sk = sock_from_fd(fd, &fam, &type, &proto);

	if (!sk)
		return NULL;
	fill_current(r);
	fill_sk_known(r, sk, fam, type, proto);
	r->op = op;
	r->result = result;
	r->fd = (__s32)fd;
	r->flags |= INETMON_F_FD;
	r->ifindex = sk_ifindex(sk);
	return sk;
}

/* ---- create ---- */

SEC("cgroup/sock_create")
int sock_create(struct bpf_sock *ctx)
{
	struct inetmon_sock_rec r = {};
	__u32 fam = ctx->family, proto = ctx->protocol, type = ctx->type;
	struct sock *sk = (struct sock *)ctx_ptr(ctx);
	int owner;

	if ((fam != AF_INET && fam != AF_INET6) ||
	    (proto != IPPROTO_TCP && proto != IPPROTO_UDP))
		return 1;
	/* The owner recorded here attributes a TCP socket's passive
	 * disconnect, and tells the sendmsg hooks that a UDP socket was seen
	 * created (dynamic bind): not needed when neither is watched. */
	owner = type == SOCK_STREAM ? watched(INETMON_OP_DISCONNECT, type)
				    : watched(INETMON_OP_DYNBIND, type);
	if (!owner && !watched(INETMON_OP_CREATE, type)) {
		/* Attached for the cookie alone: the socket gets it now, so
		 * that records read by the tracepoints (listen, failed bind,
		 * accept errors), which cannot make one, carry it. */
		bpf_get_socket_cookie(ctx);
		return 1;
	}
	fill_current(&r);
	r.op = INETMON_OP_CREATE;
	r.family = fam;
	r.type = type;
	r.protocol = proto;
	r.cookie = bpf_get_socket_cookie(ctx);
	if (owner)
		record_owner(r.cookie, (__u64)sk, &r);
	if (!task_filters_pass(&r))
		return 1;
	r.netns = netns_inum(BPF_CORE_READ(sk, __sk_common.skc_net.net));
	emit(&r);
	return 1;
}

/* ---- close ---- */

/* A TCP socket released in CLOSE (a reset or failed connect came first):
 * the ends it had then (closed_ends), else at least its local port, which
 * inet_put_port() zeroed in skc_num but not in inet_sport. */
static __always_inline void restore_ends(struct inetmon_sock_rec *r, struct sock *sk, __u64 skp)
{
	struct last_ends *e = bpf_map_lookup_elem(&closed_ends, &skp);

	if (e) {
		if (e->cookie == r->cookie) {
			__builtin_memcpy(r->laddr, e->laddr, 16);
			__builtin_memcpy(r->faddr, e->faddr, 16);
			r->lport = e->lport;
			r->fport = e->fport;
		}
		bpf_map_delete_elem(&closed_ends, &skp);
		if (r->lport)
			return;
	}
	if (!r->lport)
		r->lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
}

/* Whether tcp_close() is about to reset this connection (an abortive
 * close, AHAFS PRU_ABORT) rather than send FIN: data the application
 * never read is still queued, or SO_LINGER is on with a zero time and the
 * state is one tcp_disconnect() answers with RST. flags is sk_flags. The
 * common case (nothing queued, no SO_LINGER) costs one read. */
static __always_inline int abortive_close(struct sock *sk, __u32 state, __u64 flags)
{
	if (state != TCP_ESTABLISHED && state != TCP_CLOSE_WAIT && state != TCP_FIN_WAIT1 &&
	    state != TCP_FIN_WAIT2 && state != TCP_CLOSING && state != TCP_LAST_ACK)
		return 0;
	if (BPF_CORE_READ(sk, sk_receive_queue.qlen)) {
		/* Queued: data, or only the peer's FIN (not data). Bytes
		 * received in order and not read; a FIN received counts one. */
		struct tcp_sock *tp = (struct tcp_sock *)sk;
		__u32 unread = BPF_CORE_READ(tp, rcv_nxt) - BPF_CORE_READ(tp, copied_seq);

		if (unread && (state == TCP_CLOSE_WAIT || state == TCP_LAST_ACK ||
			       state == TCP_CLOSING))
			unread--;
		if (unread)
			return 1;
	}
	if ((flags & (1ULL << SOCK_LINGER)) && state != TCP_CLOSING && state != TCP_LAST_ACK &&
	    !BPF_CORE_READ(sk, sk_lingertime))
		return 1;
	return 0;
}

SEC("cgroup/sock_release")
int sock_release(struct bpf_sock *ctx)
{
	struct inetmon_sock_rec r = {};
	__u32 fam = ctx->family, proto = ctx->protocol, state = ctx->state;
	__u32 type = ctx->type;
	__u64 skp = ctx_ptr(ctx);
	struct sock *sk = (struct sock *)skp;

	if ((fam != AF_INET && fam != AF_INET6) ||
	    (proto != IPPROTO_TCP && proto != IPPROTO_UDP))
		return 1;
	int ends = 0, abortive = 0;
	__u64 flags = 0;

	fill_current(&r);
	r.type = type;
	/* The cookie always: it finds the owners slot. */
	r.cookie = bpf_get_socket_cookie(ctx);
	/* Ends only for a record that will be emitted; the owner
	 * bookkeeping below runs regardless. */
	if (task_filters_pass(&r) &&
	    (watched(INETMON_OP_CLOSE, type) ||
	     (state == TCP_ESTABLISHED && watched(INETMON_OP_DISCONNECT, type)))) {
		ends = 1;
		r.family = fam;
		r.type = type;
		r.protocol = proto;
		/* (A TCP socket's sk_flags come with the same copy: SO_LINGER.) */
		fill_ends_flags(&r, sk, fam, 0, proto == IPPROTO_TCP ? &flags : NULL);
	}
	if (proto == IPPROTO_TCP) {
		int fallback;
		struct owner *o = find_owner(r.cookie, skp, &fallback);

		if (ends && state == TCP_CLOSE)
			restore_ends(&r, sk, skp);
		else if (ends && watched(INETMON_OP_CLOSE, type))
			abortive = abortive_close(sk, state, flags);
		if (state == TCP_ESTABLISHED) {
			r.op = INETMON_OP_DISCONNECT;
			r.initiator = INETMON_INIT_LOCAL;
			emit(&r);
			r.initiator = INETMON_INIT_NONE;
		}
		/* The released mark (and an entry to carry it) is for
		 * set_state's records only: not made when it reports none. */
		if (o)
			o->flags |= OWNER_RELEASED;
		else if (state != TCP_CLOSE &&
			 (watched(INETMON_OP_DISCONNECT, SOCK_STREAM) ||
			  watched(INETMON_OP_CONNECTED, SOCK_STREAM)))
			record_owner_flags(r.cookie, skp, &r, OWNER_RELEASED);
		/* (Owners slots are never deleted: the cookie tag retires them.) */
		if (state == TCP_CLOSE && o && fallback)
			bpf_map_delete_elem(&owners_nocookie, &skp);
	}
	r.op = abortive ? INETMON_OP_ABORT : INETMON_OP_CLOSE;
	emit(&r);
	return 1;
}

/* ---- bind ---- */

static __always_inline int post_bind(struct bpf_sock *ctx)
{
	struct inetmon_sock_rec r = {};
	__u32 proto = ctx->protocol;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 1;
	__u64 skp = ctx_ptr(ctx);
	int fallback;
	struct owner *o;

	r.cookie = bpf_get_socket_cookie(ctx);
	o = find_owner(r.cookie, skp, &fallback);
	if (o)
		o->flags |= OWNER_BOUND;
	fill_current(&r);
	fill_sk_ctx(&r, (struct sock *)skp, ctx->family, ctx->type, proto);
	r.op = INETMON_OP_BIND;
	/* Inside bind(2) (not io_uring's): its fd. A bound socket has no
	 * route yet: its device, if bound to one. */
	stashed_fd(&r, STASH_BIND);
	r.ifindex = sk_ifindex((struct sock *)skp);
	emit(&r);
	return 1;
}

PROG("cgroup/post_bind4", post_bind4, struct bpf_sock, post_bind(ctx))

PROG("cgroup/post_bind6", post_bind6, struct bpf_sock, post_bind(ctx))

PROG("tracepoint/syscalls/sys_enter_bind", enter_bind,
     struct trace_event_raw_sys_enter, stash_addr(ctx, STASH_BIND))

/* The exit of a bind the thread stashed (bind(2), or the same call made
 * as a 32-bit compat syscall): success is reported by post_bind; a
 * failure here, with the address that was asked for. Ends the stash. */
static __always_inline void bind_exit(struct args *a, long ret)
{
	struct inetmon_sock_rec r = {};

	if (ret < 0 && exit_rec(&r, a->fd, INETMON_OP_BIND, ret)) {
		stashed_end(a, r.laddr, &r.lport);
		emit(&r);
	}
	a->live = 0;
}

/* A sys_exit tracepoint program that hands the live stash and the result
 * to `body` (one of the *_exit helpers). */
#define EXIT_PROG(tp, name, body)                                              \
	SEC("tracepoint/syscalls/" tp)                                         \
	int name(struct trace_event_raw_sys_exit *ctx)                         \
	{                                                                      \
		struct args *a = live_args();                                  \
		if (a)                                                         \
			body(a, ctx->ret);                                     \
		return 0;                                                      \
	}

EXIT_PROG("sys_exit_bind", exit_bind, bind_exit)

/* ---- listen ---- */

PROG("tracepoint/syscalls/sys_enter_listen", enter_listen,
     struct trace_event_raw_sys_enter, stash_fd(ctx, STASH_LISTEN))

/* The exit of a stashed listen: its result. Ends the stash. */
static __always_inline void listen_exit(struct args *a, long ret)
{
	struct inetmon_sock_rec r = {};

	if (exit_rec(&r, a->fd, INETMON_OP_LISTEN, ret))
		emit(&r);
	a->live = 0;
}

EXIT_PROG("sys_exit_listen", exit_listen, listen_exit)

/* ---- accept ---- */

PROG("tracepoint/syscalls/sys_enter_accept", enter_accept,
     struct trace_event_raw_sys_enter, stash_fd(ctx, STASH_ACCEPT))

PROG("tracepoint/syscalls/sys_enter_accept4", enter_accept4,
     struct trace_event_raw_sys_enter, stash_fd(ctx, STASH_ACCEPT))

/* The exit of a stashed accept or accept4: the accepted socket, or the
 * error on the listener (EAGAIN aside). Ends the stash. */
static __always_inline void accept_exit(struct args *a, long ret)
{
	struct inetmon_sock_rec r = {};
	struct sock *sk;

	if (ret >= 0) {
		/* The accepted socket (ret is its fd). */
		sk = exit_rec(&r, ret, INETMON_OP_ACCEPT, 0);
		if (sk) {
			record_owner(r.cookie, (__u64)sk, &r);
			emit(&r);
		}
	} else if (ret != -EAGAIN && exit_rec(&r, a->fd, INETMON_OP_ACCEPT, ret)) {
		emit(&r);
	}
	a->live = 0;
}

EXIT_PROG("sys_exit_accept", exit_accept, accept_exit)

EXIT_PROG("sys_exit_accept4", exit_accept4, accept_exit)

/* ---- connect ---- */

static __always_inline int connect_attempt(struct bpf_sock_addr *ctx, int v6)
{
	struct inetmon_sock_rec r = {};
	struct bpf_sock_addr_kern *k = (struct bpf_sock_addr_kern *)ctx_ptr(ctx);
	struct sock *sk = BPF_CORE_READ(k, sk);
	__u64 skp = (__u64)sk;
	__u32 proto = ctx->protocol;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 1;
	fill_current(&r);
	/* (A UDP socket's local port decides on a dynamic bind below.) */
	if (proto == IPPROTO_UDP || task_filters_pass(&r))
		fill_sk_ctx(&r, sk, ctx->family, ctx->type, proto);
	r.cookie = bpf_get_socket_cookie(ctx);
	r.op = INETMON_OP_CONNECT;
	r.fport = bpf_ntohs((__u16)ctx->user_port);
	__builtin_memset(r.faddr, 0, 16);
	if (v6) {
		__u32 a0 = ctx->user_ip6[0], a1 = ctx->user_ip6[1];
		__u32 a2 = ctx->user_ip6[2], a3 = ctx->user_ip6[3];
		__builtin_memcpy(r.faddr, &a0, 4);
		__builtin_memcpy(r.faddr + 4, &a1, 4);
		__builtin_memcpy(r.faddr + 8, &a2, 4);
		__builtin_memcpy(r.faddr + 12, &a3, 4);
	} else {
		__u32 a = ctx->user_ip4;
		__builtin_memcpy(r.faddr, &a, 4);
	}
	/* Inside connect(2): its fd, recorded with the owner for the
	 * outcome, the disconnect and the segments. */
	stashed_fd(&r, STASH_CONNECT);
	/* A UDP socket that has its port already (bound explicitly or by an
	 * earlier send) stays marked bound, or its next sendto with an
	 * address would look like a dynamic bind. A TCP connect is an
	 * audited connection: its control segments are reported. */
	record_owner_flags(r.cookie, skp, &r,
			   proto == IPPROTO_UDP ? (r.lport ? OWNER_BOUND : 0) : OWNER_AUDITED);
	if (proto == IPPROTO_TCP) {
		/* Tell sys_exit_connect (same task, same socket) that it need
		 * not look the fd up unless the connect failed before a SYN. */
		struct args *a = task_args(0);
		if (a)
			a->tcp = 1;
	} else if (r.lport == 0) {
		struct args *a = task_args(1);
		if (a)
			a->dynbind = skp;
	}
	emit(&r);
	return 1;
}

PROG("cgroup/connect4", connect4, struct bpf_sock_addr, connect_attempt(ctx, 0))

PROG("cgroup/connect6", connect6, struct bpf_sock_addr, connect_attempt(ctx, 1))

PROG("tracepoint/syscalls/sys_enter_connect", enter_connect,
     struct trace_event_raw_sys_enter, stash_addr(ctx, STASH_CONNECT))

/* Emits r (task and socket filled) as a dynamic bind: the local end only,
 * whatever the socket is connected to. Used by sys_exit_connect and the
 * sendmsg hooks. */
static __always_inline void emit_dynbind(struct inetmon_sock_rec *r)
{
	__builtin_memset(r->faddr, 0, 16);
	r->fport = 0;
	r->op = INETMON_OP_DYNBIND;
	emit(r);
}

/* Emits the dynamic bind of a UDP socket that got its port in this call. */
static __always_inline void check_dynbind(struct args *a)
{
	struct inetmon_sock_rec r = {};
	__u64 key = a->dynbind;
	struct sock *sk;
	struct owner *o;
	int fallback;

	if (!key)
		return;
	sk = (struct sock *)key;
	a->dynbind = 0;
	if (!BPF_CORE_READ(sk, __sk_common.skc_num))
		return;
	fill_current(&r);
	fill_sk(&r, sk);
	o = find_owner(r.cookie, key, &fallback);
	if (o)
		o->flags |= OWNER_BOUND;
	emit_dynbind(&r);
}

/* The exit of a stashed connect: a failure before any SYN, a UDP
 * connect's outcome and dynamic bind. Ends the stash. */
static __always_inline void connect_exit(struct args *a, long ret)
{
	struct inetmon_sock_rec r = {};
	struct sock *sk;

	/* A TCP connect reports nothing here unless it failed before any
	 * SYN (set_state reports the rest), and only when watched: skip the
	 * fd walk. */
	if (a->tcp && !watched(INETMON_OP_CONNECTED, SOCK_STREAM))
		goto out;
	if (a->tcp && !(ret < 0 && ret != -EINPROGRESS && ret != -EALREADY && ret != -EISCONN &&
			!a->syn_sent))
		goto out;
	sk = exit_rec(&r, a->fd, INETMON_OP_CONNECTED, ret);
	if (sk) {
		if (r.protocol == IPPROTO_UDP) {
			/* (The dynamic bind's record goes first.) */
			check_dynbind(a);
			emit(&r);
		} else if (ret < 0 && ret != -EINPROGRESS && ret != -EALREADY &&
			   ret != -EISCONN && !a->syn_sent) {
			/* Failed before any SYN: no state change will say so.
			 * The socket has no foreign end yet: take the one asked for. */
			stashed_end(a, r.faddr, &r.fport);
			save_ends((__u64)sk, &r);
			emit(&r);
		}
	}
out:
	a->dynbind = 0;
	a->live = 0;
}

EXIT_PROG("sys_exit_connect", exit_connect, connect_exit)

/* ---- 32-bit compat syscalls (opt-in: `inetmon sockets --compat`) ----
 * The syscalls: tracepoints above never fire for an ia32 call (int 0x80,
 * sysenter, a -m32 binary): the kernel's syscall-tracepoint layer looks
 * the number up in the native table and skips compat calls. The raw
 * syscall tracepoints do fire for them, with the ia32 number, but for
 * every system call of every task on the machine: these two programs
 * decide from the number (a register) first, then from the task's
 * TS_COMPAT, and only then touch the stash. A compat bind, connect,
 * listen or accept(4), direct or through the socketcall(2) multiplexer,
 * is stashed like its native twin at entry and handed to the same exit
 * helpers: the same records, with the same fields. BTF-typed raw
 * tracepoints (tp_btf): the registers are plain loads. */

/* ia32 syscall numbers (arch/x86/entry/syscalls/syscall_32.tbl; there is
 * no direct ia32 accept: only accept4 and socketcall's SYS_ACCEPT). */
#define IA32_SOCKETCALL 102
#define IA32_BIND 361
#define IA32_CONNECT 362
#define IA32_LISTEN 363
#define IA32_ACCEPT4 364

/* socketcall(2) sub-calls (include/uapi/linux/net.h). */
#define SYS_BIND 2
#define SYS_CONNECT 3
#define SYS_LISTEN 4
#define SYS_ACCEPT 5
#define SYS_ACCEPT4 18

/* Whether an ia32 syscall number is one of those above. */
static __always_inline int ia32_sock_nr(long id)
{
	return id == IA32_SOCKETCALL || (id >= IA32_BIND && id <= IA32_ACCEPT4);
}

/* Whether the current task is in a 32-bit compat syscall (x86-64:
 * thread_info.status & TS_COMPAT, set at the compat entry and cleared on
 * the return to user space, after sys_exit). */
static __always_inline int in_compat_syscall(void)
{
	struct task_struct *t = bpf_get_current_task_btf();

	return t->thread_info.status & TS_COMPAT;
}

/* Stashes a compat socket call: sys (STASH_*) or 0 (not ours), the fd,
 * and for bind/connect the 32-bit sockaddr pointer and length. */
static __always_inline int compat_stash(__u32 sys, __u32 fd, __u32 uaddr, __u32 addrlen)
{
	if (!sys)
		return 0;
	/* (The fd is a 32-bit int: sign-extended, as the kernel does.) */
	return stash_args(sys, (__s64)(__s32)fd, uaddr,
			  sys == STASH_BIND || sys == STASH_CONNECT ? addrlen : 0);
}

/* The STASH_* of an ia32 socket syscall number or socketcall sub-call. */
static __always_inline __u32 compat_sys(long id, __u32 call)
{
	if (id == IA32_BIND || call == SYS_BIND)
		return STASH_BIND;
	if (id == IA32_CONNECT || call == SYS_CONNECT)
		return STASH_CONNECT;
	if (id == IA32_LISTEN || call == SYS_LISTEN)
		return STASH_LISTEN;
	if (id == IA32_ACCEPT4 || call == SYS_ACCEPT || call == SYS_ACCEPT4)
		return STASH_ACCEPT;
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(compat_enter, struct pt_regs *regs, long id)
{
	__u32 args[3] = {};
	__u32 call;

	if (!ia32_sock_nr(id) || !in_compat_syscall())
		return 0;
	/* ia32 arguments: ebx, ecx, edx. */
	if (id != IA32_SOCKETCALL)
		return compat_stash(compat_sys(id, 0), regs->bx, regs->cx, regs->dx);
	/* socketcall(call, args): the sub-call's arguments are 32-bit words
	 * in user memory (just written by the caller: resident). */
	call = regs->bx;
	if (!compat_sys(0, call))
		return 0;
	if (bpf_probe_read_user(args, sizeof(args), (const void *)(__u64)(__u32)regs->cx))
		return 0;
	return compat_stash(compat_sys(0, call), args[0], args[1], args[2]);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(compat_exit, struct pt_regs *regs, long ret)
{
	struct args *a;

	if (!ia32_sock_nr(regs->orig_ax) || !in_compat_syscall())
		return 0;
	a = live_args();
	if (!a)
		return 0;
	/* (An ia32 call returns an int.) */
	ret = (int)ret;
	switch (a->sys) {
	case STASH_BIND:
		bind_exit(a, ret);
		break;
	case STASH_CONNECT:
		connect_exit(a, ret);
		break;
	case STASH_LISTEN:
		listen_exit(a, ret);
		break;
	case STASH_ACCEPT:
		accept_exit(a, ret);
		break;
	default:
		a->live = 0;
	}
	return 0;
}

/* ---- io_uring: accept, listen and failed bind ----
 * IORING_OP_ACCEPT/LISTEN/BIND never pass the syscall tracepoints. Their
 * completions do pass io_uring_complete, posted in the submitter's task or
 * one of its io_uring worker threads (which share its file table): the
 * accepted fd (cqe res) is looked up like accept(2)'s, the listening or
 * binding socket is the request's file. (Successful binds are post_bind's;
 * an accept into a fixed-file slot has no fd and is not reported.) */

#define IORING_OP_ACCEPT 13
#define IORING_OP_BIND 56
#define IORING_OP_LISTEN 57

/* The record of a completion about the request's own socket. */
static __always_inline struct sock *uring_rec(struct inetmon_sock_rec *r, struct io_kiocb *req,
					      __u8 op, long result)
{
	__u16 fam, type, proto;
	struct sock *sk = sock_from_file(BPF_CORE_READ(req, file), &fam, &type, &proto);

	if (!sk)
		return NULL;
	fill_current(r);
	fill_sk_known(r, sk, fam, type, proto);
	r->op = op;
	r->result = result;
	/* (The request names a file, not an fd: no fd.) */
	r->ifindex = sk_ifindex(sk);
	return sk;
}

SEC("tp_btf/io_uring_complete")
int BPF_PROG(uring_complete, struct io_ring_ctx *ring, void *vreq, struct io_uring_cqe *cqe)
{
	struct io_kiocb *req = vreq;
	struct inetmon_sock_rec r = {};
	struct sock *sk;
	__u8 opcode;
	int res;

	/* Every completion of every ring on the machine comes here: one
	 * read of the opcode decides. (Auxiliary CQEs have no request.) */
	if (!req)
		return 0;
	opcode = BPF_CORE_READ(req, opcode);
	if (opcode != IORING_OP_ACCEPT && opcode != IORING_OP_LISTEN && opcode != IORING_OP_BIND)
		return 0;
	res = cqe->res;
	if (opcode == IORING_OP_ACCEPT) {
		if (res >= 0) {
			struct io_accept *acc = (struct io_accept *)&req->cmd;

			/* (A fixed-file slot index is no fd.) */
			if (BPF_CORE_READ(acc, file_slot))
				return 0;
			sk = exit_rec(&r, res, INETMON_OP_ACCEPT, 0);
			if (sk) {
				record_owner(r.cookie, (__u64)sk, &r);
				emit(&r);
			}
		} else if (res != -EAGAIN && uring_rec(&r, req, INETMON_OP_ACCEPT, res)) {
			emit(&r);
		}
	} else if (opcode == IORING_OP_LISTEN) {
		if (uring_rec(&r, req, INETMON_OP_LISTEN, res))
			emit(&r);
	} else if (res < 0 && uring_rec(&r, req, INETMON_OP_BIND, res)) {
		/* With the socket's own local end (unbound: the wildcard):
		 * the address asked for is not to be found here. (Read from
		 * the request's async data, at submission or completion, it
		 * was not the address on this kernel.) */
		emit(&r);
	}
	return 0;
}

/* ---- UDP dynamic bind on first send ----
 * inet_send_prepare() autobinds before udp_sendmsg() runs this hook, so the
 * port is already there: a socket we saw created but never saw bound has
 * just been bound dynamically. (Only unconnected sends with an address run
 * the hook; a connected socket was bound at connect.) */

static __always_inline int sendmsg_hook(struct bpf_sock_addr *ctx)
{
	struct bpf_sock_addr_kern *k = (struct bpf_sock_addr_kern *)ctx_ptr(ctx);
	struct inetmon_sock_rec r = {};
	struct sock *sk = BPF_CORE_READ(k, sk);
	__u64 skp = (__u64)sk;
	int fallback;
	struct owner *o = find_owner(bpf_get_socket_cookie(ctx), skp, &fallback);

	if (!o || (o->flags & OWNER_BOUND))
		return 1;
	o->flags |= OWNER_BOUND;
	fill_current(&r);
	fill_sk(&r, sk);
	emit_dynbind(&r);
	return 1;
}

PROG("cgroup/sendmsg4", sendmsg4, struct bpf_sock_addr, sendmsg_hook(ctx))

PROG("cgroup/sendmsg6", sendmsg6, struct bpf_sock_addr, sendmsg_hook(ctx))

/* ---- TCP state changes: connect outcome and disconnect ---- */

/* fill_sk_known() for a socket reached through a BTF-typed argument
 * (tp_btf): the same fields with plain loads instead of bpf_probe_read
 * calls. */
static __always_inline void fill_sk_btf(struct inetmon_sock_rec *r, struct sock *sk, __u16 fam,
					__u16 proto)
{
	r->family = fam;
	r->type = sk->sk_type;
	r->protocol = proto;
	/* On the transition to CLOSE inet_put_port() has zeroed skc_num
	 * already: then inet_sport, which it keeps (a read: the BTF type
	 * of the argument is struct sock). */
	r->lport = sk->__sk_common.skc_num;
	if (!r->lport)
		r->lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	r->fport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (fam == AF_INET) {
		__be32 l = sk->__sk_common.skc_rcv_saddr, f = sk->__sk_common.skc_daddr;
		__builtin_memcpy(r->laddr, &l, 4);
		__builtin_memcpy(r->faddr, &f, 4);
	} else {
		struct in6_addr l = sk->__sk_common.skc_v6_rcv_saddr;
		struct in6_addr f = sk->__sk_common.skc_v6_daddr;
		__builtin_memcpy(r->laddr, &l, 16);
		__builtin_memcpy(r->faddr, &f, 16);
	}
	r->netns = sk->__sk_common.skc_net.net->ns.inum;
	r->cookie = sk->__sk_common.skc_cookie.counter;
	r->ifindex = sk_ifindex(sk);
}

/* A BTF-typed raw tracepoint rather than the classic sock:inet_sock_set_state:
 * the classic one fills a perf trace record (addresses, ports, states) on
 * every one of the ~10 transitions of a TCP connection before the program
 * even runs; this one gets the kernel's own (sk, oldstate, newstate)
 * arguments and reads the two fields it decides on with plain loads. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state, const struct sock *csk, int os, int ns)
{
	/* Runs ~10 times per TCP connection, mostly for transitions that
	 * produce nothing: decide from the states first, before any helper
	 * call, map lookup or CO-RE read. */
	struct sock *sk = (struct sock *)csk;
	__u16 family, protocol;
	__u64 skp;
	struct owner *o;
	int fallback, released;
	int report;

	if (ns == TCP_SYN_RECV) {
		/* A passive open's child socket being born (from the
		 * listener's state): give it its cookie now, so the accept
		 * event has one and the acceptor's owners slot can be found
		 * by it (a sockops PASSIVE_ESTABLISHED program did this
		 * before, at ~9 sockops runs per connection). */
		bpf_get_socket_cookie(sk);
		return 0;
	}
	if (ns == TCP_LISTEN) {
		/* listen() issued as a 32-bit compat syscall passes no
		 * syscalls: tracepoint, but its state change runs in the
		 * caller: reported from here, unless compat_exit is attached
		 * and reports it. (The native syscall and io_uring are
		 * reported by exit_listen and uring_complete.) */
		struct task_struct *t = bpf_get_current_task_btf();
		struct inetmon_sock_rec r = {};

		if (cfg_compat || !(t->thread_info.status & TS_COMPAT) ||
		    !watched(INETMON_OP_LISTEN, SOCK_STREAM))
			return 0;
		fill_current(&r);
		fill_sk_btf(&r, sk, sk->__sk_common.skc_family, sk->sk_protocol);
		r.op = INETMON_OP_LISTEN;
		emit(&r);
		return 0;
	}
	if (os == TCP_CLOSE && ns == TCP_SYN_SENT) {
		if (sk->sk_protocol != IPPROTO_TCP)
			return 0;
		/* In the connecting task: remember that a SYN went out. */
		struct args *a = task_args(0);
		if (a)
			a->syn_sent = 1;
		if (sk->__sk_common.skc_family == AF_INET6 &&
		    watched(INETMON_OP_CONNECTED, SOCK_STREAM)) {
			/* tcp_v6_connect() has stored its route by now
			 * (tcp_v4_connect() only after this transition). An
			 * IPv6 socket loses it again at a SYN retransmission
			 * timeout (ip6_negative_advice() resets sk_dst_cache),
			 * so a connect that times out would have no interface
			 * left to report: keep it with the owner. */
			int fallback;
			struct owner *o = find_owner(sk->__sk_common.skc_cookie.counter,
						     (__u64)sk, &fallback);

			if (o)
				o->ifindex = sk_ifindex(sk);
		}
		return 0;
	}
	if (os == TCP_SYN_SENT) {
		if (ns != TCP_ESTABLISHED && ns != TCP_CLOSE)
			return 0;
	} else if (os == TCP_ESTABLISHED) {
		if (ns != TCP_FIN_WAIT1 && ns != TCP_CLOSE_WAIT && ns != TCP_CLOSE)
			return 0;
	} else if (ns != TCP_CLOSE) {
		return 0;
	}
	/* Whether this transition is a watched record; when not, only the
	 * owner clean-up at CLOSE is left to do. */
	if (os == TCP_SYN_SENT)
		report = watched(INETMON_OP_CONNECTED, SOCK_STREAM);
	else if (os == TCP_ESTABLISHED)
		report = watched(INETMON_OP_DISCONNECT, SOCK_STREAM);
	else
		report = 0;
	if (!report && ns != TCP_CLOSE)
		return 0;
	protocol = sk->sk_protocol;
	if (protocol != IPPROTO_TCP)
		return 0;
	family = sk->__sk_common.skc_family;

	/* One owner lookup serves the event and the clean-up at close. */
	skp = (__u64)sk;
	o = find_owner(sk->__sk_common.skc_cookie.counter, skp, &fallback);
	released = o && (o->flags & OWNER_RELEASED);
	if (ns == TCP_CLOSE && !released &&
	    (os == TCP_SYN_SENT || os == TCP_ESTABLISHED || os == TCP_CLOSE_WAIT)) {
		/* Closed before close(): a reset received, a connect refused
		 * or timed out. Keep the ends it has now for sock_release.
		 * (Ordinary ends, LAST_ACK or TIME_WAIT to CLOSE, come after
		 * the release: never stored.) */
		struct inetmon_sock_rec r = {};

		fill_sk_btf(&r, sk, family, protocol);
		/* (The tag: made now if no hook gave the socket a cookie yet,
		 * as sock_release will.) */
		r.cookie = bpf_get_socket_cookie(sk);
		save_ends(skp, &r);
	}
	if (!report) {
		/* nothing to emit */
	} else if (os == TCP_SYN_SENT) {
		struct inetmon_sock_rec r = {};

		fill_owner_from(&r, o);
		fill_sk_btf(&r, sk, family, protocol);
		if (!r.ifindex && o)
			r.ifindex = o->ifindex;
		r.op = INETMON_OP_CONNECTED;
		if (ns == TCP_CLOSE) {
			int err = sk->sk_err;
			r.result = err ? -err : -ECONNABORTED;
		}
		emit(&r);
	} else if (os == TCP_ESTABLISHED && !released) {
		/* (When released, sock_release already said "local".) */
		struct inetmon_sock_rec r = {};
		int err = sk->sk_err;

		fill_owner_from(&r, o);
		fill_sk_btf(&r, sk, family, protocol);
		r.op = INETMON_OP_DISCONNECT;
		/* A reset received: ECONNRESET (EPIPE after our FIN); given up
		 * on retransmissions or keepalives: ETIMEDOUT. */
		r.result = -err;
		if (ns == TCP_FIN_WAIT1)
			r.initiator = INETMON_INIT_LOCAL;
		else if (ns == TCP_CLOSE_WAIT)
			r.initiator = INETMON_INIT_PEER;
		else
			r.initiator = err == ECONNRESET || err == EPIPE ? INETMON_INIT_PEER
									: INETMON_INIT_LOCAL;
		emit(&r);
	}
	if (ns == TCP_CLOSE && o && fallback && (o->flags & OWNER_RELEASED))
		bpf_map_delete_elem(&owners_nocookie, &skp);
	return 0;
}

/* ---- control segments of audited connections (inetmon audit --messages) ----
 * cgroup_skb programs see every packet of every socket below the cgroup
 * they are attached to, at IP level (ingress in the protocol's receive
 * path after the socket lookup, egress at ip_finish_output/ip6_finish_output
 * with the output device set). Only a TCP segment with SYN, FIN or RST of
 * a socket marked OWNER_AUDITED (connect4/6) becomes a record: everything
 * else is let through after reading at most the IP header and 14 bytes of
 * TCP header. Never drops (returns 1). Not seen: what a TIME_WAIT socket
 * handles (tcp_v4_rcv's do_time_wait runs no socket filter), which after
 * close() includes a FIN received in FIN_WAIT2. */

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define TCPF_CONTROL 0x07 /* FIN | SYN | RST */

static __always_inline int segment_record(struct __sk_buff *skb, int in)
{
	struct inetmon_sock_rec r = {};
	__u8 ip[40], tcp[14];
	__u32 hlen, k;
	__u16 fam;
	__u64 cookie;
	struct owner *o;
	struct sk_buff *kskb;
	const __u8 *src, *dst;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (bpf_skb_load_bytes(skb, 0, ip, 20) || ip[9] != IPPROTO_TCP)
			return 1;
		/* (A later fragment has no TCP header.) */
		if ((ip[6] & 0x1f) || ip[7])
			return 1;
		hlen = (ip[0] & 0x0f) * 4;
		fam = AF_INET;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		/* (TCP right after the fixed header: TCP does not send
		 * extension headers of its own.) */
		if (bpf_skb_load_bytes(skb, 0, ip, 40) || ip[6] != IPPROTO_TCP)
			return 1;
		hlen = 40;
		fam = AF_INET6;
	} else {
		return 1;
	}
	if (hlen < 20 || bpf_skb_load_bytes(skb, hlen, tcp, sizeof(tcp)) ||
	    !(tcp[13] & TCPF_CONTROL))
		return 1;
	cookie = bpf_get_socket_cookie(skb);
	if (!cookie)
		return 1;
	k = (__u32)cookie & (OWNER_SLOTS - 1);
	o = bpf_map_lookup_elem(&owners, &k);
	if (!o || o->cookie != cookie || !(o->flags & OWNER_AUDITED))
		return 1;
	fill_owner_from(&r, o);
	r.op = INETMON_OP_SEGMENT;
	r.cookie = cookie;
	r.family = fam;
	r.type = SOCK_STREAM;
	r.protocol = IPPROTO_TCP;
	r.initiator = in ? INETMON_INIT_PEER : INETMON_INIT_LOCAL;
	r.tcp_flags = tcp[13];
	r.ifindex = skb->ifindex;
	__builtin_memcpy(r.seq_ack, tcp + 4, 8);
	/* Local end = destination of a received segment, source of a sent one. */
	if (fam == AF_INET) {
		src = ip + 12;
		dst = ip + 16;
		__builtin_memcpy(r.laddr, in ? dst : src, 4);
		__builtin_memcpy(r.faddr, in ? src : dst, 4);
	} else {
		src = ip + 8;
		dst = ip + 24;
		__builtin_memcpy(r.laddr, in ? dst : src, 16);
		__builtin_memcpy(r.faddr, in ? src : dst, 16);
	}
	{
		__u16 sport = ((__u16)tcp[0] << 8) | tcp[1];
		__u16 dport = ((__u16)tcp[2] << 8) | tcp[3];

		r.lport = in ? dport : sport;
		r.fport = in ? sport : dport;
	}
	/* The cgroup_skb context is the kernel's sk_buff. */
	kskb = (struct sk_buff *)ctx_ptr(skb);
	r.netns = BPF_CORE_READ(kskb, sk, __sk_common.skc_net.net, ns.inum);
	emit(&r);
	return 1;
}

/* The per-packet part: whether the packet is a TCP segment with SYN, FIN
 * or RST, decided by direct reads of the linear data (no helper call);
 * only those, and packets whose headers are not linear, go on to
 * segment_record(). */
static __always_inline int segment(struct __sk_buff *skb, int in)
{
	const __u8 *d = (const __u8 *)(long)skb->data;
	const __u8 *end = (const __u8 *)(long)skb->data_end;
	const __u8 *t;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (d + 20 > end)
			return segment_record(skb, in);
		if (d[9] != IPPROTO_TCP)
			return 1;
		t = d + (d[0] & 0x0f) * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		if (d + 40 > end)
			return segment_record(skb, in);
		if (d[6] != IPPROTO_TCP)
			return 1;
		t = d + 40;
	} else {
		return 1;
	}
	if (t + 14 > end)
		return segment_record(skb, in);
	if (!(t[13] & TCPF_CONTROL))
		return 1;
	return segment_record(skb, in);
}

PROG("cgroup_skb/ingress", seg_ingress, struct __sk_buff, segment(ctx, 1))

PROG("cgroup_skb/egress", seg_egress, struct __sk_buff, segment(ctx, 0))

char LICENSE[] SEC("license") = "GPL";
