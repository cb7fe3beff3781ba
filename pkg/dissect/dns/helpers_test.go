package dns

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

// fromTcpdumpX returns the bytes of a `tcpdump -X` hex dump (the lines that start
// with an 0xNNNN: offset; other lines are ignored).
func fromTcpdumpX(t testing.TB, dump string) []byte {
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

// l4Payload returns the UDP or TCP payload of an IPv4 packet.
func l4Payload(t testing.TB, ip []byte) []byte {
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

// collector records emitted entries with the client side the parser reported.
type collector struct {
	entries []*dissect.Entry
	clients []dissect.Side
}

func (c *collector) emit(e *dissect.Entry, client dissect.Side) {
	c.entries = append(c.entries, e)
	c.clients = append(c.clients, client)
}

var t0 = time.Date(2026, 3, 14, 22, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// chunk builds a Chunk whose bytes all carry time ts.
func chunk(side dissect.Side, data []byte, ts time.Time) dissect.Chunk {
	return dissect.Chunk{Side: side, Data: data, Time: func(int) time.Time { return ts }}
}

// frame prefixes a DNS message with its TCP length.
func frame(msg []byte) []byte {
	return append([]byte{byte(len(msg) >> 8), byte(len(msg))}, msg...)
}
