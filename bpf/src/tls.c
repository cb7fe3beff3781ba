// SPDX-License-Identifier: (MIT OR GPL-2.0-only)
/*
 * tls: TLS plaintext from OpenSSL (pkg/sniffer/tlsprobe). Uprobes on libssl's
 * SSL_write, SSL_read, SSL_write_ex and SSL_read_ex see the application's data
 * before encryption and after decryption; the loader attaches them to every
 * libssl.so file the target uses (uprobes attach to the file's inode, so every
 * process mapping it, including ones started later, is covered) and events of
 * processes outside the target network namespace are dropped here.
 *
 * One SSL call, one thread:
 *
 *   uprobe SSL_*      remember (SSL *, buffer[, size_t *]) in `calls`, keyed by
 *                     the thread (pid_tgid): the arguments are gone at return.
 *   socket hooks      (tracepoints sock_send_length / sock_recv_length, or
 *                     fentry or kprobes on tcp_sendmsg / tcp_recvmsg; see
 *                     below) fire inside the call when OpenSSL's socket BIO
 *                     writes or reads; the struct sock gives the connection's
 *                     addresses and ports, stored in the thread's `calls` entry.
 *   uretprobe SSL_*   the return value (or *written / *readbytes for _ex) says
 *                     how many bytes moved; they are copied from the buffer into
 *                     ring records of at most CHUNK bytes. The tuple learned by
 *                     this call, if any, is cached per SSL * in `conns`, so a
 *                     later SSL_read served from OpenSSL's own buffer (no
 *                     syscall, no socket hook) still knows its connection.
 *   uprobe SSL_free   sends a close record for SSL objects that carried data,
 *                     and forgets them.
 *
 * `conns` also counts the bytes of each direction: every record carries the
 * stream offset of its first byte, so user space numbers its synthetic TCP
 * segments from it and a lost record becomes a visible gap, not a shift.
 *
 * Ring records are reserved in size classes (powers of two from 128 bytes to
 * CHUNK): bpf_ringbuf_reserve needs a constant size, and a per-CPU scratch
 * buffer with bpf_ringbuf_output would be unsafe here, because uprobe programs
 * run with migration disabled but preemptible, so two threads on one CPU could
 * share the scratch buffer. A record wastes at most half of its space.
 *
 * Wake-ups are batched as in capture.c: records are submitted with
 * BPF_RB_NO_WAKEUP and the reader is woken only when the unread bytes cross
 * wakeup_bytes; below that, user space drains the ring on a timer.
 */
#include "vmlinux.h"
#include "bpf_helpers.h"
#include "bpf_tracing.h"
#include "bpf_core_read.h"
#include "bpf_endian.h"

char __license[] SEC("license") = "Dual MIT/GPL";

/* Data bytes per record at most; SSL records carry at most 16 KiB too. */
#define CHUNK 16384
/* Records per SSL call at most (1 MiB): the copy loop must be bounded. The
 * rest of a larger call is counted (STAT_TRUNCATED_BYTES) and shows up as a
 * gap in the stream. */
#define MAX_CHUNKS 64

enum {
	KIND_WRITE = 0, /* SSL_write*: sent by the local process */
	KIND_READ = 1,  /* SSL_read*: received by the local process */
	KIND_CLOSE = 2, /* SSL_free: no data */
};

enum {
	FLAG_TUPLE = 1,     /* family, addresses and ports are known */
	FLAG_TRUNCATED = 2, /* the call moved more than MAX_CHUNKS * CHUNK bytes */
};

enum {
	STAT_EVENTS = 0,          /* records submitted */
	STAT_LOST = 1,            /* records lost because the ring was full */
	STAT_LOST_BYTES = 2,      /* data bytes of those records */
	STAT_READ_ERRORS = 3,     /* records dropped: the user buffer could not be read */
	STAT_TRUNCATED_BYTES = 4, /* bytes beyond MAX_CHUNKS * CHUNK of a call */
	STAT_MAX,
};

/* event precedes the data in each ring record. */
struct event {
	__u64 ts_ns;  /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 ssl;    /* the SSL * in the process */
	__u64 offset; /* stream offset of the first data byte in its direction */
	__u32 pid;    /* process (tgid) */
	__u32 tid;    /* thread */
	__u32 len;    /* data bytes that follow */
	__u16 family; /* AF_INET or AF_INET6 when FLAG_TUPLE is set */
	__u16 lport;  /* local port, host byte order */
	__u16 rport;  /* remote port, host byte order */
	__u8 kind;    /* KIND_* */
	__u8 flags;   /* FLAG_* */
	__u8 laddr[16]; /* local address: 4 bytes for AF_INET, 16 for AF_INET6 */
	__u8 raddr[16]; /* remote address */
	__u32 skip;     /* bytes of the call after this record that were not copied
			 * (set in the last record of a truncated call) */
};

/* Referenced so that struct event is in the object's BTF for bpf2go -type
 * (types used only inside functions are not emitted). */
const struct event *unused_event __attribute__((unused));

struct tuple {
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 family;
	__u16 lport;
	__u16 rport;
	__u8 known;
	__u8 _pad;
};

/* An SSL call in flight on one thread. */
struct call {
	__u64 ssl;
	__u64 buf;
	__u64 size_ptr; /* size_t *written / *readbytes of the _ex calls, else 0 */
	struct tuple t; /* learned by the socket hooks during this call */
	__u8 kind;
	__u8 _pad[7];
};

struct conn_key {
	__u32 pid;
	__u32 _pad;
	__u64 ssl;
};

/* What is known of one SSL object. */
struct conn {
	struct tuple t;
	__u64 off[2]; /* bytes sent (KIND_WRITE) and received (KIND_READ) so far */
};

/* Set by the loader before the program is loaded. */
const volatile __u32 target_netns = 0; /* netns inode; 0 accepts every namespace */
const volatile __u32 wakeup_bytes = 1 << 20;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* replaced by the loader */
} events SEC(".maps");

/* LRU: an entry whose call never returns (the thread died inside SSL_read) is
 * evicted eventually instead of filling the map. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u64);
	__type(value, struct call);
	__uint(max_entries, 16384);
} calls SEC(".maps");

/* Keyed by process too: forked workers (nginx) hold SSL objects at equal
 * addresses. LRU: SSL objects freed while the probe was not attached, or whose
 * SSL_free was never seen, age out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct conn_key);
	__type(value, struct conn);
	__uint(max_entries, 65536);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, STAT_MAX);
} stats SEC(".maps");

static __always_inline void count(__u32 stat, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &stat);
	if (v)
		*v += n;
}

/* The current task's network namespace is the target's. Read from the task
 * rather than the socket: the entry probes run before any socket is known. */
static __always_inline bool in_target_netns(void)
{
	if (target_netns == 0)
		return true;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 inum = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
	return inum == target_netns;
}

/* Wake the reader when a record of size bytes makes the unread bytes cross
 * the mark; its timer picks up whatever stays below it. */
static __always_inline __u64 wakeup_flag(__u64 size)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	if (avail < wakeup_bytes && avail + size >= wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/*
 * put_N copies n (<= N) bytes from the user buffer at src into a record with
 * room for N data bytes, after a copy of *h. The 64-bit n is clamped to N
 * again so that the verifier sees the bound on the register it checks.
 */
#define DEFINE_PUT(N)                                                                  \
	struct rec_##N {                                                               \
		struct event h;                                                        \
		__u8 data[N];                                                          \
	};                                                                             \
	static __always_inline void put_##N(const struct event *h, __u64 src, __u64 off, \
					    __u64 n)                                   \
	{                                                                              \
		if (n > N)                                                             \
			n = N;                                                         \
		__u64 flags = wakeup_flag(sizeof(struct rec_##N));                     \
		struct rec_##N *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);      \
		if (!r) {                                                              \
			count(STAT_LOST, 1);                                           \
			count(STAT_LOST_BYTES, n);                                     \
			return;                                                        \
		}                                                                      \
		r->h = *h;                                                             \
		r->h.offset = h->offset + off;                                         \
		r->h.len = (__u32)n;                                                   \
		if (bpf_probe_read_user(r->data, n, (const void *)(src + off)) < 0) {  \
			bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);                      \
			count(STAT_READ_ERRORS, 1);                                    \
			return;                                                        \
		}                                                                      \
		bpf_ringbuf_submit(r, flags);                                          \
		count(STAT_EVENTS, 1);                                                 \
	}

DEFINE_PUT(128)
DEFINE_PUT(256)
DEFINE_PUT(512)
DEFINE_PUT(1024)
DEFINE_PUT(2048)
DEFINE_PUT(4096)
DEFINE_PUT(8192)
DEFINE_PUT(16384)

/* put_tail sends the last, partial chunk (0 < n < CHUNK) in the smallest
 * class that holds it. */
static __always_inline void put_tail(const struct event *h, __u64 src, __u64 off, __u64 n)
{
	if (n <= 128)
		put_128(h, src, off, n);
	else if (n <= 256)
		put_256(h, src, off, n);
	else if (n <= 512)
		put_512(h, src, off, n);
	else if (n <= 1024)
		put_1024(h, src, off, n);
	else if (n <= 2048)
		put_2048(h, src, off, n);
	else if (n <= 4096)
		put_4096(h, src, off, n);
	else if (n <= 8192)
		put_8192(h, src, off, n);
	else
		put_16384(h, src, off, n);
}

static __always_inline void fill_tuple(struct event *h, const struct tuple *t)
{
	if (!t->known)
		return;
	h->flags |= FLAG_TUPLE;
	h->family = t->family;
	h->lport = t->lport;
	h->rport = t->rport;
	__builtin_memcpy(h->laddr, t->laddr, sizeof(h->laddr));
	__builtin_memcpy(h->raddr, t->raddr, sizeof(h->raddr));
}

static __always_inline int enter(struct pt_regs *ctx, __u8 kind, bool ex)
{
	if (!in_target_netns())
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	struct call c = {};
	c.ssl = (__u64)PT_REGS_PARM1(ctx);
	c.buf = (__u64)PT_REGS_PARM2(ctx);
	if (ex)
		c.size_ptr = (__u64)PT_REGS_PARM4(ctx);
	c.kind = kind;
	/* A call nested in another on the same thread (none in OpenSSL 3, whose
	 * SSL_read and SSL_read_ex both call ssl_read_internal) replaces it: the
	 * inner return reports the bytes, the outer finds no entry. */
	bpf_map_update_elem(&calls, &id, &c, BPF_ANY);
	return 0;
}

static __always_inline int leave(struct pt_regs *ctx, bool ex)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call *c = bpf_map_lookup_elem(&calls, &id);
	if (!c)
		return 0;

	/* SSL_read/SSL_write return an int: only eax/w0 is defined. */
	int rc = (int)PT_REGS_RC(ctx);
	__u64 len = 0;
	if (ex) {
		__u64 n = 0;
		if (rc == 1 && c->size_ptr && bpf_probe_read_user(&n, sizeof(n), (const void *)c->size_ptr) == 0)
			len = n;
	} else if (rc > 0) {
		len = (__u64)rc;
	}

	struct conn_key k = {.pid = id >> 32, .ssl = c->ssl};
	struct conn *cn = bpf_map_lookup_elem(&conns, &k);
	if (!cn) {
		/* Remember the SSL object once it carried data or its socket was
		 * seen (a read that would block still reads the socket). */
		if (len == 0 && !c->t.known)
			goto out;
		struct conn zero = {};
		bpf_map_update_elem(&conns, &k, &zero, BPF_NOEXIST);
		cn = bpf_map_lookup_elem(&conns, &k);
		if (!cn)
			goto out;
	}
	if (c->t.known)
		cn->t = c->t;
	if (len == 0)
		goto out;

	struct event h = {};
	h.ts_ns = bpf_ktime_get_ns();
	h.ssl = c->ssl;
	h.pid = id >> 32;
	h.tid = (__u32)id;
	h.kind = c->kind;
	fill_tuple(&h, &cn->t);
	/* One SSL object is used by one thread at a time (OpenSSL requires it), so
	 * the offsets need no atomic update. */
	if (c->kind == KIND_WRITE) {
		h.offset = cn->off[0];
		cn->off[0] += len;
	} else {
		h.offset = cn->off[1];
		cn->off[1] += len;
	}

	__u64 max = (__u64)MAX_CHUNKS * CHUNK;
	__u64 skip = 0;
	if (len > max) {
		skip = len - max;
		count(STAT_TRUNCATED_BYTES, skip);
		h.flags |= FLAG_TRUNCATED;
		len = max;
	}
	/* Full chunks in a bounded loop, then the tail in its size class: only the
	 * loop's single path repeats, which keeps verification linear. */
	__u64 full = len / CHUNK;
	__u64 src = c->buf;
	for (__u32 i = 0; i < MAX_CHUNKS; i++) {
		if (i >= full)
			break;
		/* A truncated call is exactly MAX_CHUNKS full chunks: its last one
		 * tells how far the stream goes on without data. */
		if (i == MAX_CHUNKS - 1)
			h.skip = skip > 0xffffffff ? 0xffffffff : (__u32)skip;
		put_16384(&h, src, (__u64)i * CHUNK, CHUNK);
	}
	__u64 tail = len % CHUNK;
	if (tail)
		put_tail(&h, src, full * CHUNK, tail);
out:
	bpf_map_delete_elem(&calls, &id);
	return 0;
}

/* learn records the socket's addresses and ports in the thread's SSL call, if
 * one is in flight (only calls of the target namespace are). */
static __always_inline void learn(struct sock *sk)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call *c = bpf_map_lookup_elem(&calls, &id);
	if (!c || !sk)
		return;
	struct tuple *t = &c->t;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family == AF_INET) {
		__u32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 r = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memset(t->laddr, 0, sizeof(t->laddr));
		__builtin_memset(t->raddr, 0, sizeof(t->raddr));
		__builtin_memcpy(t->laddr, &l, 4);
		__builtin_memcpy(t->raddr, &r, 4);
	} else if (family == AF_INET6 && bpf_core_field_exists(sk->__sk_common.skc_v6_daddr)) {
		/* v4-mapped addresses (dual-stack sockets) stay as they are here;
		 * user space unmaps them. */
		BPF_CORE_READ_INTO(&t->laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&t->raddr, sk, __sk_common.skc_v6_daddr);
	} else {
		return;
	}
	t->family = family;
	t->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	t->known = 1;
}

SEC("uprobe/SSL_write")
int BPF_KPROBE(ssl_write_enter) { return enter(ctx, KIND_WRITE, false); }

SEC("uretprobe/SSL_write")
int BPF_KRETPROBE(ssl_write_leave) { return leave(ctx, false); }

SEC("uprobe/SSL_read")
int BPF_KPROBE(ssl_read_enter) { return enter(ctx, KIND_READ, false); }

SEC("uretprobe/SSL_read")
int BPF_KRETPROBE(ssl_read_leave) { return leave(ctx, false); }

SEC("uprobe/SSL_write_ex")
int BPF_KPROBE(ssl_write_ex_enter) { return enter(ctx, KIND_WRITE, true); }

SEC("uretprobe/SSL_write_ex")
int BPF_KRETPROBE(ssl_write_ex_leave) { return leave(ctx, true); }

SEC("uprobe/SSL_read_ex")
int BPF_KPROBE(ssl_read_ex_enter) { return enter(ctx, KIND_READ, true); }

SEC("uretprobe/SSL_read_ex")
int BPF_KRETPROBE(ssl_read_ex_leave) { return leave(ctx, true); }

SEC("uprobe/SSL_free")
int BPF_KPROBE(ssl_free_enter, void *ssl)
{
	if (!in_target_netns())
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	struct conn_key k = {.pid = id >> 32, .ssl = (__u64)ssl};
	struct conn *cn = bpf_map_lookup_elem(&conns, &k);
	if (!cn)
		return 0;
	__u64 flags = wakeup_flag(sizeof(struct event));
	struct event *h = bpf_ringbuf_reserve(&events, sizeof(*h), 0);
	if (h) {
		__builtin_memset(h, 0, sizeof(*h));
		h->ts_ns = bpf_ktime_get_ns();
		h->ssl = k.ssl;
		h->pid = k.pid;
		h->tid = (__u32)id;
		h->kind = KIND_CLOSE;
		fill_tuple(h, &cn->t);
		bpf_ringbuf_submit(h, flags);
		count(STAT_EVENTS, 1);
	} else {
		count(STAT_LOST, 1);
	}
	bpf_map_delete_elem(&conns, &k);
	return 0;
}

/*
 * The socket hooks, in three flavours; the loader attaches the first pair the
 * kernel accepts:
 *
 *  - tp_btf on the sock_send_length and sock_recv_length tracepoints (Linux
 *    6.3+), which fire in the calling thread after every socket send and
 *    receive: a stable interface, and available where kprobes are not
 *    compiled in and fentry is refused;
 *  - fentry on tcp_sendmsg and tcp_recvmsg (BPF trampolines: x86 since 5.5,
 *    arm64 since 6.0);
 *  - kprobes on them.
 */
static __always_inline void learn_tcp(struct sock *sk)
{
	if (!sk)
		return;
	/* The tracepoints fire for every socket: keep TCP streams. */
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP || BPF_CORE_READ(sk, sk_type) != SOCK_STREAM)
		return;
	learn(sk);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send_length_tp, struct sock *sk, int ret, int flags)
{
	learn_tcp(sk);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sock_recv_length_tp, struct sock *sk, int ret, int flags)
{
	learn_tcp(sk);
	return 0;
}

SEC("fentry/tcp_sendmsg")
int BPF_PROG(tcp_sendmsg_fentry, struct sock *sk)
{
	learn(sk);
	return 0;
}

SEC("fentry/tcp_recvmsg")
int BPF_PROG(tcp_recvmsg_fentry, struct sock *sk)
{
	learn(sk);
	return 0;
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(tcp_sendmsg_kprobe, struct sock *sk)
{
	learn(sk);
	return 0;
}

SEC("kprobe/tcp_recvmsg")
int BPF_KPROBE(tcp_recvmsg_kprobe, struct sock *sk)
{
	learn(sk);
	return 0;
}
