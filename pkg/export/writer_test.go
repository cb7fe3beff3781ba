package export

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// copyTo copies a fixture into a writer made by mk and returns the output.
func copyTo(t *testing.T, src Source, mk func(w io.Writer) (Writer, error)) ([]byte, Writer) {
	t.Helper()
	var buf bytes.Buffer
	w, err := mk(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := Copy(w, src); err != nil {
		t.Fatalf("Copy: %v", err)
	}
	return buf.Bytes(), w
}

func pcapng(w io.Writer) (Writer, error) {
	return NewPcapNGWriter(w, PcapNGOptions{Application: "kubectl-shark test"})
}

func pcapOf(lt layers.LinkType) func(w io.Writer) (Writer, error) {
	return func(w io.Writer) (Writer, error) { return NewPcapWriter(w, lt, 0) }
}

func open(t *testing.T, name string) *Reader {
	t.Helper()
	r, err := Open(bytes.NewReader(testdata(t, name)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tsharkView is what tshark sees of a file, one line per packet.
func tsharkView(t *testing.T, path string) string {
	return runTool(t, "tshark", "-r", path, "-T", "fields", "-e", "frame.interface_id",
		"-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len")
}

func ourView(pkts []Packet) string {
	var b strings.Builder
	for _, p := range pkts {
		fmt.Fprintf(&b, "%d\t%d.%09d\t%d\t%d\n", p.Interface, p.Timestamp.Unix(), p.Timestamp.Nanosecond(), p.Length, p.CaptureLength)
	}
	return b.String()
}

// capinfosCount checks capinfos reads a file without complaint and returns its packet
// and interface counts.
func capinfosCheck(t *testing.T, path string) string {
	return runTool(t, "capinfos", path)
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, got)
		}
	}
}

// Every fixture survives fixture → pcapng → read back, and single-link-type ones also
// → pcap → read back; tshark, capinfos and tcpdump read the outputs without complaint.
func TestRoundTrip(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			_, orig := readAll(t, testdata(t, f.name))
			ng, w := copyTo(t, open(t, f.name), pcapng)
			if s := w.Summary(); s.Packets != int64(len(orig.pkts)) {
				t.Errorf("summary counts %d packets, want %d", s.Packets, len(orig.pkts))
			}
			r, back := readAll(t, ng)
			if back.err != io.EOF {
				t.Fatalf("reading back: %v", back.err)
			}
			if r.Format() != FormatPcapNG {
				t.Errorf("format %v", r.Format())
			}
			comparePackets(t, back.pkts, orig.pkts, false)
			if len(back.ifaces) != len(orig.ifaces) {
				t.Fatalf("%d interfaces, want %d", len(back.ifaces), len(orig.ifaces))
			}
			for i, want := range orig.ifaces {
				want.TsResolution = TsNanoseconds
				if back.ifaces[i] != want {
					t.Errorf("interface %d:\n got %+v\nwant %+v", i, back.ifaces[i], want)
				}
			}
			if len(f.links) != 1 {
				return
			}
			pc, _ := copyTo(t, open(t, f.name), pcapOf(f.links[0]))
			r, back = readAll(t, pc)
			if back.err != io.EOF || r.Format() != FormatPcap {
				t.Fatalf("reading pcap back: %v", back.err)
			}
			comparePackets(t, back.pkts, orig.pkts, true)
		})
	}
	// External tools on a representative subset (they take a second each).
	for _, name := range []string{"lo.pcap", "any-sll2.pcap", "raw.pcap", "sections.pcapng"} {
		t.Run("tools/"+name, func(t *testing.T) {
			t.Parallel()
			_, orig := readAll(t, testdata(t, name))
			ng, _ := copyTo(t, open(t, name), pcapng)
			path := writeTemp(t, "out.pcapng", ng)
			if got, want := tsharkView(t, path), ourView(orig.pkts); got != want && !strings.Contains(name, "sections") {
				t.Errorf("tshark sees\n%s\nwant\n%s", got, want)
			}
			wantContains(t, "capinfos", capinfosCheck(t, path), fmt.Sprintf("Number of packets:   %d\n", len(orig.pkts)))
			if len(orig.ifaces) == 1 {
				out := runTool(t, "tcpdump", "-n", "-r", path)
				if n := strings.Count(out, "\n"); n != len(orig.pkts) {
					t.Errorf("tcpdump reads %d packets, want %d", n, len(orig.pkts))
				}
				pc, _ := copyTo(t, open(t, name), pcapOf(orig.ifaces[0].LinkType))
				pcPath := writeTemp(t, "out.pcap", pc)
				if got, want := tsharkView(t, pcPath), strings.ReplaceAll("\n"+ourView(orig.pkts), "\n0\t", "\n\t")[1:]; got != want {
					t.Errorf("tshark sees pcap\n%s\nwant\n%s", got, want)
				}
				wantContains(t, "capinfos", capinfosCheck(t, pcPath), "nanoseconds (9)", fmt.Sprintf("Number of packets:   %d\n", len(orig.pkts)))
			}
		})
	}
}

func comparePackets(t *testing.T, got, want []Packet, pcap bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d packets, want %d", len(got), len(want))
	}
	for i := range want {
		w := want[i]
		if pcap {
			w.Interface, w.Flags, w.Comment = 0, 0, ""
		}
		if !equalPacket(got[i], w) {
			t.Fatalf("packet %d:\n got %+v\nwant %+v", i, got[i], w)
		}
	}
}

// TestPcapNGWriterExport builds an export like kubectl-shark's: one interface per
// target container with three link types, names for pod IPs, comments, directions and
// statistics; then checks what tshark and capinfos make of it.
func TestPcapNGWriterExport(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewPcapNGWriter(&buf, PcapNGOptions{Application: "kubectl-shark v0.1.0", OS: "Linux", Comment: "capture checkout"})
	if err != nil {
		t.Fatal(err)
	}
	ifaces := []Interface{
		{LinkType: layers.LinkTypeEthernet, Name: "shop/checkout-1/app", Description: "pod shop/checkout-1 container app on node kind-worker", SnapLen: 262144, Filter: "tcp port 80", OS: "Linux 6.1"},
		{LinkType: layers.LinkTypeLinuxSLL2, Name: "shop/checkout-2/app", Description: "pod shop/checkout-2 on node kind-worker2", SnapLen: 262144},
		{LinkType: layers.LinkTypeRaw, Name: "shop/redis-0/redis", SnapLen: 65535},
	}
	for i, iface := range ifaces {
		if idx, err := w.AddInterface(iface); err != nil || idx != i {
			t.Fatalf("AddInterface = %d, %v", idx, err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.AddNameResolution(netip.MustParseAddr("127.0.0.1"), "checkout-1.shop.pod", "checkout.shop.svc.cluster.local"))
	must(w.AddNameResolution(netip.MustParseAddr("::ffff:127.0.0.1"), "checkout-1.shop.pod")) // duplicate: dropped
	var all []Packet
	for i, name := range []string{"lo.pcap", "any-sll2.pcap", "raw.pcap"} {
		_, res := readAll(t, testdata(t, name))
		for j, p := range res.pkts {
			p.Interface = i
			if j == 0 {
				p.Comment = "first packet of " + name
			}
			p.Flags = FlagInbound
			if j%2 == 1 {
				p.Flags = FlagOutbound
			}
			all = append(all, p)
		}
	}
	for i, p := range all {
		if i == 5 {
			must(w.AddNameResolution(netip.MustParseAddr("10.99.0.2"), "web.shop.pod"))
			must(w.AddNameResolution(netip.MustParseAddr("fd00:99::2"), "web.shop.pod"))
		}
		must(w.WritePacket(p))
	}
	first, last := all[0].Timestamp, all[len(all)-1].Timestamp
	must(w.WriteInterfaceStats(InterfaceStats{Interface: 0, Timestamp: last, Start: first, End: last,
		Received: Count(1000), Dropped: Count(3), OSDropped: Count(0), Comment: "ring drops"}))
	must(w.WriteInterfaceStats(InterfaceStats{Interface: 2, Timestamp: last, Received: Count(2), Dropped: Count(0)}))
	must(w.Flush())

	// Our reader sees everything.
	r, res := readAll(t, buf.Bytes())
	if res.err != io.EOF {
		t.Fatal(res.err)
	}
	comparePackets(t, res.pkts, all, false)
	for i := range ifaces {
		want := ifaces[i]
		want.TsResolution = TsNanoseconds
		if res.ifaces[i] != want {
			t.Errorf("interface %d:\n got %+v\nwant %+v", i, res.ifaces[i], want)
		}
	}
	if got, want := fmt.Sprint(r.Names()), "[{127.0.0.1 [checkout-1.shop.pod checkout.shop.svc.cluster.local]} {10.99.0.2 [web.shop.pod]} {fd00:99::2 [web.shop.pod]}]"; got != want {
		t.Errorf("names\n got %s\nwant %s", got, want)
	}
	st := r.Stats()
	if len(st) != 2 || st[0].Dropped != Count(3) || !st[0].Start.Equal(first) || !st[0].Timestamp.Equal(last) ||
		st[0].OSDropped != Count(0) || st[0].FilterAccepted.Valid || st[0].Comment != "ring drops" || st[1].Interface != 2 {
		t.Errorf("stats %+v", st)
	}

	path := writeTemp(t, "export.pcapng", buf.Bytes())
	ci := capinfosCheck(t, path)
	wantContains(t, "capinfos", ci,
		fmt.Sprintf("Number of packets:   %d\n", len(all)),
		"Number of interfaces in file: 3",
		"Name = shop/checkout-1/app", "Description = pod shop/checkout-1 container app on node kind-worker",
		"Encapsulation = Linux cooked-mode capture v2", "Encapsulation = Raw IP",
		"Capture length = 65535", "Time precision = nanoseconds (9)", "Filter string = tcp port 80",
		"Operating system = Linux 6.1", "Number of stat entries = 1", "Capture application: kubectl-shark v0.1.0",
		"Capture comment:     capture checkout")
	out := runTool(t, "tshark", "-r", path, "-N", "n", "-T", "fields", "-E", "occurrence=f",
		"-e", "frame.interface_name", "-e", "frame.packet_flags_direction", "-e", "frame.comment", "-e", "ip.src_host", "-e", "ipv6.dst_host")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(all) {
		t.Fatalf("tshark shows %d packets, want %d", len(lines), len(all))
	}
	wantContains(t, "tshark packet 0", lines[0], "shop/checkout-1/app\t0x00000001\tfirst packet of lo.pcap\tcheckout-1.shop.pod")
	wantContains(t, "tshark packet 1", lines[1], "shop/checkout-1/app\t0x00000002\t\tcheckout-1.shop.pod")
	wantContains(t, "tshark", out, "shop/redis-0/redis", "web.shop.pod")
}

func TestPcapWriterLinkTypes(t *testing.T) {
	// One link type: several interfaces share a pcap file.
	m := Merge(open(t, "lo.pcap"), open(t, "eth.pcap"))
	out, w := copyTo(t, m, pcapOf(layers.LinkTypeEthernet))
	if w.Summary().Packets != 38+30 {
		t.Errorf("wrote %d packets", w.Summary().Packets)
	}
	wantContains(t, "capinfos", capinfosCheck(t, writeTemp(t, "two.pcap", out)), "Number of packets:   68\n")
	// Several: a clear error.
	var buf bytes.Buffer
	pw, _ := NewPcapWriter(&buf, layers.LinkTypeEthernet, 0)
	err := Copy(pw, open(t, "merged.pcapng"))
	want := `adding interface 1 ("") to a pcap file: its link type is Linux SLL2 but the file's is Ethernet, and a pcap file holds one link type (write pcapng instead)`
	if err == nil || err.Error() != want {
		t.Fatalf("Copy = %v\nwant %s", err, want)
	}
}

func TestWriterErrors(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewPcapNGWriter(&buf, PcapNGOptions{})
	pw, _ := NewPcapWriter(&buf, layers.LinkTypeRaw, 0)
	if _, err := pw.AddInterface(Interface{LinkType: layers.LinkTypeRaw}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{w.WritePacket(Packet{Interface: 0, Timestamp: time.Unix(1, 0)}), "writing packet: interface 0 was not added (the writer has 0)"},
		{w.WriteInterfaceStats(InterfaceStats{Interface: 3}), "writing interface statistics: interface 3 was not added (the writer has 0)"},
		{func() error { w.AddInterface(Interface{}); return w.WritePacket(Packet{Timestamp: time.Unix(-1, 0)}) }(), "writing packet: timestamp 1969-12-31T23:59:59Z is outside 1970..2554"},
		{w.AddNameResolution(netip.Addr{}, "x"), "adding name resolution: invalid address"},
		{w.AddNameResolution(netip.MustParseAddr("10.0.0.1"), "a\x00b"), `adding name resolution for 10.0.0.1: invalid name "a\x00b"`},
		{func() error { _, err := w.AddInterface(Interface{SnapLen: -1}); return err }(), `adding interface "": invalid snapshot length -1`},
		{pw.WritePacket(Packet{Interface: 1}), "writing packet: interface 1 was not added (the writer has 1)"},
		{pw.WritePacket(Packet{Timestamp: time.Unix(1<<32, 0)}), "writing packet: timestamp 2106-02-07 06:28:16 +0000 UTC does not fit a pcap file (1970..2106)"},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("error %v\nwant  %s", tc.err, tc.want)
		}
	}
	// Write errors stick.
	fw, _ := NewPcapNGWriter(failWriter{}, PcapNGOptions{})
	if err := fw.Flush(); err == nil || !errors.Is(err, errFail) {
		t.Fatalf("Flush = %v", err)
	}
	if _, err := fw.AddInterface(Interface{}); !errors.Is(err, errFail) {
		t.Fatalf("AddInterface after a failed write = %v", err)
	}
}

var errFail = errors.New("disk full")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errFail }

// Packets longer than the snapshot length are cut to it, as a capture would.
func TestWriterSnapLen(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewPcapNGWriter(&buf, PcapNGOptions{})
	w.AddInterface(Interface{LinkType: layers.LinkTypeRaw, SnapLen: 10})
	w.WritePacket(Packet{Timestamp: time.Unix(10, 0), Data: make([]byte, 30), Length: 20})
	w.Flush()
	_, res := readAll(t, buf.Bytes())
	if p := res.pkts[0]; p.CaptureLength != 10 || p.Length != 30 {
		t.Fatalf("got caplen %d, len %d; want 10, 30", p.CaptureLength, p.Length)
	}
}
