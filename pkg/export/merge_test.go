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

// sliceSource serves packets from memory; err ends the stream (io.EOF if nil).
type sliceSource struct {
	ifaces []Interface
	pkts   []Packet
	err    error
	buf    []byte
}

func (s *sliceSource) Interfaces() []Interface { return s.ifaces }

func (s *sliceSource) Next() (Packet, error) {
	if len(s.pkts) == 0 {
		if s.err != nil {
			return Packet{}, s.err
		}
		return Packet{}, io.EOF
	}
	p := s.pkts[0]
	s.pkts = s.pkts[1:]
	// Reuse one buffer, like a Reader, so that keeping Data too long shows.
	s.buf = append(s.buf[:0], p.Data...)
	p.Data = s.buf
	return p, nil
}

func pkt(sec int, tag string) Packet {
	return Packet{Timestamp: time.Unix(int64(sec), 0), Data: []byte(tag), CaptureLength: len(tag), Length: len(tag)}
}

func drain(t *testing.T, src Source) ([]string, error) {
	t.Helper()
	var out []string
	for {
		p, err := src.Next()
		if err != nil {
			return out, err
		}
		out = append(out, fmt.Sprintf("%d:%s@%d", p.Interface, p.Data, p.Timestamp.Unix()))
	}
}

func TestMergeOrderAndStability(t *testing.T) {
	eth := []Interface{{LinkType: layers.LinkTypeEthernet, Name: "a"}}
	a := &sliceSource{ifaces: eth, pkts: []Packet{pkt(1, "a1"), pkt(2, "a2"), pkt(2, "a3"), pkt(5, "a4")}}
	b := &sliceSource{ifaces: []Interface{{Name: "b0"}, {Name: "b1"}}, pkts: []Packet{pkt(0, "b1"), pkt(2, "b2"), pkt(2, "b3"), pkt(9, "b4")}}
	b.pkts[1].Interface = 1
	c := &sliceSource{ifaces: eth}
	m := Merge(a, c, b)
	if got := len(m.Interfaces()); got != 4 {
		t.Fatalf("%d interfaces, want 4", got)
	}
	got, err := drain(t, m)
	// Interfaces: a's is 0, c's 1, b's 2 and 3. Equal timestamps: source order, then
	// the order within the source.
	want := "2:b1@0 0:a1@1 0:a2@2 0:a3@2 3:b2@2 2:b3@2 0:a4@5 2:b4@9"
	if err != io.EOF || strings.Join(got, " ") != want {
		t.Fatalf("merged %v (%v)\nwant   %s", got, err, want)
	}
	if _, err := m.Next(); err != io.EOF {
		t.Fatalf("Next after the end = %v", err)
	}
}

func TestMergeSourceError(t *testing.T) {
	boom := errors.New("connection reset")
	a := &sliceSource{ifaces: []Interface{{}}, pkts: []Packet{pkt(1, "a1"), pkt(3, "a2")}}
	b := &sliceSource{ifaces: []Interface{{}}, pkts: []Packet{pkt(2, "b1")}, err: boom}
	m := Merge(a, b)
	var got []string
	var errs []error
	for {
		p, err := m.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got = append(got, string(p.Data))
	}
	var se *SourceError
	if strings.Join(got, " ") != "a1 b1 a2" || len(errs) != 1 || !errors.As(errs[0], &se) || se.Source != 1 || !errors.Is(errs[0], boom) {
		t.Fatalf("got %v, errors %v", got, errs)
	}
	if errs[0].Error() != "source 1: connection reset" {
		t.Errorf("error text %q", errs[0])
	}
}

// Merging real captures: sorted output, every packet kept, statistics and names carried
// over with remapped interfaces; tshark and capinfos accept the result.
func TestMergeCaptures(t *testing.T) {
	// A source with names and statistics: an export written by PcapNGWriter.
	var named bytes.Buffer
	w, _ := NewPcapNGWriter(&named, PcapNGOptions{})
	w.AddInterface(Interface{LinkType: layers.LinkTypeRaw, Name: "named"})
	w.AddNameResolution(netip.MustParseAddr("10.0.0.1"), "client.test")
	_, raw := readAll(t, testdata(t, "raw.pcap"))
	for _, p := range raw.pkts {
		w.WritePacket(p)
	}
	w.WriteInterfaceStats(InterfaceStats{Interface: 0, Timestamp: raw.pkts[1].Timestamp, Received: Count(2), Dropped: Count(1)})
	w.Flush()
	namedR, err := Open(bytes.NewReader(named.Bytes()))
	if err != nil {
		t.Fatal(err)
	}

	names := []string{"lo.pcap", "merged.pcapng", "dumpcap.pcapng", "any-sll.pcap"}
	srcs := []Source{}
	total := 0
	for _, n := range names {
		srcs = append(srcs, open(t, n))
		_, res := readAll(t, testdata(t, n))
		total += len(res.pkts)
	}
	srcs = append(srcs, namedR)
	total += len(raw.pkts)
	m := Merge(srcs...)
	var out bytes.Buffer
	ng, _ := NewPcapNGWriter(&out, PcapNGOptions{})
	if err := Copy(ng, m); err != nil {
		t.Fatal(err)
	}
	r, res := readAll(t, out.Bytes())
	if res.err != io.EOF || len(res.pkts) != total {
		t.Fatalf("read %d packets (%v), want %d", len(res.pkts), res.err, total)
	}
	for i := 1; i < len(res.pkts); i++ {
		if res.pkts[i].Timestamp.Before(res.pkts[i-1].Timestamp) {
			t.Fatalf("packet %d is earlier than packet %d", i, i-1)
		}
	}
	var links []string
	for _, i := range res.ifaces {
		links = append(links, i.LinkType.String())
	}
	if got := strings.Join(links, ","); got != "Ethernet,Ethernet,Linux SLL2,Raw,Ethernet,Linux SLL,Raw" {
		t.Errorf("interfaces %s", got)
	}
	st := r.Stats()
	if len(st) != 2 || st[0].Interface != 4 || st[0].Received != Count(6) || st[1].Interface != 6 || st[1].Dropped != Count(1) {
		t.Errorf("stats %+v", st)
	}
	if got := fmt.Sprint(r.Names()); got != "[{10.0.0.1 [client.test]}]" {
		t.Errorf("names %s", got)
	}
	path := writeTemp(t, "merged.pcapng", out.Bytes())
	wantContains(t, "capinfos", capinfosCheck(t, path), fmt.Sprintf("Number of packets:   %d\n", total), "Strict time order:   True", "Number of interfaces in file: 7")
}
