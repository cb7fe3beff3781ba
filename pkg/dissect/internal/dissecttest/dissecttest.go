// Package dissecttest holds what the dissectors' tests share: turning `tcpdump -X`
// text into bytes, building chunks, replaying a capture file through a pipeline,
// golden files (-update rewrites them), and scripts of chunks to feed a parser whole,
// cut short, split or re-chunked, or encoded as fuzz input. It is imported by tests
// only.
package dissecttest

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

// FromTcpdumpX returns the bytes of a `tcpdump -X` hex dump (the lines that start
// with an 0xNNNN: offset; other lines are ignored).
func FromTcpdumpX(t testing.TB, dump string) []byte {
	t.Helper()
	var out []byte
	for _, line := range strings.Split(dump, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "0x") {
			continue
		}
		_, rest, ok := strings.Cut(line, ":  ")
		if !ok {
			t.Fatalf("bad tcpdump -X line %q", line)
		}
		hexPart, _, _ := strings.Cut(rest, "  ")
		b, err := hex.DecodeString(strings.ReplaceAll(hexPart, " ", ""))
		if err != nil {
			t.Fatalf("bad tcpdump -X line %q: %v", line, err)
		}
		out = append(out, b...)
	}
	return out
}

// L4Payload returns the UDP or TCP payload of an IPv4 packet.
func L4Payload(t testing.TB, ip []byte) []byte {
	t.Helper()
	if len(ip) < 20 || ip[0]>>4 != 4 {
		t.Fatalf("not an IPv4 packet")
	}
	off := int(ip[0]&0xf) * 4
	switch ip[9] {
	case 17:
		return ip[off+8:]
	case 6:
		return ip[off+int(ip[off+12]>>4)*4:]
	}
	t.Fatalf("IP protocol %d", ip[9])
	return nil
}

// T0 is the base time of hand-built chunks.
var T0 = time.Date(2026, 3, 14, 22, 0, 0, 0, time.UTC)

// At is T0 plus ms milliseconds.
func At(ms int) time.Time { return T0.Add(time.Duration(ms) * time.Millisecond) }

// Chunk builds a Chunk whose bytes all carry time ts.
func Chunk(side dissect.Side, data []byte, ts time.Time) dissect.Chunk {
	return dissect.Chunk{Side: side, Data: data, Time: func(int) time.Time { return ts }}
}

// packetReader is what pcapgo's pcap and pcapng readers have in common.
type packetReader interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
}

// Replay runs a pcap or pcapng file through a pipeline with cfg and returns the
// entries and the pipeline's counters.
func Replay(t testing.TB, path string, cfg dissect.Config) ([]*dissect.Entry, dissect.Stats) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("opening capture (testdata/gen.sh records it): %v", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	magic, _ := br.Peek(4)
	var r packetReader
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) { // pcapng section header block
		r, err = pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
	} else {
		r, err = pcapgo.NewReader(br)
	}
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	var entries []*dissect.Entry
	p := dissect.New(cfg, func(e *dissect.Entry) { entries = append(entries, e) })
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		p.Packet(&dissect.Packet{Timestamp: ci.Timestamp, LinkType: r.LinkType(), Interface: ci.InterfaceIndex, Data: data, Length: ci.Length})
	}
	p.Flush()
	return entries, p.Stats()
}

// ReplayTCP runs a pcap or pcapng file through a pipeline with the TCP dissector d
// only.
func ReplayTCP(t testing.TB, path string, d dissect.TCPDissector) ([]*dissect.Entry, dissect.Stats) {
	t.Helper()
	return Replay(t, path, dissect.Config{TCP: []dissect.TCPDissector{d}})
}
