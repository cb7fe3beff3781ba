package tlsprobe

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"unsafe"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/kubectl-shark/kubectl-shark/bpf"
)

// TestEventLayout checks the decoder's offsets against the record header
// bpf2go generated from bpf/src/tls.c.
func TestEventLayout(t *testing.T) {
	var e bpf.TLSEvent
	for _, f := range []struct {
		name      string
		got, want uintptr
	}{
		{"ts_ns", unsafe.Offsetof(e.TsNs), offTs},
		{"ssl", unsafe.Offsetof(e.Ssl), offSSL},
		{"offset", unsafe.Offsetof(e.Offset), offOffset},
		{"pid", unsafe.Offsetof(e.Pid), offPID},
		{"tid", unsafe.Offsetof(e.Tid), offTID},
		{"len", unsafe.Offsetof(e.Len), offLen},
		{"family", unsafe.Offsetof(e.Family), offFamily},
		{"lport", unsafe.Offsetof(e.Lport), offLport},
		{"rport", unsafe.Offsetof(e.Rport), offRport},
		{"kind", unsafe.Offsetof(e.Kind), offKind},
		{"flags", unsafe.Offsetof(e.Flags), offFlags},
		{"laddr", unsafe.Offsetof(e.Laddr), offLaddr},
		{"raddr", unsafe.Offsetof(e.Raddr), offRaddr},
		{"skip", unsafe.Offsetof(e.Skip), offSkip},
		{"size", unsafe.Sizeof(e), eventSize},
	} {
		if f.got != f.want {
			t.Errorf("%s at %d, decoder expects %d", f.name, f.got, f.want)
		}
	}
}

// record encodes a ring record as tls.c writes it.
func record(kind uint8, pid uint32, ssl, off uint64, local, remote string, data string) []byte {
	b := make([]byte, eventSize+len(data))
	ne := binary.NativeEndian
	ne.PutUint64(b[offTs:], 1000)
	ne.PutUint64(b[offSSL:], ssl)
	ne.PutUint64(b[offOffset:], off)
	ne.PutUint32(b[offPID:], pid)
	ne.PutUint32(b[offTID:], pid+1)
	ne.PutUint32(b[offLen:], uint32(len(data)))
	b[offKind] = kind
	if local != "" {
		l, r := netip.MustParseAddrPort(local), netip.MustParseAddrPort(remote)
		b[offFlags] = flagTuple
		ne.PutUint16(b[offLport:], l.Port())
		ne.PutUint16(b[offRport:], r.Port())
		if l.Addr().Is4() {
			ne.PutUint16(b[offFamily:], afInet)
			la, ra := l.Addr().As4(), r.Addr().As4()
			copy(b[offLaddr:], la[:])
			copy(b[offRaddr:], ra[:])
		} else {
			ne.PutUint16(b[offFamily:], afInet6)
			la, ra := l.Addr().As16(), r.Addr().As16()
			copy(b[offLaddr:], la[:])
			copy(b[offRaddr:], ra[:])
		}
	}
	copy(b[eventSize:], data)
	return b
}

func TestDecodeEvent(t *testing.T) {
	var ev event
	data, err := decodeEvent(record(kindWrite, 7, 0xabc, 5, "198.18.0.2:40000", "198.18.0.1:443", "hello"), &ev)
	if err != nil || string(data) != "hello" {
		t.Fatalf("data %q, err %v", data, err)
	}
	if ev.pid != 7 || ev.tid != 8 || ev.ssl != 0xabc || ev.offset != 5 || ev.kind != kindWrite ||
		ev.local.String() != "198.18.0.2:40000" || ev.remote.String() != "198.18.0.1:443" {
		t.Errorf("decoded %+v", ev)
	}
	// A dual-stack socket's v4-mapped addresses come out as IPv4.
	if _, err := decodeEvent(record(kindRead, 7, 1, 0, "[::ffff:198.18.0.2]:40000", "[::ffff:198.18.0.1]:443", ""), &ev); err != nil ||
		ev.local.String() != "198.18.0.2:40000" || ev.remote.String() != "198.18.0.1:443" {
		t.Errorf("v4-mapped: %+v, %v", ev, err)
	}
	if _, err := decodeEvent(record(kindRead, 7, 1, 0, "[2001:db8::1]:40000", "[2001:db8::2]:443", ""), &ev); err != nil ||
		ev.local.String() != "[2001:db8::1]:40000" {
		t.Errorf("IPv6: %+v, %v", ev, err)
	}
	// Truncations.
	rec := record(kindWrite, 7, 1, 0, "", "", "hello")
	for _, n := range []int{0, 10, eventSize - 1, eventSize, eventSize + 4} {
		if _, err := decodeEvent(rec[:n], &ev); err == nil {
			t.Errorf("record of %d bytes decoded", n)
		}
	}
	// Unknown family: no tuple.
	rec = record(kindWrite, 7, 1, 0, "198.18.0.2:1", "198.18.0.1:2", "")
	binary.NativeEndian.PutUint16(rec[offFamily:], 1)
	if _, err := decodeEvent(rec, &ev); err != nil || ev.flags&flagTuple != 0 {
		t.Errorf("family 1: flags %d, err %v", ev.flags, err)
	}
}

func testLimits() limits {
	return limits{maxPending: 1000, maxPendingTotal: 1500, pendingTimeout: 1e9, idleTimeout: 600e9, maxConns: 8,
		ephemeralLo: 32768, ephemeralHi: 60999}
}

// feed decodes and handles records, returning copies of the packets.
func feed(t *testing.T, b *builder, recs ...[]byte) []Packet {
	t.Helper()
	b.reset()
	for _, r := range recs {
		var ev event
		data, err := decodeEvent(r, &ev)
		if err != nil {
			t.Fatal(err)
		}
		b.event(&ev, data)
	}
	out := make([]Packet, len(b.out))
	for i, p := range b.out {
		p.Data = append([]byte(nil), p.Data...)
		out[i] = p
	}
	return out
}

// checksumOK verifies an IPv4 header checksum and the TCP checksum of a
// packet, computed independently of packet.go: byte by byte.
func checksumOK(data []byte) error {
	add := func(c uint32, b []byte) uint32 {
		for i, x := range b {
			if i%2 == 0 {
				c += uint32(x) << 8
			} else {
				c += uint32(x)
			}
		}
		return c
	}
	fin := func(c uint32) uint16 {
		for c>>16 != 0 {
			c = c&0xffff + c>>16
		}
		return uint16(c)
	}
	var pseudo []byte
	var tcp []byte
	if data[0]>>4 == 4 {
		ihl := int(data[0]&0xf) * 4
		if fin(add(0, data[:ihl])) != 0xffff {
			return fmt.Errorf("bad IPv4 header checksum")
		}
		tcp = data[ihl:]
		pseudo = append(append([]byte(nil), data[12:20]...), 0, 6, byte(len(tcp)>>8), byte(len(tcp)))
	} else {
		tcp = data[40:]
		pseudo = append(append([]byte(nil), data[8:40]...), 0, 0, byte(len(tcp)>>8), byte(len(tcp)), 0, 0, 0, 6)
	}
	if fin(add(add(0, pseudo), tcp)) != 0xffff {
		return fmt.Errorf("bad TCP checksum")
	}
	return nil
}

// summary describes packets one per line: `> PA 198.18.0.2:40000-198.18.0.1:443 "data"`.
func summary(t *testing.T, pkts []Packet) string {
	t.Helper()
	var b strings.Builder
	for _, p := range pkts {
		if err := checksumOK(p.Data); err != nil {
			t.Errorf("%v: %x", err, p.Data)
		}
		first := layers.LayerTypeIPv4
		if p.Data[0]>>4 == 6 {
			first = layers.LayerTypeIPv6
		}
		pkt := gopacket.NewPacket(p.Data, first, gopacket.Default)
		if el := pkt.ErrorLayer(); el != nil {
			t.Fatalf("undecodable packet: %v", el.Error())
		}
		var src, dst netip.Addr
		if ip, ok := pkt.NetworkLayer().(*layers.IPv4); ok {
			src, _ = netip.AddrFromSlice(ip.SrcIP)
			dst, _ = netip.AddrFromSlice(ip.DstIP)
			if int(ip.Length) != len(p.Data) || p.Length != len(p.Data) {
				t.Errorf("lengths: ip %d, data %d, Length %d", ip.Length, len(p.Data), p.Length)
			}
		} else {
			ip := pkt.NetworkLayer().(*layers.IPv6)
			src, _ = netip.AddrFromSlice(ip.SrcIP)
			dst, _ = netip.AddrFromSlice(ip.DstIP)
		}
		tcp := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		dir := "<"
		if p.Outbound {
			dir = ">"
		}
		fl := ""
		for _, f := range []struct {
			on bool
			c  string
		}{{tcp.SYN, "S"}, {tcp.FIN, "F"}, {tcp.PSH, "P"}, {tcp.ACK, "A"}} {
			if f.on {
				fl += f.c
			}
		}
		fmt.Fprintf(&b, "%s %s %s-%s", dir, fl, netip.AddrPortFrom(src, uint16(tcp.SrcPort)), netip.AddrPortFrom(dst, uint16(tcp.DstPort)))
		if len(tcp.Payload) > 0 {
			fmt.Fprintf(&b, " %q", tcp.Payload)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// checkSeq replays the packets as TCP would: every segment starts where its
// direction's previous one ended (SYN and FIN count one), and every ACK
// acknowledges everything the other direction sent. Packets are grouped by
// connection (unordered address pair); a SYN starts the connection afresh.
func checkSeq(t *testing.T, pkts []Packet) {
	t.Helper()
	type end struct {
		next  uint32
		known bool
	}
	conns := map[string]map[string]*end{}
	for i, p := range pkts {
		first := layers.LayerTypeIPv4
		if p.Data[0]>>4 == 6 {
			first = layers.LayerTypeIPv6
		}
		pkt := gopacket.NewPacket(p.Data, first, gopacket.Default)
		tcp := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		nf := pkt.NetworkLayer().NetworkFlow()
		src := fmt.Sprintf("%v:%d", nf.Src(), tcp.SrcPort)
		dst := fmt.Sprintf("%v:%d", nf.Dst(), tcp.DstPort)
		key := src + "|" + dst
		if dst < src {
			key = dst + "|" + src
		}
		if tcp.SYN && !tcp.ACK {
			conns[key] = map[string]*end{}
		}
		c := conns[key]
		if c == nil {
			t.Fatalf("packet %d: %s > %s before any SYN", i, src, dst)
		}
		me, other := c[src], c[dst]
		if me == nil {
			me = &end{}
			c[src] = me
		}
		if me.known && tcp.Seq != me.next {
			t.Errorf("packet %d %s > %s: seq %d, want %d", i, src, dst, tcp.Seq, me.next)
		}
		if tcp.ACK && (other == nil || tcp.Ack != other.next) {
			want := uint32(0)
			if other != nil {
				want = other.next
			}
			t.Errorf("packet %d %s > %s: ack %d, want %d", i, src, dst, tcp.Ack, want)
		}
		n := uint32(len(tcp.Payload))
		if tcp.SYN || tcp.FIN {
			n++
		}
		me.next, me.known = tcp.Seq+n, true
		if len(tcp.Payload) > MaxSegment {
			t.Errorf("packet %d: %d bytes of payload", i, len(tcp.Payload))
		}
	}
}

func TestBuilderClient(t *testing.T) {
	var cnt counters
	b := newBuilder(testLimits(), &cnt)
	const l, r = "198.18.0.2:40000", "198.18.0.1:443"
	pkts := feed(t, b,
		record(kindWrite, 10, 1, 0, l, r, "GET / HTTP/1.1\r\n\r\n"),
		record(kindRead, 10, 1, 0, l, r, "HTTP/1.1 200 OK\r\n"),
		record(kindRead, 10, 1, 17, "", "", "Content-Length: 0\r\n\r\n"), // served from OpenSSL's buffer
		record(kindWrite, 10, 1, 18, l, r, "GET /2 HTTP/1.1\r\n\r\n"),
		record(kindClose, 10, 1, 0, l, r, ""),
	)
	want := `> S 198.18.0.2:40000-198.18.0.1:443
< SA 198.18.0.1:443-198.18.0.2:40000
> A 198.18.0.2:40000-198.18.0.1:443
> PA 198.18.0.2:40000-198.18.0.1:443 "GET / HTTP/1.1\r\n\r\n"
< PA 198.18.0.1:443-198.18.0.2:40000 "HTTP/1.1 200 OK\r\n"
< PA 198.18.0.1:443-198.18.0.2:40000 "Content-Length: 0\r\n\r\n"
> PA 198.18.0.2:40000-198.18.0.1:443 "GET /2 HTTP/1.1\r\n\r\n"
> FA 198.18.0.2:40000-198.18.0.1:443
< FA 198.18.0.1:443-198.18.0.2:40000
> A 198.18.0.2:40000-198.18.0.1:443
`
	if got := summary(t, pkts); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	checkSeq(t, pkts)
	for _, p := range pkts {
		if p.PID != 10 || p.Timestamp.UnixNano() != 1000 {
			t.Errorf("pid %d, time %v", p.PID, p.Timestamp)
		}
	}
	if len(b.conns) != 0 || len(b.owners) != 0 {
		t.Errorf("state left after close: %d conns, %d owners", len(b.conns), len(b.owners))
	}
	if cnt.events.Load() != 5 || cnt.bytes.Load() != 75 || cnt.packets.Load() != uint64(len(pkts)) {
		t.Errorf("counters: events %d bytes %d packets %d", cnt.events.Load(), cnt.bytes.Load(), cnt.packets.Load())
	}
}

// TestBuilderClientSide checks who sends the SYN.
func TestBuilderClientSide(t *testing.T) {
	for _, tc := range []struct {
		name, local, remote string
		first               uint8
		syn                 string // direction of the SYN
	}{
		{"local ephemeral", "198.18.0.2:40000", "198.18.0.1:443", kindRead, ">"},
		{"remote ephemeral", "198.18.0.1:443", "198.18.0.2:40000", kindWrite, "<"},
		{"both ephemeral, local writes first", "198.18.0.2:50051", "198.18.0.1:45000", kindWrite, ">"},
		{"both ephemeral, remote writes first", "198.18.0.2:50051", "198.18.0.1:45000", kindRead, "<"},
		{"neither, local writes first", "198.18.0.2:443", "198.18.0.1:8443", kindWrite, ">"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder(testLimits(), &counters{})
			got := summary(t, feed(t, b, record(tc.first, 1, 1, 0, tc.local, tc.remote, "x")))
			if !strings.HasPrefix(got, tc.syn+" S ") {
				t.Errorf("got\n%s", got)
			}
		})
	}
}

// TestBuilderPending: data of an SSL object whose tuple is not known yet waits
// for it.
func TestBuilderPending(t *testing.T) {
	var cnt counters
	b := newBuilder(testLimits(), &cnt)
	if pkts := feed(t, b, record(kindRead, 1, 5, 0, "", "", "GET / HTTP/1.1\r\n\r\n")); len(pkts) != 0 {
		t.Fatalf("%d packets before the tuple is known", len(pkts))
	}
	pkts := feed(t, b, record(kindWrite, 1, 5, 0, "198.18.0.1:443", "198.18.0.2:40000", "HTTP/1.1 200 OK\r\n\r\n"))
	want := `< S 198.18.0.2:40000-198.18.0.1:443
> SA 198.18.0.1:443-198.18.0.2:40000
< A 198.18.0.2:40000-198.18.0.1:443
< PA 198.18.0.2:40000-198.18.0.1:443 "GET / HTTP/1.1\r\n\r\n"
> PA 198.18.0.1:443-198.18.0.2:40000 "HTTP/1.1 200 OK\r\n\r\n"
`
	if got := summary(t, pkts); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	checkSeq(t, pkts)
	if cnt.unknownTuple.Load() != 0 || b.pendingTotal != 0 {
		t.Errorf("unknown %d, pending %d", cnt.unknownTuple.Load(), b.pendingTotal)
	}
}

// TestBuilderPlaceholder: when the tuple stays unknown (too much data, too
// long, or the SSL object is freed), a placeholder tuple is used; a tuple
// learned later starts a new stream.
func TestBuilderPlaceholder(t *testing.T) {
	big := strings.Repeat("x", 600)
	t.Run("overflow", func(t *testing.T) {
		var cnt counters
		b := newBuilder(testLimits(), &cnt)
		pkts := feed(t, b,
			record(kindWrite, 0x01020304, 0x1122334455667788, 0, "", "", big),
			record(kindWrite, 0x01020304, 0x1122334455667788, 600, "", "", big),
			record(kindRead, 0x01020304, 0x1122334455667788, 0, "198.18.0.2:40000", "198.18.0.1:443", "late"),
		)
		L, R := "[2001:db8:ffff:fffe::102:304]:1", "[2001:db8:ffff:ffff:1122:3344:5566:7788]:2"
		q := fmt.Sprintf("%q", big)
		want := `> S ` + L + `-` + R + `
< SA ` + R + `-` + L + `
> A ` + L + `-` + R + `
> PA ` + L + `-` + R + ` ` + q + `
> PA ` + L + `-` + R + ` ` + q + `
> FA ` + L + `-` + R + `
< FA ` + R + `-` + L + `
> A ` + L + `-` + R + `
> S 198.18.0.2:40000-198.18.0.1:443
< SA 198.18.0.1:443-198.18.0.2:40000
> A 198.18.0.2:40000-198.18.0.1:443
< PA 198.18.0.1:443-198.18.0.2:40000 "late"
`
		if got := summary(t, pkts); got != want {
			t.Errorf("got\n%s\nwant\n%s", got, want)
		}
		checkSeq(t, pkts)
		if cnt.unknownTuple.Load() != 2 {
			t.Errorf("unknown tuple %d, want 2", cnt.unknownTuple.Load())
		}
	})
	t.Run("timeout", func(t *testing.T) {
		b := newBuilder(testLimits(), &counters{})
		feed(t, b, record(kindRead, 1, 1, 0, "", "", "hello"))
		b.reset()
		b.sweep(1000 + 1e9 - 1)
		if len(b.out) != 0 {
			t.Fatal("placeholder before the timeout")
		}
		b.sweep(1000 + 1e9)
		if got := summary(t, b.out); !strings.Contains(got, `< PA [2001:db8:ffff:ffff::1]:2-[2001:db8:ffff:fffe::1]:1 "hello"`) {
			t.Errorf("got\n%s", got)
		}
	})
	t.Run("close", func(t *testing.T) {
		b := newBuilder(testLimits(), &counters{})
		pkts := feed(t, b, record(kindRead, 1, 1, 0, "", "", "hello"), record(kindClose, 1, 1, 0, "", "", ""))
		if got := summary(t, pkts); strings.Count(got, "\n") != 7 || !strings.Contains(got, "hello") {
			t.Errorf("got\n%s", got)
		}
		checkSeq(t, pkts)
		if len(b.conns) != 0 || b.pendingTotal != 0 {
			t.Error("state left after close")
		}
	})
}

// TestBuilderBothEnds: two processes of the target namespace talking to each
// other report the same connection; only the first is kept.
func TestBuilderBothEnds(t *testing.T) {
	var cnt counters
	b := newBuilder(testLimits(), &cnt)
	const c, s = "127.0.0.1:40000", "127.0.0.1:443"
	pkts := feed(t, b,
		record(kindWrite, 1, 1, 0, c, s, "GET"),
		record(kindRead, 2, 9, 0, s, c, "GET"),
		record(kindWrite, 2, 9, 0, s, c, "200"),
		record(kindRead, 1, 1, 0, c, s, "200"),
	)
	want := `> S 127.0.0.1:40000-127.0.0.1:443
< SA 127.0.0.1:443-127.0.0.1:40000
> A 127.0.0.1:40000-127.0.0.1:443
> PA 127.0.0.1:40000-127.0.0.1:443 "GET"
< PA 127.0.0.1:443-127.0.0.1:40000 "200"
`
	if got := summary(t, pkts); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if cnt.duplicates.Load() != 2 {
		t.Errorf("duplicates %d, want 2", cnt.duplicates.Load())
	}
}

// TestBuilderRestart covers the ways a stream ends without SSL_free: the SSL
// object reused for another connection, an older SSL object on the same
// connection, and offsets starting again.
func TestBuilderRestart(t *testing.T) {
	const l, r, r2 = "198.18.0.2:40000", "198.18.0.1:443", "198.18.0.3:443"
	t.Run("reused", func(t *testing.T) {
		b := newBuilder(testLimits(), &counters{})
		pkts := feed(t, b, record(kindWrite, 1, 1, 0, l, r, "a"), record(kindWrite, 1, 1, 1, l, r2, "b"))
		got := summary(t, pkts)
		if strings.Count(got, " S ") != 2 || strings.Count(got, " FA ") != 2 || !strings.Contains(got, `198.18.0.3:443 "b"`) {
			t.Errorf("got\n%s", got)
		}
		checkSeq(t, pkts)
	})
	t.Run("stale", func(t *testing.T) {
		b := newBuilder(testLimits(), &counters{})
		pkts := feed(t, b, record(kindWrite, 1, 1, 0, l, r, "a"), record(kindWrite, 1, 2, 0, l, r, "b"))
		got := summary(t, pkts)
		if strings.Count(got, " S ") != 2 || strings.Count(got, " FA ") != 2 {
			t.Errorf("got\n%s", got)
		}
		checkSeq(t, pkts)
		if len(b.conns) != 1 {
			t.Errorf("%d conns", len(b.conns))
		}
	})
	t.Run("offsets", func(t *testing.T) {
		b := newBuilder(testLimits(), &counters{})
		pkts := feed(t, b, record(kindWrite, 1, 1, 0, l, r, "abc"), record(kindWrite, 1, 1, 0, l, r, "d"))
		got := summary(t, pkts)
		if strings.Count(got, " S ") != 2 || strings.Count(got, " FA ") != 2 {
			t.Errorf("got\n%s", got)
		}
		checkSeq(t, pkts)
	})
}

// TestBuilderSegments: large events are split into segments of at most
// MaxSegment bytes; a lost record leaves a gap in the sequence numbers.
func TestBuilderSegments(t *testing.T) {
	b := newBuilder(testLimits(), &counters{})
	data := bytes.Repeat([]byte("0123456789"), 15000)
	pkts := feed(t, b, record(kindRead, 1, 1, 0, "[2001:db8::2]:40000", "[2001:db8::1]:443", string(data)))
	checkSeq(t, pkts)
	var got []byte
	for _, p := range pkts[3:] {
		tcp := decodeTCP(p.Data)
		got = append(got, tcp.Payload...)
		if tcp.PSH != (len(got) == len(data)) {
			t.Errorf("PSH %v at %d", tcp.PSH, len(got))
		}
	}
	if len(pkts) != 3+3 || !bytes.Equal(got, data) {
		t.Errorf("%d packets, %d bytes", len(pkts), len(got))
	}
	summary(t, pkts) // checksums

	// A gap: the sequence number jumps by the bytes lost.
	lastSeg := decodeTCP(pkts[len(pkts)-1].Data)
	end := lastSeg.Seq + uint32(len(lastSeg.Payload))
	pkts = feed(t, b, record(kindRead, 1, 1, uint64(len(data))+100, "[2001:db8::2]:40000", "[2001:db8::1]:443", "after"))
	if len(pkts) != 1 || decodeTCP(pkts[0].Data).Seq != end+100 {
		t.Errorf("after a gap of 100 bytes: %d packets, seq %d, want %d", len(pkts), decodeTCP(pkts[0].Data).Seq, end+100)
	}
}

// TestBuilderLimits: the connection table is bounded, idle connections are
// forgotten.
func TestBuilderLimits(t *testing.T) {
	var cnt counters
	b := newBuilder(testLimits(), &cnt)
	for i := range 10 {
		feed(t, b, record(kindWrite, 1, uint64(i), 0, fmt.Sprintf("198.18.0.2:%d", 40000+i), "198.18.0.1:443", "x"))
	}
	if len(b.conns) != 8 || cnt.evicted.Load() != 2 {
		t.Errorf("%d conns, %d evicted", len(b.conns), cnt.evicted.Load())
	}
	b.sweep(1000 + 600e9)
	if len(b.conns) != 0 || len(b.owners) != 0 {
		t.Errorf("%d conns, %d owners after the idle timeout", len(b.conns), len(b.owners))
	}
}

// BenchmarkBuilder measures turning a 1 KiB record of a known connection into
// a packet, the steady state of a busy connection: it must not allocate.
func BenchmarkBuilder(b *testing.B) {
	bl := newBuilder(testLimits(), &counters{})
	rec := record(kindWrite, 1, 1, 0, "198.18.0.2:40000", "198.18.0.1:443", strings.Repeat("x", 1024))
	var ev event
	off := uint64(0)
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		binary.NativeEndian.PutUint64(rec[offOffset:], off)
		off += 1024
		data, err := decodeEvent(rec, &ev)
		if err != nil {
			b.Fatal(err)
		}
		bl.reset()
		bl.event(&ev, data)
	}
}

// TestBuilderTruncated: the bytes of a truncated call that were not copied
// still advance the stream, so the FIN (and all that follows) shows the gap.
func TestBuilderTruncated(t *testing.T) {
	b := newBuilder(testLimits(), &counters{})
	rec := record(kindWrite, 1, 1, 0, "198.18.0.2:40000", "198.18.0.1:443", "copied")
	rec[offFlags] |= flagTruncated
	binary.NativeEndian.PutUint32(rec[offSkip:], 1000)
	pkts := feed(t, b, rec, record(kindClose, 1, 1, 0, "198.18.0.2:40000", "198.18.0.1:443", ""))
	data, fin := decodeTCP(pkts[3].Data), decodeTCP(pkts[4].Data)
	if !fin.FIN || fin.Seq != data.Seq+6+1000 {
		t.Errorf("FIN at %d, data at %d: want a gap of 1000 bytes after 6", fin.Seq, data.Seq)
	}
	if ack := decodeTCP(pkts[5].Data); ack.Ack != fin.Seq+1 {
		t.Errorf("the remote end acknowledges %d, want %d", ack.Ack, fin.Seq+1)
	}
}

// FuzzBuilder feeds arbitrary ring records (length-prefixed in the input) to
// the decoder and the builder: no panic, and every packet built is valid.
func FuzzBuilder(f *testing.F) {
	const l, r = "198.18.0.2:40000", "198.18.0.1:443"
	seeds := [][][]byte{
		{record(kindWrite, 1, 1, 0, l, r, "GET / HTTP/1.1\r\n\r\n"), record(kindRead, 1, 1, 0, "", "", "HTTP/1.1 200 OK\r\n\r\n"), record(kindClose, 1, 1, 0, l, r, "")},
		{record(kindRead, 2, 9, 5, "", "", "pending"), record(kindClose, 2, 9, 0, "", "", "")},
		{record(kindWrite, 1, 1, 0, l, r, "a"), record(kindRead, 2, 2, 0, r, l, "a"), record(kindWrite, 1, 1, 0, l, r, "b")},
		{record(kindWrite, 3, 3, 0, "[::ffff:198.18.0.2]:1", "[2001:db8::1]:2", "mixed families")},
	}
	for _, recs := range seeds {
		var in []byte
		for _, rec := range recs {
			in = binary.LittleEndian.AppendUint16(in, uint16(len(rec)))
			in = append(in, rec...)
		}
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b := newBuilder(testLimits(), &counters{})
		for len(in) >= 2 {
			n := int(binary.LittleEndian.Uint16(in))
			in = in[2:]
			if n > len(in) {
				n = len(in)
			}
			var ev event
			if data, err := decodeEvent(in[:n], &ev); err == nil {
				b.event(&ev, data)
			}
			in = in[n:]
		}
		b.sweep(1 << 62)
		for _, p := range b.out {
			if err := checksumOK(p.Data); err != nil || len(p.Data) != p.Length || len(p.Data) > 65535+40 {
				t.Fatalf("bad packet (%v): %x", err, p.Data)
			}
		}
	})
}
