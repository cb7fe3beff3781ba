// Package tlsprobe recovers the plaintext of TLS connections from OpenSSL with
// uprobes (bpf/src/tls.c) and turns it into synthetic TCP/IP packets that the
// agent dissects and stores like captured ones, on a pcapng interface of its
// own (wire.TLSInterfaceName, described by wire.TLSInterfaceDescription): they
// were never on the wire.
//
// # Coverage
//
// Only OpenSSL's dynamically linked libssl (libssl.so*, 1.1.1 and 3.x; 1.0.2
// without the _ex calls) is covered: SSL_write, SSL_read, SSL_write_ex and
// SSL_read_ex. Not covered: OpenSSL linked statically into a binary, BoringSSL
// (Envoy, Chrome), Go's crypto/tls, GnuTLS, NSS, rustls, Java's JSSE, and
// kernel TLS offload through SSL_sendfile. Data that OpenSSL encrypts without
// these calls (QUIC) is not seen either.
//
// # Finding the libraries
//
// Uprobes attach to a file's inode, not to a process: one attachment covers
// every process that maps the file, including the ones started after Open
// (a curl run later in the pod). Open looks for files in this order:
//
//  1. Config.TLSLibs (--tls-lib), paths in the target process's root file
//     system (/proc/PID/root), or the agent's when there is no target PID.
//  2. libssl.so* in /proc/PID/maps of the target process and of every
//     process whose /proc/PID/ns/net is the target's namespace, opened
//     through /proc/PID/root (the container's mount namespace).
//  3. If no process maps one: libssl.so* in the standard library
//     directories (libDirs) of those processes' root file systems, or of the
//     agent's own when the namespace has no process.
//
// Paths inside a root file system are resolved with openat2(RESOLVE_IN_ROOT),
// so a container's absolute symbolic links stay inside the container. Files
// are deduplicated by the device and inode the kernel maps, which for
// overlayfs is the underlying file: attaching twice to one inode would report
// every call twice.
//
// # Attachment
//
// Uprobes are attached as uprobe_multi links where the kernel has them
// (Linux 6.6+), else as perf events. The connection's addresses come from
// hooks on the socket calls that OpenSSL's socket BIO makes during an SSL
// call, in the first flavour the kernel accepts: the tracepoints
// sock_send_length and sock_recv_length (Linux 6.3+, a stable interface),
// fentry on tcp_sendmsg and tcp_recvmsg (BPF trampolines), or kprobes on them.
// The CI kernel (6.18) has no CONFIG_KPROBES and refuses fentry programs, so
// the tracepoints are what is tested there.
//
// # Privileges
//
// Measured on Linux 6.18 by running the test binary as root under capsh with
// all but a few capabilities dropped from its bounding set (TestCapabilities):
//
//   - CAP_BPF and CAP_PERFMON load and attach everything with uprobe_multi
//     links: CAP_BPF for maps and programs, CAP_PERFMON for kprobe-type and
//     tracing programs (bpf_probe_read_user, bpf_get_current_task). Without
//     either, loading fails with EPERM. CAP_SYS_ADMIN is not needed.
//   - Perf-event uprobes (kernels without uprobe_multi, before 6.6) need
//     CAP_SYS_ADMIN as well: the kernel's uprobe PMU refuses CAP_PERFMON
//     alone (EACCES).
//   - Finding the libraries of the target's processes (/proc/PID/ns/net,
//     maps and root) needs CAP_SYS_PTRACE (and hostPID in a pod) as soon as
//     they run with capabilities the agent lacks or under another user;
//     without it, only the standard directories are searched.
//
// The memlock rlimit is never raised: kernels since 5.11 charge BPF memory to
// the cgroup.
//
// # Filtering
//
// The programs keep calls of processes whose network namespace
// (task->nsproxy->net_ns) is the target's; the loader sets its inode before
// loading. A connection's addresses and ports, read from the struct sock of
// the socket hooks, are cached per SSL object, so a read served from
// OpenSSL's buffer still knows its connection.
//
// # Reconstruction
//
// Each SSL object of each process becomes one TCP connection between its
// real addresses and ports (v4-mapped IPv6 addresses are shown as IPv4):
// SSL_write data is sent by the local end, SSL_read data received. Before the
// first data, a SYN, SYN-ACK and ACK are made up; SSL_free ends the connection
// with FIN, FIN and ACK (local end first). Sequence numbers are derived from
// the per-direction byte offsets that the kernel side counts, so a lost ring
// record shows up as a gap (Wireshark: "previous segment not captured"), not
// as shifted data. Segments carry at most MaxSegment bytes (16 KiB in
// practice: the size of a ring record), valid IP and TCP checksums, and every
// data segment acknowledges all data of the other direction. Timestamps are
// the kernel's CLOCK_MONOTONIC converted to wall-clock time.
//
// The client, which sends the SYN, is decided from the ports: the end whose
// port lies in the target namespace's ip_local_port_range (32768-60999 by
// default) while the other's does not is the client. When both or neither
// do, the end that sent the first plaintext byte seen is, since in HTTP/1,
// HTTP/2, gRPC, Redis and PostgreSQL the client speaks first.
//
// When two processes of the target namespace talk to each other over TLS,
// both report the connection; the first one seen does, the other is counted
// in Stats.Duplicates.
//
// Plaintext of an SSL object whose connection is not known yet (attached in
// the middle of a connection whose next reads are served from OpenSSL's
// buffer, or a memory BIO with no socket at all) is held until the connection
// is learned, up to Config.MaxPendingBytes and Config.PendingTimeout; then it
// is sent with a placeholder tuple from the documentation prefix
// 2001:db8::/32 (local 2001:db8:ffff:fffe::PID port 1, remote
// 2001:db8:ffff:ffff:SSL-OBJECT-ADDRESS port 2) and counted in
// Stats.UnknownTuple. If the connection is learned later, the placeholder
// stream is closed and the rest continues on the real tuple.
//
// Tools that pick dissectors by port see TLS ports (443) carrying plaintext:
// Wireshark needs "Decode As" (tshark -d tcp.port==443,http) for those
// streams.
package tlsprobe
