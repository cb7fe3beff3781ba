package afpacket

import (
	"encoding/binary"
	"fmt"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ListInterfaces lists, sorted by index, the interfaces of the network
// namespace that rtnl (a bound NETLINK_ROUTE socket) belongs to, with the link
// types of a capture that is not cooked. seq numbers the request; replies to
// other requests are skipped. It is for other capture backends (package
// ebpfcap), which name interfaces as this package does.
func ListInterfaces(rtnl int, seq uint32) ([]Interface, error) {
	return dumpLinks(rtnl, seq, false)
}

// dumpLinks lists the interfaces of the namespace that the rtnetlink socket fd
// belongs to.
func dumpLinks(fd int, seq uint32, cooked bool) ([]Interface, error) {
	req := make([]byte, unix.SizeofNlMsghdr+unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.RTM_GETLINK)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], seq)
	req[unix.SizeofNlMsghdr] = unix.AF_UNSPEC
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("requesting link dump: %w", err)
	}

	var links []Interface
	buf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("reading link dump: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("parsing link dump: %w", err)
		}
		for i := range msgs {
			m := &msgs[i]
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				slices.SortFunc(links, func(a, b Interface) int { return a.Index - b.Index })
				return links, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if errno := -int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
						return nil, fmt.Errorf("link dump: %w", syscall.Errno(errno))
					}
				}
				return nil, fmt.Errorf("link dump: malformed error message")
			case unix.RTM_NEWLINK:
				if len(m.Data) < unix.SizeofIfInfomsg {
					continue
				}
				hatype := binary.NativeEndian.Uint16(m.Data[2:])
				ifc := Interface{
					Index:        int(int32(binary.NativeEndian.Uint32(m.Data[4:]))),
					HardwareType: hatype,
					LinkType:     linkTypeOf(hatype, cooked),
				}
				attrs, err := syscall.ParseNetlinkRouteAttr(m)
				if err != nil {
					continue
				}
				for _, a := range attrs {
					switch a.Attr.Type {
					case unix.IFLA_IFNAME:
						ifc.Name = cString(a.Value)
					case unix.IFLA_MTU:
						if len(a.Value) >= 4 {
							ifc.MTU = int(binary.NativeEndian.Uint32(a.Value))
						}
					}
				}
				links = append(links, ifc)
			}
		}
	}
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// newNetlinkSocket opens a rtnetlink socket in the current thread's namespace.
func newNetlinkSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return -1, fmt.Errorf("creating rtnetlink socket: %w", err)
	}
	tv := unix.NsecToTimeval((5 * time.Second).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("setting rtnetlink receive timeout: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("binding rtnetlink socket: %w", err)
	}
	return fd, nil
}
