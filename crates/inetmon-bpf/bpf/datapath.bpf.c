// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * inetmon datapath programs (see ../DATAPATH.md; loaded by
 * crates/inetmon-io/src/bpf/datapath.rs).
 *
 * - on_kfree_skb: tp_btf/kfree_skb. Every packet the kernel frees with a
 *   drop reason becomes an inetmon_dp_drop record with the reason, the
 *   location, the device, protocol, netns, mark, the first bytes of the
 *   packet and the task when in process context.
 * - tc_ingress / tc_egress: tc classifier programs reporting packets at
 *   from-network / to-network, sampled 1:N, on Ethernet devices;
 *   tc_ingress_l3 / tc_egress_l3: the same on devices without a link-layer
 *   header (the capture starts at the IP header). They never change the packet's
 *   fate: they always return TC_ACT_UNSPEC (-1, "continue").
 * - cg_from_stack / cg_to_stack: cgroup_skb egress / ingress programs on the
 *   cgroup v2 root, reporting packets a local socket sent (from-stack) or
 *   that the stack delivers to one (to-stack), sampled like the tc traces,
 *   with the socket's owner: the task that created or last connected it,
 *   kept in socket local storage (dp_owner) by cg_sock_create and
 *   cg_connect4/cg_connect6. They always allow the packet (return 1).
 *   cgroup_skb runs in softirq for received packets, ACKs and
 *   retransmissions, where the current task is whoever was interrupted, so
 *   the owner is never taken from bpf_get_current_pid_tgid there (the
 *   verifier of 6.18 accepts that call; its answer would be wrong).
 *
 * Records go to one BPF ring buffer (reserve/commit); a failed reservation
 * is counted per CPU in `datapath_lost`, which user space turns into Lost
 * events. Configuration is in .rodata (set before load); the interface and
 * reason filters are hash maps filled before attaching.
 *
 * Build: ../build-bpf.sh (commits datapath.bpf.o; --check compares).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#include "datapath.h"

#define TC_ACT_UNSPEC (-1)
#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ARPHRD_ETHER 1
#define MAC_HEADER_UNSET 0xffff

/* A program that only calls its body: PROG(section, name, context type,
 * call), the context named ctx. */
#define PROG(sec, name, ctx_type, call)                                        \
	SEC(sec) int name(ctx_type *ctx) { return call; }

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ---- configuration (.rodata, set by the loader before load) ---- */
const volatile __u32 cfg_snaplen = 128;          /* <= INETMON_DP_MAX_CAP */
const volatile __u32 cfg_sample_rate = 1;        /* traces: 1 in N */
const volatile __u8 cfg_drop_not_specified = 0;  /* report NOT_SPECIFIED drops */
const volatile __u32 cfg_reason_not_specified = 2; /* from BTF by the loader */
const volatile __u8 cfg_filter_ifindex = 0;      /* only ifindexes in ifindex_filter */
const volatile __u32 cfg_netns = 0;              /* drops: only this netns inode, 0 = any */
/* Wake the reader only when this many bytes are pending (0: every record).
 * Below it the reader finds records on its periodic poll; this cuts the
 * per-record wakeup cost under floods (monitor.md 6.2). */
const volatile __u64 cfg_wakeup_bytes = 0;
/* Summary mode: count drops in drop_counts by (reason, ifindex, location)
 * and send no records (for `--summary` under drop storms). */
const volatile __u8 cfg_summary_only = 0;
const volatile __u8 cfg_filter_reason = 0;       /* only reasons in reason_filter */
const volatile __u8 cfg_l4proto = 0;             /* 0 = any */
const volatile __u16 cfg_port = 0;               /* either port, 0 = any */
const volatile __u32 cfg_ipv4 = 0;               /* either address (network order), 0 = any */
const volatile __u8 cfg_has_ipv6 = 0;
const volatile __u8 cfg_ipv6[16] = {};           /* either address */

/* ---- maps ---- */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} datapath_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} datapath_lost SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);  /* ifindex */
	__type(value, __u8);
} ifindex_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);  /* raw drop reason */
	__type(value, __u8);
} reason_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct inetmon_dp_drop_key);
	__type(value, __u64);
} drop_counts SEC(".maps");

/* Traces: packets still to skip on this CPU before the next sampled one
 * (see trace_sampled). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} trace_skip SEC(".maps");

/* The owner of a local socket, for the stack traces: the task that created
 * it (cg_sock_create) or last called connect() on it (cg_connect4/6), and
 * the network namespace it was made in. Socket local storage lives and
 * dies with the socket (no slot reuse, nothing to delete at close);
 * BPF_F_CLONE copies it to the sockets a listener accepts, whose owner is
 * then the listener's. Sockets created before the programs were attached
 * have none (the trace then carries no process). */
struct dp_owner_val {
	__u32 pid;
	__u32 tid;
	__u32 netns;
	__u32 pad;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct dp_owner_val);
} dp_owner SEC(".maps");

struct drop_record {
	struct inetmon_dp_drop hdr;
	__u8 data[INETMON_DP_MAX_CAP];
};

struct trace_record {
	struct inetmon_dp_trace hdr;
	__u8 data[INETMON_DP_MAX_CAP];
};

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&datapath_lost, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/* min(cfg_snaplen, avail, INETMON_DP_MAX_CAP), in a form the verifier
 * can bound: the clamp comes after an optimisation barrier. */
static __always_inline __u32 snaplen(__u32 avail)
{
	__u64 n = cfg_snaplen;

	if (n > avail)
		n = avail;
	asm volatile("" : "+r"(n));
	if (n > INETMON_DP_MAX_CAP)
		n = INETMON_DP_MAX_CAP;
	return n;
}

static __always_inline int eq16(const __u8 *a)
{
	int diff = 0;

#pragma unroll
	for (int i = 0; i < 16; i++)
		diff |= a[i] ^ cfg_ipv6[i];
	return diff == 0;
}

/*
 * In-kernel address/port/protocol filter on the copied bytes. Reads go
 * through bpf_probe_read_kernel on our own buffer, which keeps the verifier
 * out of variable-offset packet arithmetic. Returns 1 to keep the packet.
 */
static __always_inline int match_filters(const __u8 *pkt, __u32 len, __u8 layer, __u16 proto)
{
	__u32 l3 = 0, l4;
	__u8 l4proto = 0, vihl = 0;
	__u32 saddr = 0, daddr = 0;
	__u8 s6[16], d6[16];
	__u16 ports[2] = {};

	if (!cfg_l4proto && !cfg_port && !cfg_ipv4 && !cfg_has_ipv6)
		return 1;
	if (layer == INETMON_DP_LAYER_ETHERNET)
		l3 = ETH_HLEN;
	else if (layer != INETMON_DP_LAYER_NETWORK)
		return 0;
	if (proto == ETH_P_IP) {
		if (l3 + 20 > len || bpf_probe_read_kernel(&vihl, 1, pkt + l3))
			return 0;
		bpf_probe_read_kernel(&l4proto, 1, pkt + l3 + 9);
		bpf_probe_read_kernel(&saddr, 4, pkt + l3 + 12);
		bpf_probe_read_kernel(&daddr, 4, pkt + l3 + 16);
		if (cfg_has_ipv6)
			return 0;
		if (cfg_ipv4 && saddr != cfg_ipv4 && daddr != cfg_ipv4)
			return 0;
		l4 = l3 + (vihl & 0x0f) * 4;
	} else if (proto == ETH_P_IPV6) {
		if (l3 + 40 > len)
			return 0;
		bpf_probe_read_kernel(&l4proto, 1, pkt + l3 + 6);
		bpf_probe_read_kernel(s6, 16, pkt + l3 + 8);
		bpf_probe_read_kernel(d6, 16, pkt + l3 + 24);
		if (cfg_ipv4)
			return 0;
		if (cfg_has_ipv6 && !eq16(s6) && !eq16(d6))
			return 0;
		l4 = l3 + 40; /* extension headers are not walked in the kernel */
	} else {
		return 0;
	}
	if (cfg_l4proto && l4proto != cfg_l4proto)
		return 0;
	if (cfg_port) {
		if (l4proto != IPPROTO_TCP && l4proto != IPPROTO_UDP && l4proto != IPPROTO_SCTP)
			return 0;
		if (l4 > INETMON_DP_MAX_CAP - 4 || l4 + 4 > len)
			return 0;
		bpf_probe_read_kernel(ports, 4, pkt + l4);
		if (bpf_ntohs(ports[0]) != cfg_port && bpf_ntohs(ports[1]) != cfg_port)
			return 0;
	}
	return 1;
}

/*
 * Wake the reader once per cfg_wakeup_bytes: only the record that takes the
 * pending data across the threshold forces a wakeup (the pending count
 * already includes this reserved record of `size` bytes plus its 8-byte
 * ring header). Waking on every record above the threshold made a reader
 * that falls behind cost an irq_work wakeup per record (measured: 2.4 us
 * per program run at 1:1 stack traces). A crossing missed by two CPUs
 * submitting at once is caught by the reader's own periodic drain.
 */
static __always_inline __u64 submit_flags(__u64 size)
{
	__u64 avail;

	if (!cfg_wakeup_bytes)
		return 0;
	avail = bpf_ringbuf_query(&datapath_events, BPF_RB_AVAIL_DATA);
	return avail >= cfg_wakeup_bytes && avail < cfg_wakeup_bytes + size + 8 ?
		       BPF_RB_FORCE_WAKEUP :
		       BPF_RB_NO_WAKEUP;
}

static __always_inline void fill_common(struct inetmon_dp_common *c, __u8 type, __u16 hdr_len)
{
	c->type = type;
	c->version = INETMON_DP_VERSION;
	c->hdr_len = hdr_len;
	c->cpu = bpf_get_smp_processor_id();
	c->ktime_ns = bpf_ktime_get_boot_ns();
	c->reserved = 0;
	c->flags = 0;
}

/* ---------------- drops ---------------- */

SEC("tp_btf/kfree_skb")
int BPF_PROG(on_kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	struct drop_record *rec;
	struct net_device *dev;
	unsigned char *head, *data, *start, *end;
	__u16 mac, net, proto;
	__u32 len, data_len, headlen, ifindex, n, avail, netns = 0;
	__u8 layer;
	__u64 pid_tgid;
	__u32 r = (__u32)reason;

	if (r == 0 /* NOT_DROPPED_YET */ || r == 1 /* CONSUMED */)
		return 0;
	if (r == cfg_reason_not_specified && !cfg_drop_not_specified)
		return 0;
	if (cfg_filter_reason && !bpf_map_lookup_elem(&reason_filter, &r))
		return 0;

	dev = BPF_CORE_READ(skb, dev);
	ifindex = dev ? BPF_CORE_READ(dev, ifindex) : 0;
	if (cfg_filter_ifindex && !bpf_map_lookup_elem(&ifindex_filter, &ifindex))
		return 0;
	if (dev)
		netns = BPF_CORE_READ(dev, nd_net.net, ns.inum);
	else if (BPF_CORE_READ(skb, sk))
		netns = BPF_CORE_READ(skb, sk, __sk_common.skc_net.net, ns.inum);
	if (cfg_netns && netns != cfg_netns)
		return 0;

	if (cfg_summary_only) {
		struct inetmon_dp_drop_key key = {
			.reason = r, .ifindex = ifindex, .location = (__u64)location,
		};
		__u64 one = 1, *cnt = bpf_map_lookup_elem(&drop_counts, &key);

		/* Atomic even though the value is per CPU: the trampoline keeps
		 * this program from nesting in itself, but a plain
		 * read-modify-write costs the same here and stays right if
		 * anything else ever updates the slot on this CPU. */
		if (cnt)
			__sync_fetch_and_add(cnt, 1);
		else if (bpf_map_update_elem(&drop_counts, &key, &one, BPF_NOEXIST)) {
			/* another CPU inserted it first, or the map is full */
			cnt = bpf_map_lookup_elem(&drop_counts, &key);
			if (cnt)
				__sync_fetch_and_add(cnt, 1);
			else
				count_lost();
		}
		return 0;
	}

	rec = bpf_ringbuf_reserve(&datapath_events, sizeof(*rec), 0);
	if (!rec) {
		count_lost();
		return 0;
	}
	fill_common(&rec->hdr.common, INETMON_DP_DROP, sizeof(rec->hdr));

	head = BPF_CORE_READ(skb, head);
	data = BPF_CORE_READ(skb, data);
	mac = BPF_CORE_READ(skb, mac_header);
	net = BPF_CORE_READ(skb, network_header);
	len = BPF_CORE_READ(skb, len);
	data_len = BPF_CORE_READ(skb, data_len);
	headlen = len > data_len ? len - data_len : 0;

	/*
	 * Where the capture starts (recorded in `layer`). By the time most drops
	 * happen skb->data has moved past the IP header (at __udp4_lib_rcv,
	 * tcp_v4_rcv, ping_rcv it points at the transport header), so skb->data
	 * is only the last resort. The Ethernet header when the device is
	 * Ethernet, the MAC header is set and the network header follows it
	 * directly (14 bytes: what the in-kernel filter and the decoders expect;
	 * a VLAN tag or a stale MAC offset falls back to the network header);
	 * else the network header when the kernel has set it (non-zero) within
	 * the linear buffer; else skb->data.
	 */
	end = data + headlen;
	if (mac != MAC_HEADER_UNSET && net && (__u32)net == (__u32)mac + ETH_HLEN &&
	    dev && BPF_CORE_READ(dev, type) == ARPHRD_ETHER && head + net < end) {
		start = head + mac;
		layer = INETMON_DP_LAYER_ETHERNET;
	} else if (net && head + net < end) {
		start = head + net;
		layer = INETMON_DP_LAYER_NETWORK;
	} else {
		start = data;
		layer = INETMON_DP_LAYER_NETWORK;
	}
	/* Linear bytes from start: up to the end of the head buffer. */
	avail = start < end ? (__u32)(end - start) : 0;
	if (start < data)
		len += (__u32)(data - start);
	else if (start > data)
		len -= (__u32)(start - data) < len ? (__u32)(start - data) : len;
	n = snaplen(avail);
	if (n && bpf_probe_read_kernel(rec->data, n, start))
		n = 0;

	rec->hdr.common.ifindex = ifindex;
	rec->hdr.common.orig_len = len;
	rec->hdr.common.cap_len = n;
	proto = bpf_ntohs(BPF_CORE_READ(skb, protocol));
	/* Packets a local socket queued (purged at close: QUEUE_PURGE) often
	 * have no skb->protocol; a capture that starts at the IP header says
	 * which IP it is. */
	if (!proto && n && layer == INETMON_DP_LAYER_NETWORK) {
		if ((rec->data[0] >> 4) == 4)
			proto = ETH_P_IP;
		else if ((rec->data[0] >> 4) == 6)
			proto = ETH_P_IPV6;
	}
	rec->hdr.common.protocol = proto;
	rec->hdr.common.layer = n ? layer : INETMON_DP_LAYER_NONE;
	rec->hdr.common.mark = BPF_CORE_READ(skb, mark);
	rec->hdr.common.netns = netns;

	if (!match_filters(rec->data, n, layer, rec->hdr.common.protocol)) {
		bpf_ringbuf_discard(rec, 0);
		return 0;
	}

	rec->hdr.reason = r;
	rec->hdr.location = (__u64)location;
	rec->hdr.reserved = 0;
	pid_tgid = bpf_get_current_pid_tgid();
	rec->hdr.pid = pid_tgid >> 32;
	rec->hdr.tid = (__u32)pid_tgid;
	bpf_get_current_comm(rec->hdr.comm, sizeof(rec->hdr.comm));
	/*
	 * Process context heuristic (see README): a task other than the idle
	 * task, dropping a packet that belongs to a local socket. preempt_count
	 * (the exact test for softirq context) is not reachable from BPF on all
	 * kernels.
	 */
	if (rec->hdr.pid != 0 && BPF_CORE_READ(skb, sk))
		rec->hdr.common.flags |= INETMON_DP_F_PROCESS;

	bpf_ringbuf_submit(rec, submit_flags(sizeof(*rec)));
	return 0;
}

/* ---------------- traces ---------------- */

/*
 * 1-in-cfg_sample_rate sampling, cheap on the 99 % path: a per-CPU
 * countdown (an inlined per-CPU array lookup and a decrement) instead of a
 * random number and a division per packet. When it runs out the packet is
 * sampled and the next gap is drawn uniformly from [1, 2N-1] (mean N), so the
 * rate stays 1/N on average and does not alias with periodic traffic as a
 * fixed every-Nth counter would. The first packet on each CPU is sampled.
 */
static __always_inline bool trace_sampled(void)
{
	__u64 rate = cfg_sample_rate;
	__u32 zero = 0;
	__u64 *skip;

	if (rate <= 1)
		return true;
	skip = bpf_map_lookup_elem(&trace_skip, &zero);
	if (!skip)
		return true;
	if (*skip > 0) {
		*skip -= 1;
		return false;
	}
	/* gap g in [1, 2N-1] means g-1 packets skipped before the next one */
	*skip = bpf_get_prandom_u32() % (2 * rate - 1);
	return true;
}

/*
 * The owner of the packet's socket (a stack point): the socket cookie
 * (bpf_get_socket_cookie works on the skb in cgroup_skb) and, when
 * dp_owner has an entry for the full socket, its task and namespace.
 * Packets without a socket (e.g. RSTs the stack sends itself, timewait
 * ACKs) carry cookie 0 and no owner.
 */
static __always_inline void stack_owner(struct __sk_buff *skb, struct inetmon_dp_trace *h)
{
	struct bpf_sock *sk = skb->sk;
	struct dp_owner_val *o;

	if (!sk)
		return;
	h->sock_cookie = bpf_get_socket_cookie(skb);
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return;
	o = bpf_sk_storage_get(&dp_owner, sk, 0, 0);
	if (!o)
		return;
	h->pid = o->pid;
	h->tid = o->tid;
	h->common.netns = o->netns;
	__builtin_memcpy(h->comm, o->comm, sizeof(h->comm));
	h->common.flags |= INETMON_DP_F_PROCESS;
}

/*
 * One trace body for both device kinds: `layer` is a compile-time constant
 * at every call site (INETMON_DP_LAYER_ETHERNET for tc_ingress/tc_egress,
 * INETMON_DP_LAYER_NETWORK for the _l3 variants), so each program is
 * specialised and the Ethernet programs pay nothing for L3 support. tc on an
 * Ethernet device sees the MAC header at offset 0; on devices without a
 * link-layer header (tun, wireguard, ipip, sit, raw-IP modems) it sees the
 * network header there. The loader picks the variant from the device type.
 */
static __always_inline int trace_skb(struct __sk_buff *skb, __u8 point, const __u8 layer)
{
	struct trace_record *rec;
	__u32 n;

	if (!trace_sampled())
		return TC_ACT_UNSPEC;

	rec = bpf_ringbuf_reserve(&datapath_events, sizeof(*rec), 0);
	if (!rec) {
		count_lost();
		return TC_ACT_UNSPEC;
	}
	fill_common(&rec->hdr.common, INETMON_DP_TRACE, sizeof(rec->hdr));
	n = snaplen(skb->len);
	if (n > 0) {
		__u64 m = n;

		/* bpf_skb_load_bytes needs a proven non-zero, bounded length */
		asm volatile("" : "+r"(m));
		if (m < 1)
			m = 1;
		if (m > INETMON_DP_MAX_CAP)
			m = INETMON_DP_MAX_CAP;
		if (bpf_skb_load_bytes(skb, 0, rec->data, m))
			n = 0;
	}
	rec->hdr.common.ifindex = skb->ifindex;
	rec->hdr.common.orig_len = skb->len;
	rec->hdr.common.cap_len = n;
	rec->hdr.common.protocol = bpf_ntohs(skb->protocol);
	rec->hdr.common.layer = n ? layer : INETMON_DP_LAYER_NONE;
	rec->hdr.common.mark = skb->mark;
	rec->hdr.common.netns = 0; /* filled in user space from the attach point */
	rec->hdr.point = point;
	rec->hdr.reserved[0] = rec->hdr.reserved[1] = rec->hdr.reserved[2] = 0;
	rec->hdr.sample_rate = cfg_sample_rate ? cfg_sample_rate : 1;
	rec->hdr.pid = 0;
	rec->hdr.tid = 0;
	rec->hdr.sock_cookie = 0;
	__builtin_memset(rec->hdr.comm, 0, sizeof(rec->hdr.comm));
	if (point == INETMON_DP_FROM_STACK || point == INETMON_DP_TO_STACK)
		stack_owner(skb, &rec->hdr);

	if (!match_filters(rec->data, n, layer, rec->hdr.common.protocol)) {
		bpf_ringbuf_discard(rec, 0);
		return TC_ACT_UNSPEC;
	}
	bpf_ringbuf_submit(rec, submit_flags(sizeof(*rec)));
	return TC_ACT_UNSPEC;
}

PROG("classifier", tc_ingress, struct __sk_buff,
     trace_skb(ctx, INETMON_DP_FROM_NETWORK, INETMON_DP_LAYER_ETHERNET))

PROG("classifier", tc_egress, struct __sk_buff,
     trace_skb(ctx, INETMON_DP_TO_NETWORK, INETMON_DP_LAYER_ETHERNET))

/* The same on devices whose packets start at the network header. */
PROG("classifier", tc_ingress_l3, struct __sk_buff,
     trace_skb(ctx, INETMON_DP_FROM_NETWORK, INETMON_DP_LAYER_NETWORK))

PROG("classifier", tc_egress_l3, struct __sk_buff,
     trace_skb(ctx, INETMON_DP_TO_NETWORK, INETMON_DP_LAYER_NETWORK))

/* ---------------- stack points (cgroup_skb) ---------------- */

/* cgroup_skb programs see the packet from its network header: the layer is
 * NETWORK. trace_skb returns TC_ACT_UNSPEC; cgroup_skb must return 1
 * (allow), so the result is ignored. */
static __always_inline int stack_trace(struct __sk_buff *skb, __u8 point)
{
	trace_skb(skb, point, INETMON_DP_LAYER_NETWORK);
	return 1;
}

PROG("cgroup_skb/egress", cg_from_stack, struct __sk_buff, stack_trace(ctx, INETMON_DP_FROM_STACK))

PROG("cgroup_skb/ingress", cg_to_stack, struct __sk_buff, stack_trace(ctx, INETMON_DP_TO_STACK))

/* Records the current task as the owner of sk (process context: socket()
 * and connect() run in the calling task). */
static __always_inline void record_owner(struct bpf_sock *sk)
{
	struct dp_owner_val *o;
	struct task_struct *task;
	__u64 id;

	o = bpf_sk_storage_get(&dp_owner, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!o)
		return;
	id = bpf_get_current_pid_tgid();
	o->pid = id >> 32;
	o->tid = (__u32)id;
	task = (struct task_struct *)bpf_get_current_task();
	o->netns = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
	bpf_get_current_comm(o->comm, sizeof(o->comm));
}

SEC("cgroup/sock_create")
int cg_sock_create(struct bpf_sock *sk)
{
	record_owner(sk);
	return 1;
}

static __always_inline int connect_owner(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;

	if (sk)
		record_owner(sk);
	return 1;
}

PROG("cgroup/connect4", cg_connect4, struct bpf_sock_addr, connect_owner(ctx))

PROG("cgroup/connect6", cg_connect6, struct bpf_sock_addr, connect_owner(ctx))
