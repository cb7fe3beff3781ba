// SPDX-License-Identifier: (MIT OR GPL-2.0-only)
/*
 * capture: the eBPF capture backend (`--backend ebpf`). One TC program, attached
 * (TCX, or clsact on kernels before 6.6) to the ingress and egress hooks of every
 * interface of the target network namespace, copies each packet's first snap_len
 * bytes with a small header into a BPF ring buffer and lets the packet continue
 * untouched: TC_ACT_UNSPEC is TCX_NEXT under TCX and "next filter" for a
 * direct-action filter under clsact, then the default action.
 *
 * A tcpdump filter runs before it, in a program that pkg/sniffer/ebpfcap builds
 * from the classic BPF and that tail-calls capture_ingress/capture_egress on a
 * match: stats[STAT_SEEN] counts the packets that passed the filter.
 *
 * Wake-ups are batched: records are submitted with BPF_RB_NO_WAKEUP and the reader
 * is woken only when the unread bytes cross wakeup_bytes; below that, user space
 * drains the ring on its own timer (a few milliseconds). A wake-up per packet would cost several
 * microseconds per packet.
 *
 * Packets the ring has no room for are counted per CPU (stats[STAT_DROPS]) and
 * reported by the agent like kernel drops.
 */
#include "vmlinux.h"
#include "bpf_helpers.h"

char __license[] SEC("license") = "Dual MIT/GPL";

/* The largest packet copied whole: 64 KiB covers GSO/GRO super-packets on veth
 * (gso_max_size); longer ones (BIG TCP) are truncated, with their length kept. */
#define MAX_SNAP 65536

enum {
	DIR_INGRESS = 0,
	DIR_EGRESS = 1,
};

enum {
	STAT_SEEN = 0,   /* packets that reached the program */
	STAT_DROPS = 1,  /* packets lost because the ring was full */
	STAT_MAX,
};

/* pkt_hdr precedes the packet bytes in each ring record. */
struct pkt_hdr {
	__u64 ts_ns;    /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 ifindex;
	__u32 len;      /* skb->len: the packet's length from its link-layer header */
	__u32 caplen;   /* bytes that follow */
	__u16 protocol; /* skb->protocol, network byte order */
	__u8 dir;       /* DIR_INGRESS or DIR_EGRESS */
	__u8 pkt_type;  /* skb->pkt_type (PACKET_HOST, ...) */
	/* The VLAN tag the device moved from the data into the skb's metadata
	 * (hardware or software untagging), which user space puts back into the
	 * data as libpcap does: vlan_proto (network byte order) is 0 when there is
	 * none. */
	__u16 vlan_tci;
	__u16 vlan_proto;
};

struct record {
	struct pkt_hdr hdr;
	__u8 data[MAX_SNAP];
};

/* Set by the loader before the program is loaded. */
const volatile __u32 snap_len = MAX_SNAP;
const volatile __u32 wakeup_bytes = 1 << 20;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* replaced by the loader (--ring-size) */
} packets SEC(".maps");

/* One scratch record per CPU. TC programs run with migration disabled and do not
 * nest on a CPU, so an ARRAY indexed by CPU (a per-CPU array cannot hold 64 KiB
 * values) is private to the running program. max_entries is set to the number of
 * possible CPUs by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct record);
	__uint(max_entries, 1);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, STAT_MAX);
} stats SEC(".maps");

static __always_inline void count(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &stat);
	if (v)
		*v += 1;
}

static __always_inline void capture(struct __sk_buff *skb, __u8 dir)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct record *r = bpf_map_lookup_elem(&scratch, &cpu);
	if (!r)
		return;
	count(STAT_SEEN);

	__u32 len = skb->len;
	/* 64-bit, so that clang bounds-checks the register it passes on (a 32-bit
	 * value gets zero-extended into a copy the verifier knows nothing about). */
	__u64 caplen = len;
	if (caplen > snap_len)
		caplen = snap_len;
	if (caplen > MAX_SNAP)
		caplen = MAX_SNAP;

	r->hdr.ts_ns = bpf_ktime_get_ns();
	r->hdr.ifindex = skb->ifindex;
	r->hdr.len = len;
	r->hdr.protocol = (__u16)skb->protocol;
	r->hdr.dir = dir;
	r->hdr.pkt_type = (__u8)skb->pkt_type;
	r->hdr.vlan_tci = 0;
	r->hdr.vlan_proto = 0;
	if (skb->vlan_present) {
		r->hdr.vlan_tci = (__u16)skb->vlan_tci;
		r->hdr.vlan_proto = (__u16)skb->vlan_proto;
	}
	/* The verifier needs a size in [1, MAX_SNAP] for bpf_skb_load_bytes. */
	if (caplen < 1 || caplen > MAX_SNAP || bpf_skb_load_bytes(skb, 0, r->data, caplen) < 0)
		caplen = 0;
	r->hdr.caplen = (__u32)caplen;

	__u64 size = sizeof(struct pkt_hdr) + caplen;
	if (size > sizeof(struct record))
		return;
	/* Wake the reader when this record makes the unread bytes cross the mark; a
	 * reader drains the ring before it sleeps again, so one wake-up per crossing
	 * is enough, and its timer picks up whatever stays below the mark. */
	__u64 avail = bpf_ringbuf_query(&packets, BPF_RB_AVAIL_DATA);
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (avail < wakeup_bytes && avail + size >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&packets, r, size, flags) < 0)
		count(STAT_DROPS);
}

SEC("tc")
int capture_ingress(struct __sk_buff *skb)
{
	capture(skb, DIR_INGRESS);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int capture_egress(struct __sk_buff *skb)
{
	capture(skb, DIR_EGRESS);
	return TC_ACT_UNSPEC;
}
