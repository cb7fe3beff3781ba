/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * The few kernel types kubectl-shark's programs use, written by hand instead of a
 * multi-megabyte `bpftool btf dump` per architecture. Two kinds:
 *
 *  - UAPI (struct __sk_buff, map types, flags): fixed ABI, copied layouts.
 *  - Internal kernel structs (task_struct, sock, ...): declared with only the fields
 *    read, under preserve_access_index, so every access is a CO-RE relocation that
 *    libbpf/cilium-ebpf resolves against the running kernel's BTF at load time.
 *    Their layout here is irrelevant; only field names and types matter.
 *
 * Architecture-specific register layouts (struct pt_regs) follow __TARGET_ARCH_x86 /
 * __TARGET_ARCH_arm64, which bpf2go defines for the amd64 and arm64 targets.
 */
#ifndef __VMLINUX_H__
#define __VMLINUX_H__

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef signed short __s16;
typedef unsigned int __u32;
typedef signed int __s32;
typedef unsigned long long __u64;
typedef signed long long __s64;
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s32 s32;
typedef __s64 s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u64 __be64;
typedef __u32 __wsum;
typedef _Bool bool;
enum { false = 0, true = 1 };

/* ---- UAPI (include/uapi/linux/bpf.h, pkt_cls.h, if_ether.h) ---- */

enum bpf_map_type {
	BPF_MAP_TYPE_UNSPEC = 0,
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PROG_ARRAY = 3,
	BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4,
	BPF_MAP_TYPE_PERCPU_HASH = 5,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_LRU_PERCPU_HASH = 10,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
	BPF_F_LOCK = 4,
};

/* bpf_ringbuf_output/submit flags and bpf_ringbuf_query selectors. */
enum {
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};
enum {
	BPF_RB_AVAIL_DATA = 0,
	BPF_RB_RING_SIZE = 1,
	BPF_RB_CONS_POS = 2,
	BPF_RB_PROD_POS = 3,
};

/* TC actions (pkt_cls.h); TCX uses the same values. */
#define TC_ACT_UNSPEC (-1)
#define TC_ACT_OK 0

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define IPPROTO_TCP 6

struct bpf_flow_keys;
struct bpf_sock;

struct __sk_buff {
	__u32 len;
	__u32 pkt_type;
	__u32 mark;
	__u32 queue_mapping;
	__u32 protocol;
	__u32 vlan_present;
	__u32 vlan_tci;
	__u32 vlan_proto;
	__u32 priority;
	__u32 ingress_ifindex;
	__u32 ifindex;
	__u32 tc_index;
	__u32 cb[5];
	__u32 hash;
	__u32 tc_classid;
	__u32 data;
	__u32 data_end;
	__u32 napi_id;
	__u32 family;
	__u32 remote_ip4;
	__u32 local_ip4;
	__u32 remote_ip6[4];
	__u32 local_ip6[4];
	__u32 remote_port;
	__u32 local_port;
	__u32 data_meta;
	union {
		struct bpf_flow_keys *flow_keys;
		__u64 :64;
	} __attribute__((aligned(8)));
	__u64 tstamp;
	__u32 wire_len;
	__u32 gso_segs;
	union {
		struct bpf_sock *sk;
		__u64 :64;
	} __attribute__((aligned(8)));
	__u32 gso_size;
	__u8 tstamp_type;
	__u32 :24;
	__u64 hwtstamp;
};

/* Types the helper prototypes of bpf_helper_defs.h name by pointer only. */
struct bpf_dynptr; struct bpf_fib_lookup; struct bpf_map; struct bpf_perf_event_data;
struct bpf_perf_event_value; struct bpf_pidns_info; struct bpf_redir_neigh;
struct bpf_sk_lookup; struct bpf_sock_addr; struct bpf_sock_ops; struct bpf_sock_tuple;
struct bpf_spin_lock; struct bpf_sysctl; struct bpf_tcp_sock; struct bpf_timer;
struct bpf_tunnel_key; struct bpf_xfrm_state; struct btf_ptr; struct cgroup; struct file;
struct inode; struct iphdr; struct ipv6_sr_hdr; struct ipv6hdr; struct linux_binprm;
struct mptcp_sock; struct path; struct perf_branch_entry; struct seq_file; struct sk_buff;
struct sk_msg_md; struct sk_reuseport_md; struct sockaddr; struct socket; struct tcp6_sock;
struct tcp_request_sock; struct tcp_sock; struct tcp_timewait_sock; struct tcphdr;
struct udp6_sock; struct unix_sock; struct vm_area_struct; struct xdp_buff; struct xdp_md;

/* ---- Registers at a probe (arch-specific, fixed layout) ---- */

#if defined(__TARGET_ARCH_x86)
struct pt_regs {
	unsigned long r15;
	unsigned long r14;
	unsigned long r13;
	unsigned long r12;
	unsigned long bp;
	unsigned long bx;
	unsigned long r11;
	unsigned long r10;
	unsigned long r9;
	unsigned long r8;
	unsigned long ax;
	unsigned long cx;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax;
	unsigned long ip;
	unsigned long cs;
	unsigned long flags;
	unsigned long sp;
	unsigned long ss;
};
#elif defined(__TARGET_ARCH_arm64)
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
};
struct pt_regs {
	union {
		struct user_pt_regs user_regs;
		struct {
			__u64 regs[31];
			__u64 sp;
			__u64 pc;
			__u64 pstate;
		};
	};
	__u64 orig_x0;
};
#else
#error "kubectl-shark's BPF programs are built for __TARGET_ARCH_x86 or __TARGET_ARCH_arm64"
#endif

/* ---- Kernel internals read through CO-RE relocations ---- */

#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)

struct ns_common {
	unsigned int inum;
};

struct net {
	struct ns_common ns;
};

struct nsproxy {
	struct net *net_ns;
};

struct task_struct {
	int pid;
	int tgid;
	struct nsproxy *nsproxy;
};

struct in6_addr {
	union {
		__u8 u6_addr8[16];
		__be16 u6_addr16[8];
		__be32 u6_addr32[4];
	} in6_u;
};

struct sock_common {
	union {
		struct {
			__be32 skc_daddr;
			__be32 skc_rcv_saddr;
		};
	};
	union {
		struct {
			__be16 skc_dport;
			__u16 skc_num;
		};
	};
	unsigned short skc_family;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
};

struct sock {
	struct sock_common __sk_common;
	/* u16 since Linux 5.6 (bit fields before): read them only where the
	 * program needs a newer kernel anyway. */
	__u16 sk_type;
	__u16 sk_protocol;
};

#pragma clang attribute pop

#endif /* __VMLINUX_H__ */
