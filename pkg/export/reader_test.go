package export

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// fixtures lists every capture in testdata with what it must contain.
var fixtures = []struct {
	name    string
	format  Format
	packets int
	links   []layers.LinkType // one per interface
}{
	{"lo.pcap", FormatPcap, 38, []layers.LinkType{layers.LinkTypeEthernet}},
	{"lo-ns.pcap", FormatPcap, 38, []layers.LinkType{layers.LinkTypeEthernet}},
	{"lo-mod.pcap", FormatPcap, 38, []layers.LinkType{layers.LinkTypeEthernet}},
	{"rawip.pcap", FormatPcap, 38, []layers.LinkType{layers.LinkTypeRaw}},
	{"raw.pcap", FormatPcap, 2, []layers.LinkType{layers.LinkTypeRaw}},
	{"eth.pcap", FormatPcap, 30, []layers.LinkType{layers.LinkTypeEthernet}},
	{"any-sll.pcap", FormatPcap, 24, []layers.LinkType{layers.LinkTypeLinuxSLL}},
	{"any-sll2.pcap", FormatPcap, 25, []layers.LinkType{layers.LinkTypeLinuxSLL2}},
	{"lo.pcapng", FormatPcapNG, 38, []layers.LinkType{layers.LinkTypeEthernet}},
	{"lo.pcapng.gz", FormatPcapNG, 38, []layers.LinkType{layers.LinkTypeEthernet}},
	{"dumpcap.pcapng", FormatPcapNG, 6, []layers.LinkType{layers.LinkTypeEthernet}},
	{"merged.pcapng", FormatPcapNG, 57, []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL2, layers.LinkTypeRaw}},
	{"sections.pcapng", FormatPcapNG, 95, []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL2, layers.LinkTypeRaw}},
}

type readResult struct {
	pkts   []Packet // with copied Data
	ifaces []Interface
	err    error // the error that ended reading (io.EOF when clean)
}

func readAll(t testing.TB, b []byte) (*Reader, readResult) {
	t.Helper()
	r, err := Open(bytes.NewReader(b))
	if err != nil {
		return nil, readResult{err: err}
	}
	var res readResult
	for {
		p, err := r.Next()
		if err != nil {
			res.err = err
			break
		}
		if len(p.Data) != p.CaptureLength {
			t.Fatalf("packet %d: len(Data) = %d, CaptureLength = %d", len(res.pkts), len(p.Data), p.CaptureLength)
		}
		if p.Interface < 0 || p.Interface >= len(r.Interfaces()) {
			t.Fatalf("packet %d: interface %d of %d", len(res.pkts), p.Interface, len(r.Interfaces()))
		}
		p.Data = bytes.Clone(p.Data)
		res.pkts = append(res.pkts, p)
	}
	res.ifaces = r.Interfaces()
	return r, res
}

func TestReadFixtures(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel() // tshark takes a second to start, mostly waiting
			r, res := readAll(t, testdata(t, f.name))
			if r == nil {
				t.Fatalf("Open: %v", res.err)
			}
			if res.err != io.EOF {
				t.Fatalf("reading: %v", res.err)
			}
			if r.Format() != f.format {
				t.Errorf("format %v, want %v", r.Format(), f.format)
			}
			if len(res.pkts) != f.packets {
				t.Errorf("%d packets, want %d", len(res.pkts), f.packets)
			}
			var links []layers.LinkType
			for _, i := range res.ifaces {
				links = append(links, i.LinkType)
			}
			if fmt.Sprint(links) != fmt.Sprint(f.links) {
				t.Errorf("link types %v, want %v", links, f.links)
			}
			// Every packet's time, length and captured length as tshark sees them.
			var got strings.Builder
			for _, p := range res.pkts {
				fmt.Fprintf(&got, "%d.%09d\t%d\t%d\n", p.Timestamp.Unix(), p.Timestamp.Nanosecond(), p.Length, p.CaptureLength)
			}
			want := runTool(t, "tshark", "-r", filepath.Join("testdata", f.name), "-T", "fields",
				"-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len")
			if got.String() != want {
				t.Errorf("packets differ from tshark's view:\n got:\n%s\nwant:\n%s", got.String(), want)
			}
		})
	}
}

// The same capture in every container variant decodes to the same packets.
func TestReadVariantsAgree(t *testing.T) {
	_, base := readAll(t, testdata(t, "lo.pcap"))
	for _, name := range []string{"lo-ns.pcap", "lo-mod.pcap", "lo.pcapng", "lo.pcapng.gz", "sections.pcapng"} {
		_, res := readAll(t, testdata(t, name))
		if len(res.pkts) < len(base.pkts) {
			t.Fatalf("%s: %d packets, want at least %d", name, len(res.pkts), len(base.pkts))
		}
		for i, want := range base.pkts {
			got := res.pkts[i]
			got.Flags = 0 // lo-mod.pcap knows directions
			if !equalPacket(got, want) {
				t.Fatalf("%s packet %d:\n got %+v\nwant %+v", name, i, got, want)
			}
		}
	}
	_, raw := readAll(t, testdata(t, "rawip.pcap"))
	for i, want := range base.pkts {
		if got := raw.pkts[i]; !bytes.Equal(got.Data, want.Data[14:]) || !got.Timestamp.Equal(want.Timestamp) {
			t.Fatalf("rawip.pcap packet %d differs from lo.pcap's without its Ethernet header", i)
		}
	}
	// Interfaces are numbered across sections: lo.pcapng's is 0, merged.pcapng's 1 to 3.
	_, sec := readAll(t, testdata(t, "sections.pcapng"))
	_, merged := readAll(t, testdata(t, "merged.pcapng"))
	for i, p := range sec.pkts[len(base.pkts):] {
		want := merged.pkts[i]
		want.Interface++
		if !equalPacket(p, want) {
			t.Fatalf("sections.pcapng packet %d:\n got %+v\nwant %+v", len(base.pkts)+i, p, want)
		}
	}
}

func equalPacket(a, b Packet) bool {
	return a.Timestamp.Equal(b.Timestamp) && a.Interface == b.Interface && a.CaptureLength == b.CaptureLength &&
		a.Length == b.Length && bytes.Equal(a.Data, b.Data) && a.Flags == b.Flags && a.Comment == b.Comment
}

func TestReadModifiedPcapDirections(t *testing.T) {
	_, res := readAll(t, testdata(t, "lo-mod.pcap"))
	// Loopback packets are seen once, as outgoing, by tcpdump -i lo.
	for i, p := range res.pkts {
		if !p.Outbound() && !p.Inbound() {
			t.Fatalf("packet %d: no direction (flags %#x)", i, p.Flags)
		}
	}
}

func TestReadDumpcapInterfaceAndStats(t *testing.T) {
	r, res := readAll(t, testdata(t, "dumpcap.pcapng"))
	if res.err != io.EOF {
		t.Fatal(res.err)
	}
	iface := res.ifaces[0]
	if iface.Name != "lo" || iface.TsResolution != TsNanoseconds || iface.SnapLen != 262144 || iface.OS == "" {
		t.Errorf("interface %+v", iface)
	}
	st := r.Stats()
	if len(st) == 0 {
		t.Fatal("no interface statistics read")
	}
	s := st[len(st)-1]
	// dumpcap 4.0 writes ISB timestamps in microseconds although its if_tsresol says
	// nanoseconds, so they decode (like in Wireshark) to January 1970: not checked.
	if s.Interface != 0 || s.Received != Count(6) || s.Dropped != Count(0) || s.Comment != "Counters provided by dumpcap" {
		t.Errorf("stats %+v", s)
	}
}

func TestOpenUnknownFormat(t *testing.T) {
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, `not a pcap or pcapng file (the input is empty)`},
		{"short", []byte{0xd4, 0xc3}, `not a pcap or pcapng file (only 2 bytes)`},
		{"zip", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"), `not a pcap or pcapng file (starts with "PK\x03\x04\x14\x00\x00\x00": a zip archive?)`},
		{"zstd", []byte("\x28\xb5\x2f\xfd\x00\x58\x61\x00"), `not a pcap or pcapng file (starts with "(\xb5/\xfd\x00Xa\x00": zstd-compressed: decompress it first (zstd -d))`},
		{"text", []byte("12:00:01.000 IP 10.0.0.1.80 > 10.0.0.2.5000: Flags [S]\n"), `not a pcap or pcapng file (starts with "12:00:01": looks like text, not a capture (tcpdump -w writes captures; tcpdump without -w prints text))`},
		{"binary", []byte{0, 1, 2, 3, 4, 5, 6, 7, 8}, `not a pcap or pcapng file (starts with "\x00\x01\x02\x03\x04\x05\x06\a")`},
		{"gzip text", gz([]byte("hello world, not a capture")), `not a pcap or pcapng file (starts with "hello wo" after gzip decompression: looks like text, not a capture (tcpdump -w writes captures; tcpdump without -w prints text))`},
		{"gzip empty", gz(nil), `not a pcap or pcapng file (empty after gzip decompression)`},
		{"pcap magic bad version", []byte("\xd4\xc3\xb2\xa1\x01\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04\x00\x01\x00\x00\x00"), `unsupported pcap version at offset 0: 1.4 (only 2.x exists)`},
		{"pcap header truncated", []byte("\xd4\xc3\xb2\xa1\x02\x00\x04\x00"), `truncated pcap file header at offset 0: need 24 bytes, have 8`},
		{"pcapng bad byte order", []byte("\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x01\x02\x03\x04"), `section header block with a bad byte-order magic at offset 0: 01 02 03 04`},
		{"pcapng truncated SHB", []byte("\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a\x01\x00"), `truncated section header block at offset 0: need 28 bytes, have 14`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(bytes.NewReader(tc.in))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Open error\n got %v\nwant %s", err, tc.want)
			}
			var fe *FormatError
			if strings.HasPrefix(tc.want, "not a") != errors.Is(err, ErrUnknownFormat) || strings.HasPrefix(tc.want, "not a") == errors.As(err, &fe) {
				t.Errorf("error %T does not wrap the right type", err)
			}
		})
	}
}

func TestOpenFile(t *testing.T) {
	r, err := OpenFile(filepath.Join("testdata", "lo.pcapng.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Compressed() {
		t.Error("Compressed() = false for a gzip file")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = OpenFile(filepath.Join("testdata", "gen.sh"))
	if want := "reading testdata/gen.sh: not a pcap or pcapng file"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("OpenFile(gen.sh) = %v, want prefix %q", err, want)
	}
}

var be = binary.BigEndian

// blockBuilder writes pcapng blocks in either byte order, for the block kinds no tool
// in the test setup writes (simple and obsolete packet blocks, big-endian sections,
// unusual timestamp resolutions).
type blockBuilder struct {
	order interface {
		AppendUint16([]byte, uint16) []byte
		AppendUint32([]byte, uint32) []byte
		AppendUint64([]byte, uint64) []byte
	}
	buf []byte
}

func (bb *blockBuilder) block(typ uint32, body []byte) {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	bb.buf = bb.order.AppendUint32(bb.buf, typ)
	bb.buf = bb.order.AppendUint32(bb.buf, n)
	bb.buf = append(bb.buf, body...)
	bb.buf = bb.order.AppendUint32(bb.buf, n)
}

func (bb *blockBuilder) opt(b []byte, code uint16, v []byte) []byte {
	b = bb.order.AppendUint16(b, code)
	b = bb.order.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func (bb *blockBuilder) shb() {
	b := bb.order.AppendUint32(nil, byteOrderMagic)
	b = bb.order.AppendUint16(b, 1)
	b = bb.order.AppendUint16(b, 0)
	b = bb.order.AppendUint64(b, ^uint64(0))
	bb.block(blockSHB, b)
}

func (bb *blockBuilder) idb(lt layers.LinkType, snap uint32, opts []byte) {
	b := bb.order.AppendUint16(nil, uint16(lt))
	b = bb.order.AppendUint16(b, 0)
	b = bb.order.AppendUint32(b, snap)
	bb.block(blockIDB, append(b, opts...))
}

func (bb *blockBuilder) ts(b []byte, ticks uint64) []byte {
	b = bb.order.AppendUint32(b, uint32(ticks>>32))
	return bb.order.AppendUint32(b, uint32(ticks))
}

func TestReadSyntheticPcapNG(t *testing.T) {
	for _, order := range []struct {
		name string
		bo   interface {
			AppendUint16([]byte, uint16) []byte
			AppendUint32([]byte, uint32) []byte
			AppendUint64([]byte, uint64) []byte
		}
	}{{"little-endian", le}, {"big-endian", be}} {
		t.Run(order.name, func(t *testing.T) {
			t.Parallel()
			bb := &blockBuilder{order: order.bo}
			payload := bytes.Repeat([]byte{0x45}, 60)
			bb.shb()
			// Interface 0: Ethernet, millisecond ticks, one hour of if_tsoffset.
			bb.idb(layers.LinkTypeEthernet, 0, bb.opt(bb.opt(bb.opt(nil, ifName, []byte("eth0\x00")), ifTsResol, []byte{3}), ifTsOffset, order.bo.AppendUint64(nil, 3600)))
			// An unknown block and a custom block must be skipped.
			bb.block(0x0bad, []byte("custom data"))
			bb.block(0x7f000123, nil)
			// Simple packet block on interface 0, snaplen 0: the packet's whole length.
			bb.block(blockSPB, append(order.bo.AppendUint32(nil, 60), payload...))
			// Interface 1: raw IP, 2^-20 s ticks, snaplen 40.
			bb.idb(layers.LinkTypeRaw, 40, bb.opt(bb.opt(nil, ifTsResol, []byte{0x80 | 20}), ifDescription, []byte("pod shop/checkout-1")))
			// Obsolete packet block on interface 1 with flags and a comment.
			opb := order.bo.AppendUint16(nil, 1)
			opb = order.bo.AppendUint16(opb, 0)
			opb = bb.ts(opb, 5<<20|1<<19) // 5.5 s
			opb = order.bo.AppendUint32(opb, 40)
			opb = order.bo.AppendUint32(opb, 60)
			opb = append(opb, payload[:40]...)
			opb = bb.opt(bb.opt(opb, epbFlags, order.bo.AppendUint32(nil, FlagOutbound)), optComment, []byte("hello"))
			bb.block(blockOPB, opb)
			// Name resolution: one IPv4, one IPv6 record, and an unknown record type.
			nrb := order.bo.AppendUint16(nil, nrbIPv4)
			nrb = order.bo.AppendUint16(nrb, 4+6+4)
			nrb = append(nrb, 10, 0, 0, 1, 'a', '.', 't', 'e', 's', 0, 'b', '.', 't', 0, 0, 0)
			nrb = order.bo.AppendUint16(nrb, 99)
			nrb = order.bo.AppendUint16(nrb, 1)
			nrb = append(nrb, 7, 0, 0, 0)
			nrb = order.bo.AppendUint16(nrb, nrbIPv6)
			nrb = order.bo.AppendUint16(nrb, 16+4)
			nrb = append(nrb, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'v', '6', 'x', 0)
			nrb = append(nrb, 0, 0, 0, 0)
			bb.block(blockNRB, nrb)
			// Enhanced packet block on interface 0 at 2000.25 s (ms ticks) + offset.
			epb := order.bo.AppendUint32(nil, 0)
			epb = bb.ts(epb, 2000250)
			epb = order.bo.AppendUint32(epb, 60)
			epb = order.bo.AppendUint32(epb, 1514)
			epb = append(epb, payload...)
			bb.block(blockEPB, epb)
			// Statistics for interface 1.
			isb := order.bo.AppendUint32(nil, 1)
			isb = bb.ts(isb, 6<<20)
			isb = bb.opt(isb, isbStartTime, bb.ts(nil, 1<<20))
			isb = bb.opt(isb, isbIfRecv, order.bo.AppendUint64(nil, 100))
			isb = bb.opt(isb, isbIfDrop, order.bo.AppendUint64(nil, 7))
			isb = bb.opt(isb, optEnd, nil)
			bb.block(blockISB, isb)
			// A second section with its own interface 0.
			bb.shb()
			bb.idb(layers.LinkTypeLinuxSLL2, 0, nil)
			epb = order.bo.AppendUint32(nil, 0)
			epb = bb.ts(epb, 3_000_000) // 3 s in the default microseconds
			epb = order.bo.AppendUint32(epb, 20)
			epb = order.bo.AppendUint32(epb, 20)
			epb = append(epb, payload[:20]...)
			bb.block(blockEPB, epb)

			r, res := readAll(t, bb.buf)
			if res.err != io.EOF {
				t.Fatalf("reading: %v", res.err)
			}
			want := []Packet{
				{Timestamp: time.Time{}, Interface: 0, CaptureLength: 60, Length: 60, Data: payload},
				{Timestamp: time.Unix(5, 5e8), Interface: 1, CaptureLength: 40, Length: 60, Data: payload[:40], Flags: FlagOutbound, Comment: "hello"},
				{Timestamp: time.Unix(3600+2000, 25e7), Interface: 0, CaptureLength: 60, Length: 1514, Data: payload},
				{Timestamp: time.Unix(3, 0), Interface: 2, CaptureLength: 20, Length: 20, Data: payload[:20]},
			}
			if len(res.pkts) != len(want) {
				t.Fatalf("%d packets, want %d", len(res.pkts), len(want))
			}
			for i := range want {
				if !equalPacket(res.pkts[i], want[i]) {
					t.Errorf("packet %d:\n got %+v\nwant %+v", i, res.pkts[i], want[i])
				}
			}
			ifs := fmt.Sprintf("%+v", res.ifaces)
			wantIfs := "[{LinkType:Ethernet Name:eth0 Description: SnapLen:0 TsResolution:1ms Filter: OS: Hardware:} " +
				"{LinkType:Raw Name: Description:pod shop/checkout-1 SnapLen:40 TsResolution:2^-20s Filter: OS: Hardware:} " +
				"{LinkType:Linux SLL2 Name: Description: SnapLen:0 TsResolution:1µs Filter: OS: Hardware:}]"
			if ifs != wantIfs {
				t.Errorf("interfaces\n got %s\nwant %s", ifs, wantIfs)
			}
			if got := fmt.Sprint(r.Names()); got != "[{10.0.0.1 [b.t a.tes]} {fd00::1 [v6x]}]" {
				t.Errorf("names %s", got)
			}
			st := r.Stats()
			if len(st) != 1 || st[0].Interface != 1 || !st[0].Timestamp.Equal(time.Unix(6, 0)) || !st[0].Start.Equal(time.Unix(1, 0)) ||
				st[0].Received != Count(100) || st[0].Dropped != Count(7) || st[0].OSDropped.Valid || !st[0].End.IsZero() {
				t.Errorf("stats %+v", st)
			}
			// tshark agrees on the packets that carry timestamps.
			// (It shows the custom and unknown blocks as records too: filter them out.)
			out := runTool(t, "tshark", "-r", writeTemp(t, "synthetic.pcapng", bb.buf), "-Y", "frame.cap_len >= 20",
				"-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len", "-e", "frame.comment")
			wantOut := "\t60\t60\t\n5.500000000\t60\t40\thello\n5600.250000000\t1514\t60\t\n3.000000000\t20\t20\t\n"
			if out != wantOut {
				t.Errorf("tshark reads\n%s\nwant\n%s", out, wantOut)
			}
		})
	}
}

func TestReadCorruptBlocks(t *testing.T) {
	base := func() *blockBuilder {
		bb := &blockBuilder{order: le}
		bb.shb()
		bb.idb(layers.LinkTypeEthernet, 0, nil)
		return bb
	}
	epb := func(iface, caplen uint32, data int) []byte {
		b := le.AppendUint32(nil, iface)
		b = le.AppendUint64(b, 0)
		b = le.AppendUint32(b, caplen)
		b = le.AppendUint32(b, caplen)
		return append(b, make([]byte, data)...)
	}
	// The broken block comes after SHB (28 bytes), IDB (20) and one good EPB (36): at 84.
	for _, tc := range []struct {
		name string
		add  func(bb *blockBuilder)
		want string
	}{
		{"unknown interface", func(bb *blockBuilder) { bb.block(blockEPB, epb(1, 4, 4)) },
			"corrupt enhanced packet block at offset 84: refers to interface 1, the section has 1"},
		{"caplen beyond block", func(bb *blockBuilder) { bb.block(blockEPB, epb(0, 100, 4)) },
			"corrupt enhanced packet block at offset 84: captured length 100 exceeds the block's 4 data bytes"},
		{"short EPB", func(bb *blockBuilder) { bb.block(blockEPB, []byte{1, 2, 3, 4}) },
			"corrupt enhanced packet block at offset 84: body of 4 bytes, need at least 20"},
		{"option overrun", func(bb *blockBuilder) {
			bb.block(blockEPB, append(epb(0, 4, 4), 1, 0, 200, 0))
		}, "corrupt enhanced packet block at offset 116: option 1 claims 200 bytes, 0 left in the block"},
		{"huge length", func(bb *blockBuilder) {
			bb.buf = le.AppendUint32(bb.buf, blockEPB)
			bb.buf = le.AppendUint32(bb.buf, 0xfffffff0)
		}, "corrupt enhanced packet block at offset 84: block length 4294967280 exceeds the 256 MiB limit"},
		{"odd length", func(bb *blockBuilder) {
			bb.buf = le.AppendUint32(bb.buf, blockEPB)
			bb.buf = le.AppendUint32(bb.buf, 33)
		}, "corrupt enhanced packet block at offset 84: block length 33 is not a multiple of 4"},
		{"tiny length", func(bb *blockBuilder) {
			bb.buf = le.AppendUint32(bb.buf, 0x77)
			bb.buf = le.AppendUint32(bb.buf, 8)
		}, "corrupt block of type 0x00000077 at offset 84: block length 8 is too small"},
		{"trailer mismatch", func(bb *blockBuilder) {
			bb.block(blockEPB, epb(0, 4, 4))
			bb.buf[len(bb.buf)-4]++
		}, "corrupt enhanced packet block at offset 84: block length 36 at the start but 37 at the end"},
		{"bad tsresol", func(bb *blockBuilder) { bb.idb(layers.LinkTypeEthernet, 0, bb.opt(nil, ifTsResol, []byte{20})) },
			"unsupported timestamp resolution at offset 84: if_tsresol 0x14"},
		{"version 2", func(bb *blockBuilder) {
			b := le.AppendUint32(nil, byteOrderMagic)
			b = le.AppendUint16(b, 2)
			b = le.AppendUint16(b, 0)
			bb.block(blockSHB, le.AppendUint64(b, 0))
		}, "unsupported pcapng version at offset 84: 2.0"},
		{"SPB without interface", func(bb *blockBuilder) {
			bb.shb()
			bb.block(blockSPB, le.AppendUint32(nil, 0))
		}, "corrupt simple packet block at offset 112: refers to interface 0, the section has 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bb := base()
			bb.block(blockEPB, epb(0, 4, 4)) // one good packet first
			tc.add(bb)
			_, res := readAll(t, bb.buf)
			var fe *FormatError
			if len(res.pkts) != 1 || !errors.As(res.err, &fe) || res.err.Error() != tc.want {
				t.Fatalf("got %d packets and %v\nwant 1 packet and %s", len(res.pkts), res.err, tc.want)
			}
		})
	}
}
