package dissect_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/protocols"
)

// FuzzPipeline feeds arbitrary frames, of every supported link type, through the
// whole pipeline with every dissector: it must never panic, and every entry must
// belong to a stream the pipeline reported.
func FuzzPipeline(f *testing.F) {
	// Seeds: a TCP SYN and an HTTP request on Ethernet, a DNS query on raw IP.
	eth := []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00}
	ip := []byte{0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0, 198, 18, 0, 2, 198, 18, 0, 1}
	tcp := []byte{0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0}
	http := append(append(append(append([]byte{}, eth...), ip...), tcp...), "GET / HTTP/1.1\r\nHost: x\r\n\r\n"...)
	binary.BigEndian.PutUint16(http[14+2:], uint16(len(http)-14))
	f.Add(http, uint8(0))
	udp := []byte{0x45, 0, 0, 40, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 0, 2, 198, 18, 0, 1, 0xc3, 0x50, 0, 53, 0, 20, 0, 0,
		0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}
	f.Add(udp, uint8(1))
	links := []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeRaw, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2, layers.LinkTypeNull}
	f.Fuzz(func(t *testing.T, data []byte, sel uint8) {
		streams := map[dissect.StreamID]bool{}
		var got []dissect.StreamID
		cfg := protocols.Config()
		p := dissect.New(cfg, func(e *dissect.Entry) { got = append(got, e.Stream) })
		lt := links[int(sel)%len(links)]
		ts := time.Unix(1700000000, 0)
		// The same bytes three times (a retransmission) and cut short once.
		for i, d := range [][]byte{data, data, data[:len(data)/2], data} {
			id := p.Packet(&dissect.Packet{Timestamp: ts.Add(time.Duration(i) * time.Millisecond), LinkType: lt, Data: d, Length: len(d)})
			if id != 0 {
				streams[id] = true
			}
		}
		p.Advance(ts.Add(time.Hour))
		p.Flush()
		for _, id := range got {
			if !streams[id] {
				t.Fatalf("entry of stream %d, which no packet belonged to", id)
			}
		}
	})
}
