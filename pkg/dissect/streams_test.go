package dissect_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/internal/dissecttest"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/protocols"
	"github.com/kubectl-shark/kubectl-shark/pkg/export"
)

// StreamCounter numbers the streams of the test captures exactly as a dissecting
// Pipeline does.
func TestStreamCounterMatchesPipeline(t *testing.T) {
	var paths []string
	for _, pat := range []string{"*/testdata/*.pcap", "*/testdata/*.pcapng", "../export/testdata/*.pcap", "../export/testdata/*.pcapng"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if len(paths) < 10 {
		t.Fatalf("found only %d captures: %v", len(paths), paths)
	}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, err := export.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			p := dissect.New(protocols.Config(), func(*dissect.Entry) {})
			c := dissect.NewStreamCounter()
			n := 0
			for ; ; n++ {
				rp, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				lt := layers.LinkTypeNull
				if ifaces := r.Interfaces(); rp.Interface < len(ifaces) {
					lt = ifaces[rp.Interface].LinkType
				}
				want := p.Packet(&dissect.Packet{Timestamp: rp.Timestamp, LinkType: lt, Interface: rp.Interface, Data: rp.Data, Length: rp.Length})
				if got := c.Packet(lt, rp.Timestamp, rp.Data); got != uint64(want) {
					t.Fatalf("packet %d: stream %d, the pipeline says %d", n+1, got, want)
				}
			}
			st := p.Stats()
			if got, want := c.Streams(), int(st.TCPStreams+st.UDPStreams); got != want {
				t.Errorf("%d streams, the pipeline counts %d", got, want)
			}
			if n == 0 {
				t.Errorf("no packets")
			}
		})
	}
}

// The rules that split one 5-tuple into several streams, as the Pipeline applies them.
func TestStreamCounterSplits(t *testing.T) {
	t0 := dissecttest.T0
	a := []byte{10, 0, 0, 1}
	b := []byte{10, 0, 0, 2}
	const fin, syn, rst, ack = 0x01, 0x02, 0x04, 0x10
	steps := []struct {
		ms    int
		frame []byte
		want  uint64
	}{
		{0, tcp(a, b, 1000, 80, syn), 1},
		{1, tcp(b, a, 80, 1000, syn|ack), 1},
		{2, tcp(a, b, 1000, 80, fin|ack), 1},
		{3, tcp(b, a, 80, 1000, fin|ack), 1},
		{4, tcp(a, b, 1000, 80, ack), 1}, // the last ACK, within the linger
		{5, tcp(a, b, 1000, 80, syn), 2}, // port reuse
		{6, tcp(a, b, 1000, 80, rst), 2}, // closed by RST
		// More than a second after the close: still stream 2 until the sweep this
		// packet triggers finalizes it.
		{1100, tcp(b, a, 80, 1000, ack), 2},
		{1200, tcp(b, a, 80, 1000, ack), 3},
		{2000, udp(a, b, 5353, 53), 4},
		{31_000, udp(b, a, 53, 5353), 4}, // idle 29s
		{61_000, udp(a, a, 1, 2), 5},     // another 5-tuple; its sweep finalizes stream 4 (idle 30s)
		{61_500, udp(a, b, 5353, 53), 6}, // so this is a new stream
		{62_000, []byte{0x45}, 0},        // undecodable
		{62_000, udp(a, b, 5353, 53), 6},
	}
	c := dissect.NewStreamCounter()
	p := dissect.New(dissect.Config{}, func(*dissect.Entry) {})
	for i, s := range steps {
		ts := t0.Add(time.Duration(s.ms) * time.Millisecond)
		pid := p.Packet(&dissect.Packet{Timestamp: ts, LinkType: layers.LinkTypeIPv4, Data: s.frame, Length: len(s.frame)})
		if got := c.Packet(layers.LinkTypeIPv4, ts, s.frame); got != s.want || uint64(pid) != s.want {
			t.Errorf("step %d: stream %d, the pipeline says %d, want %d", i, got, pid, s.want)
		}
	}
	if got := c.Streams(); got != 6 {
		t.Errorf("%d streams, want 6", got)
	}
}

func ipv4(src, dst []byte, proto byte, l4 []byte) []byte {
	h := []byte{0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0}
	n := 20 + len(l4)
	h[2], h[3] = byte(n>>8), byte(n)
	h = append(h, src...)
	h = append(h, dst...)
	return append(h, l4...)
}

func tcp(src, dst []byte, sp, dp uint16, flags byte) []byte {
	l4 := []byte{byte(sp >> 8), byte(sp), byte(dp >> 8), byte(dp), 0, 0, 0, 1, 0, 0, 0, 0, 5 << 4, flags, 0xff, 0xff, 0, 0, 0, 0}
	return ipv4(src, dst, 6, l4)
}

func udp(src, dst []byte, sp, dp uint16) []byte {
	l4 := []byte{byte(sp >> 8), byte(sp), byte(dp >> 8), byte(dp), 0, 9, 0, 0, 'x'}
	return ipv4(src, dst, 17, l4)
}
