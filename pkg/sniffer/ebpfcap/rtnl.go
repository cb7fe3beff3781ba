package ebpfcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/afpacket"
)

// rtnl is a NETLINK_ROUTE socket of the target namespace, created there and
// used from any thread: it lists links and adds and removes the clsact qdisc
// and bpf filters of the legacy TC mode. It is safe for concurrent use.
type rtnl struct {
	mu  sync.Mutex
	fd  int // -1 once closed
	seq uint32
	buf []byte
}

// newRTNL opens a rtnetlink socket in the calling thread's namespace. Replies
// are awaited at most 5 s, and errors carry the kernel's extended message.
func newRTNL() (*rtnl, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("creating rtnetlink socket: %w", err)
	}
	tv := unix.NsecToTimeval((5 * time.Second).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("setting rtnetlink receive timeout: %w", err)
	}
	// Best effort: without them errors are bare errnos.
	unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding rtnetlink socket: %w", err)
	}
	return &rtnl{fd: fd, buf: make([]byte, 64<<10)}, nil
}

// newLinkMonitor opens a socket in the calling thread's namespace that
// receives the namespace's link events (RTMGRP_LINK), as a non-blocking file
// whose Close wakes a blocked Read.
func newLinkMonitor() (*os.File, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("creating rtnetlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("subscribing to link events: %w", err)
	}
	return os.NewFile(uintptr(fd), "rtnetlink-links"), nil
}

func (r *rtnl) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fd < 0 {
		return nil
	}
	err := unix.Close(r.fd)
	r.fd = -1
	return err
}

// links lists the namespace's interfaces, sorted by index.
func (r *rtnl) links() ([]afpacket.Interface, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fd < 0 {
		return nil, ErrClosed
	}
	r.seq++
	links, err := afpacket.ListInterfaces(r.fd, r.seq)
	if err != nil {
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	return links, nil
}

// netlinkError is an error reply: the errno and the kernel's extended ack
// message, if any.
type netlinkError struct {
	errno syscall.Errno
	msg   string
}

func (e *netlinkError) Error() string {
	if e.msg == "" {
		return e.errno.Error()
	}
	return e.errno.Error() + ": " + e.msg
}

func (e *netlinkError) Unwrap() error { return e.errno }

// request sends one request (body follows the netlink header) and reads the
// replies to it until its acknowledgement. fn, if not nil, sees every other
// reply message.
func (r *rtnl) request(typ, flags uint16, body []byte, fn func(typ uint16, data []byte)) error {
	return r.roundTrip(typ, flags|unix.NLM_F_ACK, body, false, fn)
}

// dump sends a dump request and passes every reply message to fn.
func (r *rtnl) dump(typ uint16, body []byte, fn func(typ uint16, data []byte)) error {
	return r.roundTrip(typ, unix.NLM_F_DUMP, body, true, fn)
}

func (r *rtnl) roundTrip(typ, flags uint16, body []byte, dump bool, fn func(typ uint16, data []byte)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fd < 0 {
		return ErrClosed
	}
	flags |= unix.NLM_F_REQUEST
	r.seq++
	seq := r.seq
	msg := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(body))
	binary.NativeEndian.PutUint32(msg[0:], uint32(unix.NLMSG_HDRLEN+len(body)))
	binary.NativeEndian.PutUint16(msg[4:], typ)
	binary.NativeEndian.PutUint16(msg[6:], flags)
	binary.NativeEndian.PutUint32(msg[8:], seq)
	msg = append(msg, body...)
	if err := unix.Sendto(r.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("sending rtnetlink request: %w", err)
	}
	for {
		n, _, err := unix.Recvfrom(r.fd, r.buf, 0)
		if err != nil {
			return fmt.Errorf("reading rtnetlink reply: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(r.buf[:n])
		if err != nil {
			return fmt.Errorf("parsing rtnetlink reply: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				if dump {
					return nil
				}
			case unix.NLMSG_ERROR:
				return ackError(m)
			default:
				if fn != nil {
					fn(m.Header.Type, m.Data)
				}
			}
		}
	}
}

// ackError decodes an NLMSG_ERROR message: nil for an acknowledgement.
func ackError(m syscall.NetlinkMessage) error {
	if len(m.Data) < 4 {
		return errors.New("malformed rtnetlink error message")
	}
	errno := -int32(binary.NativeEndian.Uint32(m.Data))
	if errno == 0 {
		return nil
	}
	e := &netlinkError{errno: syscall.Errno(errno)}
	if m.Header.Flags&unix.NLM_F_ACK_TLVS == 0 {
		return e
	}
	// struct nlmsgerr: the errno and the request's header, then (capped
	// acks: without the request's payload) the TLVs.
	off := 4 + unix.NLMSG_HDRLEN
	if m.Header.Flags&unix.NLM_F_CAPPED == 0 && len(m.Data) >= off {
		off += int(binary.NativeEndian.Uint32(m.Data[4:])) - unix.NLMSG_HDRLEN
	}
	for off+4 <= len(m.Data) {
		l := int(binary.NativeEndian.Uint16(m.Data[off:]))
		t := binary.NativeEndian.Uint16(m.Data[off+2:])
		if l < 4 || off+l > len(m.Data) {
			break
		}
		if t == unix.NLMSGERR_ATTR_MSG {
			e.msg = cString(m.Data[off+4 : off+l])
		}
		off += (l + 3) &^ 3
	}
	return e
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// TC constants (linux/pkt_sched.h, linux/pkt_cls.h); not in x/sys/unix.
const (
	tcHClsact      = 0xFFFFFFF1 // TC_H_CLSACT: parent of the clsact qdisc
	tcHIngress     = 0xFFFFFFF2 // TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)
	tcHEgress      = 0xFFFFFFF3 // TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS)
	clsactHandle   = 0xFFFF0000 // TC_H_MAKE(TC_H_CLSACT, 0)
	tcaBPFFD       = 6
	tcaBPFName     = 7
	tcaBPFFlags    = 8
	tcaBPFActDirct = 1 // TCA_BPF_FLAG_ACT_DIRECT

	tcMsgLen = 20 // sizeof(struct tcmsg)
)

// tcMsg returns a struct tcmsg.
func tcMsg(ifindex int, handle, parent, info uint32) []byte {
	b := make([]byte, tcMsgLen, 128)
	b[0] = unix.AF_UNSPEC
	binary.NativeEndian.PutUint32(b[4:], uint32(int32(ifindex)))
	binary.NativeEndian.PutUint32(b[8:], handle)
	binary.NativeEndian.PutUint32(b[12:], parent)
	binary.NativeEndian.PutUint32(b[16:], info)
	return b
}

// appendAttr appends a netlink attribute, padded to 4 bytes.
func appendAttr(b []byte, typ uint16, data []byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(unix.SizeofRtAttr+len(data)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func u32Attr(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func strAttr(s string) []byte { return append([]byte(s), 0) }

// ethPAll is htons(ETH_P_ALL), the protocol of our filters.
var ethPAll = uint32(binary.BigEndian.Uint16(binary.NativeEndian.AppendUint16(nil, unix.ETH_P_ALL)))

// addClsact adds a clsact qdisc to the interface unless it has one already,
// and reports whether it added it.
func (r *rtnl) addClsact(ifindex int) (bool, error) {
	body := appendAttr(tcMsg(ifindex, clsactHandle, tcHClsact, 0), unix.TCA_KIND, strAttr("clsact"))
	err := r.request(unix.RTM_NEWQDISC, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body, nil)
	if errors.Is(err, unix.EEXIST) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("adding clsact qdisc: %w", err)
	}
	return true, nil
}

// delClsact removes the interface's clsact qdisc.
func (r *rtnl) delClsact(ifindex int) error {
	body := appendAttr(tcMsg(ifindex, clsactHandle, tcHClsact, 0), unix.TCA_KIND, strAttr("clsact"))
	if err := r.request(unix.RTM_DELQDISC, 0, body, nil); err != nil {
		return fmt.Errorf("removing clsact qdisc: %w", err)
	}
	return nil
}

// tcFilter identifies a bpf filter added by addFilter.
type tcFilter struct {
	ifindex int
	parent  uint32 // tcHIngress or tcHEgress
	prio    uint16
	handle  uint32
}

// addFilter adds a direct-action bpf filter running prog (by fd, shown as
// name) under parent. The kernel chooses its priority (ahead of the existing
// filters) and handle, which it echoes back.
func (r *rtnl) addFilter(ifindex int, parent uint32, progFD int, name string) (tcFilter, error) {
	var opts []byte
	opts = appendAttr(opts, tcaBPFFD, u32Attr(uint32(progFD)))
	opts = appendAttr(opts, tcaBPFName, strAttr(name))
	opts = appendAttr(opts, tcaBPFFlags, u32Attr(tcaBPFActDirct))
	body := tcMsg(ifindex, 0, parent, ethPAll)
	body = appendAttr(body, unix.TCA_KIND, strAttr("bpf"))
	body = appendAttr(body, unix.TCA_OPTIONS, opts)
	f := tcFilter{ifindex: ifindex, parent: parent}
	echoed := false
	err := r.request(unix.RTM_NEWTFILTER, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ECHO, body, func(typ uint16, data []byte) {
		if typ == unix.RTM_NEWTFILTER && len(data) >= tcMsgLen {
			f.handle = binary.NativeEndian.Uint32(data[8:])
			f.prio = uint16(binary.NativeEndian.Uint32(data[16:]) >> 16)
			echoed = true
		}
	})
	if err != nil {
		return tcFilter{}, fmt.Errorf("adding bpf filter: %w", err)
	}
	if !echoed {
		return tcFilter{}, errors.New("adding bpf filter: the kernel did not echo the new filter")
	}
	return f, nil
}

// delFilter removes a filter added by addFilter.
func (r *rtnl) delFilter(f tcFilter) error {
	body := tcMsg(f.ifindex, f.handle, f.parent, uint32(f.prio)<<16|ethPAll)
	body = appendAttr(body, unix.TCA_KIND, strAttr("bpf"))
	if err := r.request(unix.RTM_DELTFILTER, 0, body, nil); err != nil {
		return fmt.Errorf("removing bpf filter: %w", err)
	}
	return nil
}

// filterCount counts the filters of the interface's clsact qdisc.
func (r *rtnl) filterCount(ifindex int) (int, error) {
	n := 0
	for _, parent := range []uint32{tcHIngress, tcHEgress} {
		err := r.dump(unix.RTM_GETTFILTER, tcMsg(ifindex, 0, parent, 0), func(typ uint16, _ []byte) {
			if typ == unix.RTM_NEWTFILTER {
				n++
			}
		})
		if err != nil {
			return 0, fmt.Errorf("listing filters: %w", err)
		}
	}
	return n, nil
}
