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
 *   tp_btf/inet_sock_set_state    TCP connect outcome, disconnect (owner attributed)
 *   cgroup/sendmsg4/6             UDP dynamic bind on first send
 *   cgroup/sock_release           close (process context)
 *   sockops                       makes accepted sockets get a cookie early
 *
 * Passive events (those that may run in softirq) never use the current task:
 * they take the owner recorded at create/accept/connect, or say "unknown".
 */
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

/* TCP states (include/net/tcp_states.h). */
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_FIN_WAIT1 4
#define TCP_CLOSE 7
#define TCP_CLOSE_WAIT 8

/* Filters, set by the loader through .rodata before load. 0 = off. */
volatile const __u32 filter_pid = 0;
volatile const __u32 filter_uid_on = 0;
volatile const __u32 filter_uid = 0;
volatile const __u32 filter_port = 0;
volatile const __u64 filter_cgroup = 0;

/* Operation mask (`--watch`), set by the loader like the filters: one bit
 * per AHAFS monitor, in the order of inetmon-bpf's WatchOp (streamCreate
 * = bit 0 ... dgramClose = bit 10), plus WATCH_OTHER for records that no
 * monitor names (listen/accept errors on a UDP socket). A record whose bit
 * is clear is dropped before it reaches the ring buffer; the programs'
 * bookkeeping (owners, stash, dynbind) is unaffected. All ones = every
 * record (the default). */
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
volatile const __u32 cfg_watch = 0xffffffff;

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

#define OWNER_RELEASED 1
#define OWNER_BOUND 2 /* a bind or dynamic bind was reported */

struct owner {
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u32 gid;
	__u64 cgroup_id;
	__u32 flags;
	__u32 pad;
	char comm[16];
};

/* struct sock * -> the task that created/accepted/connected it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct owner);
} owners SEC(".maps");

/* Syscall arguments stashed at sys_enter, keyed by pid_tgid. */
struct args {
	__s64 fd;
	__u32 syn_sent; /* connect: the socket went to SYN_SENT in this call */
	__u32 addrlen;
	__u8 addr[28]; /* bind: the requested sockaddr */
	__u32 tcp;     /* connect: the connect4/6 hook saw a TCP socket */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct args);
} stash SEC(".maps");

/* UDP sockets with no local port that are sending or connecting: a dynamic
 * bind is about to happen. pid_tgid -> struct sock *. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} dynbind SEC(".maps");

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
		return stream ? WATCH_STREAM_CLOSE : dgram ? WATCH_DGRAM_CLOSE : WATCH_OTHER;
	}
	return WATCH_OTHER;
}

/* Whether records of `op` on a socket of `type` are watched. cfg_watch
 * is a constant of the frozen .rodata, so with everything watched the
 * verifier sees the first test always true and drops the rest. */
static __always_inline int watched(__u8 op, __u16 type)
{
	return cfg_watch == 0xffffffff || (cfg_watch & watch_bit(op, type)) != 0;
}

static __always_inline int filters_pass(const struct inetmon_sock_rec *r)
{
	if (filter_pid && r->pid != filter_pid)
		return 0;
	if (filter_uid_on && r->uid != filter_uid)
		return 0;
	if (filter_port && r->lport != filter_port && r->fport != filter_port)
		return 0;
	if (filter_cgroup && r->cgroup_id != filter_cgroup)
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

/* The attribution from an owner entry looked up by the caller (or NULL). */
static __always_inline void fill_owner_from(struct inetmon_sock_rec *r, const struct owner *o)
{
	if (!o) {
		r->attribution = INETMON_ATTR_UNKNOWN;
		return;
	}
	r->pid = o->pid;
	r->tid = o->tid;
	r->uid = o->uid;
	r->gid = o->gid;
	r->cgroup_id = o->cgroup_id;
	__builtin_memcpy(r->comm, o->comm, sizeof(r->comm));
	r->attribution = INETMON_ATTR_OWNER;
}

static __always_inline void record_owner(__u64 sk, const struct inetmon_sock_rec *r)
{
	struct owner o = {};
	o.pid = r->pid;
	o.tid = r->tid;
	o.uid = r->uid;
	o.gid = r->gid;
	o.cgroup_id = r->cgroup_id;
	__builtin_memcpy(o.comm, r->comm, sizeof(o.comm));
	bpf_map_update_elem(&owners, &sk, &o, BPF_ANY);
}

/* Both ends and the netns of a kernel socket whose family is known.
 * skc_portpair and skc_addrpair are the kernel's own unions over
 * (skc_dport, skc_num) and (skc_daddr, skc_rcv_saddr): one read each
 * instead of two. */
static __always_inline void fill_ends(struct inetmon_sock_rec *r, struct sock *sk, __u16 fam)
{
	struct {
		__be16 dport;
		__u16 num;
	} pp = {};
	bpf_core_read(&pp, sizeof(pp), &sk->__sk_common.skc_portpair);
	r->lport = pp.num;
	r->fport = bpf_ntohs(pp.dport);
	if (fam == AF_INET) {
		struct {
			__be32 daddr;
			__be32 rcv_saddr;
		} ap = {};
		bpf_core_read(&ap, sizeof(ap), &sk->__sk_common.skc_addrpair);
		__builtin_memcpy(r->laddr, &ap.rcv_saddr, 4);
		__builtin_memcpy(r->faddr, &ap.daddr, 4);
	} else {
		bpf_core_read(r->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(r->faddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	r->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* Type, both ends, netns and cookie of a socket whose family and protocol
 * are known (read already, or from a context). */
static __always_inline void fill_sk_known(struct inetmon_sock_rec *r, struct sock *sk, __u16 fam,
					  __u16 proto)
{
	r->family = fam;
	r->type = BPF_CORE_READ(sk, sk_type);
	r->protocol = proto;
	fill_ends(r, sk, fam);
	r->cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
}

/* record_owner() for a socket that usually has an entry already (the one
 * sock_create made): overwrites it in place, which is a lookup instead of
 * an LRU element allocation, copy and release. Same value as
 * record_owner() (flags cleared). */
static __always_inline void rerecord_owner(__u64 sk, const struct inetmon_sock_rec *r)
{
	struct owner *o = bpf_map_lookup_elem(&owners, &sk);

	if (!o) {
		record_owner(sk, r);
		return;
	}
	o->pid = r->pid;
	o->tid = r->tid;
	o->uid = r->uid;
	o->gid = r->gid;
	o->cgroup_id = r->cgroup_id;
	o->flags = 0;
	__builtin_memcpy(o->comm, r->comm, sizeof(o->comm));
}

/* Family, type, protocol, both ends, netns and cookie of a kernel socket. */
static __always_inline void fill_sk(struct inetmon_sock_rec *r, struct sock *sk)
{
	fill_sk_known(r, sk, BPF_CORE_READ(sk, __sk_common.skc_family),
		      BPF_CORE_READ(sk, sk_protocol));
}

/* Fills family, type and protocol from a cgroup sock context (plain
 * loads), both ends and netns from the socket; the caller takes the
 * cookie from bpf_get_socket_cookie(). */
static __always_inline void fill_sk_ctx(struct inetmon_sock_rec *r, struct sock *sk, __u32 fam,
					__u32 type, __u32 proto)
{
	r->family = fam;
	r->type = type;
	r->protocol = proto;
	fill_ends(r, sk, fam);
}

/* The struct sock behind a file descriptor of the current task, or NULL;
 * with its family and protocol (only AF_INET/AF_INET6 TCP/UDP sockets). */
static __always_inline struct sock *sock_from_fd(__s64 fd, __u16 *famp, __u16 *protop)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	struct socket *so;
	struct sock *sk;
	__u16 fam, proto;

	if (fd < 0 || fd >= max)
		return NULL;
	bpf_core_read(&f, sizeof(f), &fds[fd]);
	if (!f)
		return NULL;
	so = BPF_CORE_READ(f, private_data);
	if (!so || BPF_CORE_READ(so, file) != f)
		return NULL;
	sk = BPF_CORE_READ(so, sk);
	if (!sk)
		return NULL;
	fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	proto = BPF_CORE_READ(sk, sk_protocol);
	if ((fam != AF_INET && fam != AF_INET6) || (proto != IPPROTO_TCP && proto != IPPROTO_UDP))
		return NULL;
	*famp = fam;
	*protop = proto;
	return sk;
}

/* The kernel pointer behind a cgroup/sock context (which is the sock). */
static __always_inline __u64 ctx_ptr(void *ctx)
{
	__u64 p;
	asm volatile("%0 = %1" : "=r"(p) : "r"(ctx));
	return p;
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
	r.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	if (owner)
		record_owner((__u64)sk, &r);
	emit(&r);
	return 1;
}

/* ---- close ---- */

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
	fill_current(&r);
	r.type = type;
	/* Ends and cookie only for a record that will be emitted; the owner
	 * bookkeeping below runs regardless. */
	if (watched(INETMON_OP_CLOSE, type) ||
	    (state == TCP_ESTABLISHED && watched(INETMON_OP_DISCONNECT, type))) {
		fill_sk_ctx(&r, sk, fam, type, proto);
		r.cookie = bpf_get_socket_cookie(ctx);
	}
	if (proto == IPPROTO_TCP) {
		struct owner *o = bpf_map_lookup_elem(&owners, &skp);
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
			  watched(INETMON_OP_CONNECTED, SOCK_STREAM))) {
			struct owner n = {};
			n.flags = OWNER_RELEASED;
			n.pid = r.pid;
			n.tid = r.tid;
			n.uid = r.uid;
			n.gid = r.gid;
			n.cgroup_id = r.cgroup_id;
			__builtin_memcpy(n.comm, r.comm, sizeof(n.comm));
			bpf_map_update_elem(&owners, &skp, &n, BPF_ANY);
		}
		if (state == TCP_CLOSE)
			bpf_map_delete_elem(&owners, &skp);
	} else {
		bpf_map_delete_elem(&owners, &skp);
	}
	r.op = INETMON_OP_CLOSE;
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
	struct owner *o = bpf_map_lookup_elem(&owners, &skp);

	if (o)
		o->flags |= OWNER_BOUND;
	fill_current(&r);
	fill_sk_ctx(&r, (struct sock *)skp, ctx->family, ctx->type, proto);
	r.cookie = bpf_get_socket_cookie(ctx);
	r.op = INETMON_OP_BIND;
	emit(&r);
	return 1;
}

SEC("cgroup/post_bind4")
int post_bind4(struct bpf_sock *ctx)
{
	return post_bind(ctx);
}

SEC("cgroup/post_bind6")
int post_bind6(struct bpf_sock *ctx)
{
	return post_bind(ctx);
}

/* Stashes fd and the user sockaddr of bind()/connect() for their exit. */
static __always_inline int stash_addr(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct args a = {};
	const void *uaddr = (const void *)ctx->args[1];
	a.fd = (__s64)ctx->args[0];
	a.addrlen = (__u32)ctx->args[2];
	bpf_probe_read_user(a.addr, sizeof(a.addr), uaddr);
	bpf_map_update_elem(&stash, &id, &a, BPF_ANY);
	return 0;
}

/* Copies a stashed sockaddr_in/in6 into an address and port. */
static __always_inline void stashed_end(const struct args *a, __u8 *addr, __u16 *port)
{
	__u16 fam = 0;
	__builtin_memcpy(&fam, a->addr, 2);
	__builtin_memset(addr, 0, 16);
	if (fam == AF_INET)
		__builtin_memcpy(addr, a->addr + 4, 4);
	else if (fam == AF_INET6)
		__builtin_memcpy(addr, a->addr + 8, 16);
	*port = ((__u16)a->addr[2] << 8) | a->addr[3];
}

SEC("tracepoint/syscalls/sys_enter_bind")
int enter_bind(struct trace_event_raw_sys_enter *ctx)
{
	return stash_addr(ctx);
}

SEC("tracepoint/syscalls/sys_exit_bind")
int exit_bind(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct args *a = bpf_map_lookup_elem(&stash, &id);
	struct inetmon_sock_rec r = {};
	struct sock *sk;
	long ret = ctx->ret;
	__u16 fam, proto;

	if (!a)
		return 0;
	if (ret < 0 && (sk = sock_from_fd(a->fd, &fam, &proto))) {
		/* Success is reported by post_bind; a failure here, with the
		 * address that was asked for. */
		fill_current(&r);
		fill_sk_known(&r, sk, fam, proto);
		r.op = INETMON_OP_BIND;
		r.result = ret;
		stashed_end(a, r.laddr, &r.lport);
		emit(&r);
	}
	bpf_map_delete_elem(&stash, &id);
	return 0;
}

/* ---- listen ---- */

static __always_inline int stash_fd(__s64 fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct args a = {};
	a.fd = fd;
	bpf_map_update_elem(&stash, &id, &a, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_listen")
int enter_listen(struct trace_event_raw_sys_enter *ctx)
{
	return stash_fd((__s64)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_exit_listen")
int exit_listen(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct args *a = bpf_map_lookup_elem(&stash, &id);
	struct inetmon_sock_rec r = {};
	struct sock *sk;
	__u16 fam, proto;

	if (!a)
		return 0;
	sk = sock_from_fd(a->fd, &fam, &proto);
	if (sk) {
		fill_current(&r);
		fill_sk_known(&r, sk, fam, proto);
		r.op = INETMON_OP_LISTEN;
		r.result = ctx->ret;
		emit(&r);
	}
	bpf_map_delete_elem(&stash, &id);
	return 0;
}

/* ---- accept ---- */

SEC("tracepoint/syscalls/sys_enter_accept")
int enter_accept(struct trace_event_raw_sys_enter *ctx)
{
	return stash_fd((__s64)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_accept4")
int enter_accept4(struct trace_event_raw_sys_enter *ctx)
{
	return stash_fd((__s64)ctx->args[0]);
}

static __always_inline int exit_accept_common(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct args *a = bpf_map_lookup_elem(&stash, &id);
	struct inetmon_sock_rec r = {};
	struct sock *sk;
	__u16 fam, proto;

	if (!a)
		return 0;
	if (ret >= 0) {
		sk = sock_from_fd(ret, &fam, &proto);
		if (sk) {
			fill_current(&r);
			fill_sk_known(&r, sk, fam, proto);
			r.op = INETMON_OP_ACCEPT;
			record_owner((__u64)sk, &r);
			emit(&r);
		}
	} else if (ret != -EAGAIN) {
		sk = sock_from_fd(a->fd, &fam, &proto);
		if (sk) {
			fill_current(&r);
			fill_sk_known(&r, sk, fam, proto);
			r.op = INETMON_OP_ACCEPT;
			r.result = ret;
			emit(&r);
		}
	}
	bpf_map_delete_elem(&stash, &id);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return exit_accept_common(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return exit_accept_common(ctx->ret);
}

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
	rerecord_owner(skp, &r);
	if (proto == IPPROTO_TCP) {
		/* Tell sys_exit_connect (same task, same socket) that it need
		 * not look the fd up unless the connect failed before a SYN. */
		__u64 id = ((__u64)r.pid << 32) | r.tid;
		struct args *a = bpf_map_lookup_elem(&stash, &id);
		if (a)
			a->tcp = 1;
	} else if (r.lport == 0) {
		__u64 id = ((__u64)r.pid << 32) | r.tid;
		bpf_map_update_elem(&dynbind, &id, &skp, BPF_ANY);
	}
	emit(&r);
	return 1;
}

SEC("cgroup/connect4")
int connect4(struct bpf_sock_addr *ctx)
{
	return connect_attempt(ctx, 0);
}

SEC("cgroup/connect6")
int connect6(struct bpf_sock_addr *ctx)
{
	return connect_attempt(ctx, 1);
}

SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	return stash_addr(ctx);
}

/* Emits the dynamic bind of a UDP socket that got its port in this call. */
static __always_inline void check_dynbind(__u64 id)
{
	__u64 *skp = bpf_map_lookup_elem(&dynbind, &id);
	struct inetmon_sock_rec r = {};
	struct sock *sk;

	if (!skp)
		return;
	__u64 key = *skp;
	struct owner *o;

	sk = (struct sock *)key;
	bpf_map_delete_elem(&dynbind, &id);
	if (!BPF_CORE_READ(sk, __sk_common.skc_num))
		return;
	o = bpf_map_lookup_elem(&owners, &key);
	if (o)
		o->flags |= OWNER_BOUND;
	fill_current(&r);
	fill_sk(&r, sk);
	__builtin_memset(r.faddr, 0, 16);
	r.fport = 0;
	r.op = INETMON_OP_DYNBIND;
	emit(&r);
}

SEC("tracepoint/syscalls/sys_exit_connect")
int exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct args *a = bpf_map_lookup_elem(&stash, &id);
	struct inetmon_sock_rec r = {};
	struct sock *sk;
	long ret = ctx->ret;
	__u16 fam, proto;

	if (!a)
		return 0;
	/* A TCP connect reports nothing here unless it failed before any
	 * SYN (set_state reports the rest), and only when watched: skip the
	 * fd walk. */
	if (a->tcp && !watched(INETMON_OP_CONNECTED, SOCK_STREAM))
		goto out;
	if (a->tcp && !(ret < 0 && ret != -EINPROGRESS && ret != -EALREADY && ret != -EISCONN &&
			!a->syn_sent))
		goto out;
	sk = sock_from_fd(a->fd, &fam, &proto);
	if (sk) {
		if (proto == IPPROTO_UDP) {
			check_dynbind(id);
			fill_current(&r);
			fill_sk_known(&r, sk, fam, proto);
			r.op = INETMON_OP_CONNECTED;
			r.result = ret;
			emit(&r);
		} else if (ret < 0 && ret != -EINPROGRESS && ret != -EALREADY &&
			   ret != -EISCONN && !a->syn_sent) {
			/* Failed before any SYN: no state change will say so.
			 * The socket has no foreign end yet: take the one asked for. */
			fill_current(&r);
			fill_sk_known(&r, sk, fam, proto);
			stashed_end(a, r.faddr, &r.fport);
			r.op = INETMON_OP_CONNECTED;
			r.result = ret;
			emit(&r);
		}
	}
out:
	bpf_map_delete_elem(&dynbind, &id);
	bpf_map_delete_elem(&stash, &id);
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
	struct owner *o = bpf_map_lookup_elem(&owners, &skp);

	if (!o || (o->flags & OWNER_BOUND))
		return 1;
	o->flags |= OWNER_BOUND;
	fill_current(&r);
	fill_sk(&r, sk);
	__builtin_memset(r.faddr, 0, 16);
	r.fport = 0;
	r.op = INETMON_OP_DYNBIND;
	emit(&r);
	return 1;
}

SEC("cgroup/sendmsg4")
int sendmsg4(struct bpf_sock_addr *ctx)
{
	return sendmsg_hook(ctx);
}

SEC("cgroup/sendmsg6")
int sendmsg6(struct bpf_sock_addr *ctx)
{
	return sendmsg_hook(ctx);
}

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
	r->lport = sk->__sk_common.skc_num;
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
	int report;

	if (os == TCP_CLOSE && ns == TCP_SYN_SENT) {
		if (sk->sk_protocol != IPPROTO_TCP)
			return 0;
		/* In the connecting task: remember that a SYN went out. */
		__u64 id = bpf_get_current_pid_tgid();
		struct args *a = bpf_map_lookup_elem(&stash, &id);
		if (a)
			a->syn_sent = 1;
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
	o = bpf_map_lookup_elem(&owners, &skp);
	if (!report) {
		/* nothing to emit */
	} else if (os == TCP_SYN_SENT) {
		struct inetmon_sock_rec r = {};

		fill_owner_from(&r, o);
		fill_sk_btf(&r, sk, family, protocol);
		r.op = INETMON_OP_CONNECTED;
		if (ns == TCP_CLOSE) {
			int err = sk->sk_err;
			r.result = err ? -err : -ECONNABORTED;
		}
		emit(&r);
	} else if (os == TCP_ESTABLISHED && !(o && (o->flags & OWNER_RELEASED))) {
		/* (When released, sock_release already said "local".) */
		struct inetmon_sock_rec r = {};

		fill_owner_from(&r, o);
		fill_sk_btf(&r, sk, family, protocol);
		r.op = INETMON_OP_DISCONNECT;
		if (ns == TCP_FIN_WAIT1)
			r.initiator = INETMON_INIT_LOCAL;
		else if (ns == TCP_CLOSE_WAIT)
			r.initiator = INETMON_INIT_PEER;
		else
			r.initiator = sk->sk_err ? INETMON_INIT_PEER
								: INETMON_INIT_LOCAL;
		emit(&r);
	}
	if (ns == TCP_CLOSE && o && (o->flags & OWNER_RELEASED))
		bpf_map_delete_elem(&owners, &skp);
	return 0;
}

/* ---- cookies for accepted sockets ---- */

SEC("sockops")
int sock_ops(struct bpf_sock_ops *ctx)
{
	if (ctx->op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		bpf_get_socket_cookie(ctx);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
