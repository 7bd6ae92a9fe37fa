/* SPDX-License-Identifier: GPL-2.0 */
/* sock.bpf.c's owners: the task that created, accepted or connected a
 * socket, recorded for the events that run where the current task is not
 * the socket's (state changes in softirq, the sendmsg hooks' "seen
 * created" check). Defines maps: included by sock.bpf.c only, after
 * inetmon_sock.h. */
#ifndef INETMON_SOCK_OWNER_H
#define INETMON_SOCK_OWNER_H

#define OWNER_RELEASED 1
#define OWNER_BOUND 2 /* a bind or dynamic bind was reported */
#define OWNER_FD 4      /* fd is the file descriptor the owner used */
#define OWNER_AUDITED 8 /* an outgoing TCP connection (connect): its control
			 * segments are reported (seg_ingress/seg_egress) */

struct owner {
	__u64 cookie; /* the socket's cookie: the tag of an owners slot */
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u32 gid;
	__u64 cgroup_id;
	__u32 flags;
	__s32 fd; /* with OWNER_FD: the fd of the connect or accept */
	char comm[16];
	__u32 ifindex; /* an IPv6 connect's interface at SYN_SENT (set_state) */
	__u32 pad;
};

/* The task that created/accepted/connected a socket, in the slot
 * cookie % OWNER_SLOTS, tagged with the cookie. Socket cookies are unique
 * for the life of the system and handed out in increasing order, so a slot
 * is only ever reused for a newer socket (OWNER_SLOTS cookies later), a
 * tag mismatch means "not recorded", and nothing needs deleting at close.
 * An array lookup is inlined by the verifier: no hashing, no element
 * allocation, no locks, unlike the LRU hash keyed by struct sock * this
 * replaces; and unlike socket local storage it also works in the classic
 * syscall tracepoints (sys_exit_accept4 records the acceptor here). */
#define OWNER_SLOTS 65536
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, OWNER_SLOTS);
	__type(key, __u32);
	__type(value, struct owner);
} owners SEC(".maps");

/* struct sock * -> owner, for the one socket kind that can have no cookie
 * when its owner is known: one accepted from a connection that completed
 * before the monitor attached. Deleted at close. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct owner);
} owners_nocookie SEC(".maps");

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
	if (o->flags & OWNER_FD) {
		r->fd = o->fd;
		r->flags |= INETMON_F_FD;
	}
}

/* The owner recorded for the socket with this cookie and address, or
 * NULL; *fallback says whether it is an owners_nocookie entry. */
static __always_inline struct owner *find_owner(__u64 cookie, __u64 sk, int *fallback)
{
	*fallback = 0;
	if (cookie) {
		__u32 k = (__u32)cookie & (OWNER_SLOTS - 1);
		struct owner *o = bpf_map_lookup_elem(&owners, &k);

		if (o && o->cookie == cookie)
			return o;
	}
	*fallback = 1;
	return bpf_map_lookup_elem(&owners_nocookie, &sk);
}

/* Records the task of r (flags cleared; its fd, if r has one) as the
 * owner of the socket with this cookie and address, over any previous
 * owner. */
static __always_inline void record_owner_flags(__u64 cookie, __u64 sk,
					       const struct inetmon_sock_rec *r, __u32 flags)
{
	struct owner n = {};

	n.cookie = cookie;
	n.pid = r->pid;
	n.tid = r->tid;
	n.uid = r->uid;
	n.gid = r->gid;
	n.cgroup_id = r->cgroup_id;
	n.flags = flags;
	if (r->flags & INETMON_F_FD) {
		n.fd = r->fd;
		n.flags |= OWNER_FD;
	}
	__builtin_memcpy(n.comm, r->comm, sizeof(n.comm));
	if (cookie) {
		__u32 k = (__u32)cookie & (OWNER_SLOTS - 1);
		struct owner *o = bpf_map_lookup_elem(&owners, &k);

		if (o)
			__builtin_memcpy(o, &n, sizeof(n));
	} else {
		bpf_map_update_elem(&owners_nocookie, &sk, &n, BPF_ANY);
	}
}

static __always_inline void record_owner(__u64 cookie, __u64 sk, const struct inetmon_sock_rec *r)
{
	record_owner_flags(cookie, sk, r, 0);
}

#endif
