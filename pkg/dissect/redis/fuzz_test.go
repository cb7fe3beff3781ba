package redis

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/internal/dissecttest"
)

// captureStreams returns, per TCP stream of testdata/redis.pcap, the bytes each side
// sent (index 0: to port 6379, 1: from it).
func captureStreams(t testing.TB) [][2][]byte {
	t.Helper()
	f, err := os.Open("testdata/redis.pcap")
	if err != nil {
		t.Fatalf("opening capture (testdata/gen.sh records it): %v", err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	index := map[uint16]int{}
	var streams [][2][]byte
	for {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.NoCopy)
		l := pkt.Layer(layers.LayerTypeTCP)
		if l == nil {
			continue
		}
		tcp := l.(*layers.TCP)
		port, dir := uint16(tcp.SrcPort), 0
		if tcp.SrcPort == 6379 {
			port, dir = uint16(tcp.DstPort), 1
		}
		i, ok := index[port]
		if !ok {
			i = len(streams)
			index[port] = i
			streams = append(streams, [2][]byte{})
		}
		streams[i][dir] = append(streams[i][dir], tcp.Payload...)
	}
	if len(streams) == 0 {
		t.Fatal("capture holds no stream")
	}
	return streams
}

func fuzzSeeds(f *testing.F) {
	for _, s := range captureStreams(f) {
		if len(s[0])+len(s[1]) > 4096 {
			continue // the 20 KB value: large seeds slow the fuzzer down for nothing
		}
		f.Add(s[0], s[1], uint64(len(s[0])))
	}
	client, server, _, _ := conversation()
	f.Add([]byte(client), []byte(server), uint64(0x9e3779b97f4a7c15))
	f.Add([]byte(cmd("CLIENT", "REPLY", "OFF")+cmd("SET", "a", "1")+cmd("CLIENT", "REPLY", "SKIP")+cmd("CLIENT", "REPLY", "ON")),
		[]byte("+OK\r\n+OK\r\n-ERR x\r\n"), uint64(3))
	f.Add([]byte(cmd("SUBSCRIBE", "a", "b")+"GET x\r\n"), []byte("*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n>2\r\n+x\r\n$?\r\n;1\r\na\r\n;0\r\n"), uint64(7))
}

// FuzzParser feeds a client and a server stream cut into chunks (some after gaps) as
// ctl says, and checks that nothing panics, entries are well formed and buffers stay
// bounded.
func FuzzParser(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, client, server []byte, ctl uint64) {
		var c collector
		p := Dissector.NewParser(c.Emit).(*parser)
		rng := ctl | 1
		data := [2][]byte{client, server}
		for len(data[0])+len(data[1]) > 0 {
			rng ^= rng << 13
			rng ^= rng >> 7
			rng ^= rng << 17
			side := dissect.Side(rng >> 8 & 1)
			if len(data[side]) == 0 {
				side = side.Other()
			}
			n := min(int(rng%211)+1, len(data[side]))
			ch := chunk(side, data[side][:n], at(int(rng>>16&0xff)))
			if rng>>24&0x1f == 0 {
				ch.Skipped = int(rng>>32&0xff) - 1
			}
			p.Feed(ch)
			data[side] = data[side][n:]
			for i := range p.dec {
				d := &p.dec[i]
				if len(d.v.text) > keepBulk || len(d.v.arena) > maxArena+keyedArgs*keyPrefix ||
					len(d.line) > keepLine || len(d.stack) > maxDepth {
					t.Fatalf("decoder %d keeps %d/%d/%d bytes, depth %d", i, len(d.v.text), len(d.v.arena), len(d.line), len(d.stack))
				}
			}
			if len(p.queue) > maxPending+1 {
				t.Fatalf("%d commands pending", len(p.queue))
			}
		}
		p.Close(at(1000))
		for _, e := range c.Entries {
			r := e.Redis
			if e.Protocol != dissect.ProtoRedis || r == nil || (!r.HasRequest && !r.HasResponse) {
				t.Fatalf("bad entry %+v", e)
			}
			if len(r.Command) > maxCommand || len(r.Key) > maxKey || r.RequestSize < 0 || r.ResponseSize < 0 ||
				// (A request may have an empty verb: Redis answers "unknown command ''".)
				!r.HasRequest && (r.Type != "" || r.Command != "" || r.RequestSize != 0) ||
				r.HasRequest && r.RequestSize == 0 ||
				!r.HasResponse && (r.Reply != "" || r.ResponseSize != 0) || e.Elapsed < 0 {
				t.Fatalf("bad entry %+v %+v", e, r)
			}
		}
	})
}

// decoded is a decoder's output, for comparing runs.
type decoded struct {
	Typ      byte
	Null     bool
	N        int64
	Text     string
	TextFull int64
	Args     string
	NArgs    int64
	Size     int64
}

func decodeAll(client bool, chunks [][]byte) (out []decoded, errs int) {
	d := decoder{client: client}
	d.onValue = func(v *value) {
		var args []string
		for _, a := range v.args {
			args = append(args, fmt.Sprintf("%c%d:%q", a.typ, a.full, v.arena[a.off:a.off+a.n]))
		}
		out = append(out, decoded{v.typ, v.null, v.n, string(v.text), v.textFull, strings.Join(args, ","), v.nargs, v.size})
	}
	d.onError = func(string) { errs++ }
	for _, b := range chunks {
		c := dissect.Chunk{Data: b}
		d.feed(&c, 0)
	}
	return out, errs
}

// FuzzDecoderChunking checks that the streaming decoder's output does not depend on
// how its input is cut, on both the client and the server grammar.
func FuzzDecoderChunking(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, a, b []byte, ctl uint64) {
		for i, data := range [][]byte{a, b} {
			client := i == 0
			whole, wholeErrs := decodeAll(client, [][]byte{data})
			var chunks [][]byte
			rng := ctl | 1
			for rest := data; len(rest) > 0; {
				rng ^= rng << 13
				rng ^= rng >> 7
				rng ^= rng << 17
				n := min(int(rng%37)+1, len(rest))
				chunks = append(chunks, rest[:n])
				rest = rest[n:]
			}
			cut, cutErrs := decodeAll(client, chunks)
			if !reflect.DeepEqual(whole, cut) || wholeErrs != cutErrs {
				t.Fatalf("client=%v: whole input gives %d errors %+v\nchunked gives %d errors %+v", client, wholeErrs, whole, cutErrs, cut)
			}
		}
	})
}

// BenchmarkPipelined measures 100 pipelined SET commands and their replies, each side
// in 1460-byte chunks.
func BenchmarkPipelined(b *testing.B) {
	var client, server strings.Builder
	for i := 0; i < 100; i++ {
		client.WriteString(cmd("SET", fmt.Sprintf("session:%08d", i), strings.Repeat("x", 64)))
		server.WriteString("+OK\r\n")
	}
	var chunks []dissect.Chunk
	for side, s := range []string{client.String(), server.String()} {
		for i := 0; i < len(s); i += 1460 {
			chunks = append(chunks, chunk(dissect.Side(side), []byte(s[i:min(i+1460, len(s))]), t0))
		}
	}
	p := Dissector.NewParser(func(*dissect.Entry, dissect.Side) {})
	b.SetBytes(int64(client.Len() + server.Len()))
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range chunks {
			p.Feed(c)
		}
	}
}

// BenchmarkLargeBulk measures streaming over a 1 MiB reply in 64 KiB chunks.
func BenchmarkLargeBulk(b *testing.B) {
	const size = 1 << 20
	req := []byte(cmd("GET", "big"))
	head := []byte(fmt.Sprintf("$%d\r\n", size))
	block := []byte(strings.Repeat("v", 64<<10))
	p := Dissector.NewParser(func(*dissect.Entry, dissect.Side) {})
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		p.Feed(chunk(C, req, t0))
		p.Feed(chunk(S, head, t0))
		for sent := 0; sent < size; sent += len(block) {
			p.Feed(chunk(S, block, t0))
		}
		p.Feed(chunk(S, []byte("\r\n"), t0))
	}
}

// BenchmarkReplay measures the whole pipeline (decode, reassembly, Redis) on the
// recorded capture.
func BenchmarkReplay(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = dissecttest.ReplayTCP(b, "testdata/redis.pcap", Dissector)
	}
}
