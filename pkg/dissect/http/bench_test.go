package http_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	nethttp "net/http"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/http"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/internal/dissecttest"
)

// benchConversation builds one keep-alive connection of n exchanges with browser-like
// headers; bodies alternate between Content-Length and chunked, of size body. The
// data is cut into 1448-byte segments (a typical MSS), as the pipeline would feed it.
func benchConversation(n, body int) ([]dissect.Chunk, int) {
	reqHdr := "Host: shop.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
		"Accept-Language: en-US,en;q=0.5\r\n" +
		"Accept-Encoding: gzip, deflate, br\r\n" +
		"Cookie: session=0123456789abcdef; theme=dark; consent=yes\r\n" +
		"Connection: keep-alive\r\n" +
		"Traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n"
	respHdr := "Server: nginx\r\n" +
		"Date: Sat, 14 Mar 2026 22:00:00 GMT\r\n" +
		"Content-Type: application/json\r\n" +
		"Cache-Control: no-store\r\n" +
		"Set-Cookie: session=0123456789abcdef; Path=/; HttpOnly\r\n" +
		"X-Request-Id: 9f1c2b7e-5d2a-4f61-8a0b-3c9e7d6f5a41\r\n"
	payload := strings.Repeat("x", body)
	var chunks []dissect.Chunk
	total := 0
	add := func(side dissect.Side, msg string) {
		for len(msg) > 0 {
			n := min(len(msg), 1448)
			chunks = append(chunks, dissect.Chunk{Side: side, Data: []byte(msg[:n])})
			total += n
			msg = msg[n:]
		}
	}
	for i := 0; i < n; i++ {
		add(dissect.SideA, fmt.Sprintf("GET /api/items/%d?page=%d&sort=name HTTP/1.1\r\n", i, i%7)+reqHdr)
		if i%2 == 0 {
			add(dissect.SideB, fmt.Sprintf("HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s", respHdr, body, payload))
		} else {
			var b strings.Builder
			fmt.Fprintf(&b, "HTTP/1.1 200 OK\r\n%sTransfer-Encoding: chunked\r\n\r\n", respHdr)
			for rest := payload; len(rest) > 0; {
				k := min(len(rest), 4096)
				fmt.Fprintf(&b, "%x\r\n%s\r\n", k, rest[:k])
				rest = rest[k:]
			}
			b.WriteString("0\r\n\r\n")
			add(dissect.SideB, b.String())
		}
	}
	return chunks, total
}

func benchParser(b *testing.B, exchanges, body int) {
	chunks, total := benchConversation(exchanges, body)
	now := time.Unix(1773525600, 0)
	clock := func(int) time.Time { return now }
	for i := range chunks {
		chunks[i].Time = clock
	}
	entries := 0
	emit := func(*dissect.Entry, dissect.Side) { entries++ }
	b.SetBytes(int64(total))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p := http.Dissector.NewParser(emit)
		for _, c := range chunks {
			p.Feed(c)
		}
		p.Close(now)
	}
	b.StopTimer()
	if entries != exchanges*b.N {
		b.Fatalf("%d entries, want %d", entries, exchanges*b.N)
	}
	b.ReportMetric(float64(entries)/b.Elapsed().Seconds(), "exchanges/s")
}

// BenchmarkParser measures one keep-alive connection of 100 exchanges. Compare with
// BenchmarkNetHTTP, the standard library reading the same bytes: absolute numbers
// depend on the machine, the ratio much less.
func BenchmarkParser(b *testing.B) {
	b.Run("body=64", func(b *testing.B) { benchParser(b, 100, 64) })        // header-bound
	b.Run("body=16KiB", func(b *testing.B) { benchParser(b, 100, 16<<10) }) // body-bound
}

// BenchmarkNetHTTP is the baseline of BenchmarkParser: net/http's ReadRequest and
// ReadResponse (bodies read and discarded) on the same two byte streams, which have
// the advantage of being pre-separated by direction.
func BenchmarkNetHTTP(b *testing.B) {
	bench := func(b *testing.B, exchanges, body int) {
		chunks, total := benchConversation(exchanges, body)
		var streams [2][]byte
		for _, c := range chunks {
			streams[c.Side] = append(streams[c.Side], c.Data...)
		}
		b.SetBytes(int64(total))
		b.ReportAllocs()
		for b.Loop() {
			reqs := bufio.NewReader(bytes.NewReader(streams[dissect.SideA]))
			resps := bufio.NewReader(bytes.NewReader(streams[dissect.SideB]))
			for i := 0; i < exchanges; i++ {
				req, err := nethttp.ReadRequest(reqs)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, req.Body)
				resp, err := nethttp.ReadResponse(resps, req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Cookies()
				_ = req.Cookies()
				_ = req.URL.Query()
			}
		}
	}
	b.Run("body=64", func(b *testing.B) { bench(b, 100, 64) })
	b.Run("body=16KiB", func(b *testing.B) { bench(b, 100, 16<<10) })
}

// BenchmarkReplay measures the whole pipeline (decoding, reassembly, HTTP) on the
// nginx capture.
func BenchmarkReplay(b *testing.B) {
	var size int64
	entries, _ := dissecttest.ReplayTCP(b, "testdata/nginx.pcap", http.Dissector)
	for _, e := range entries {
		h := e.HTTP
		size += int64(h.Request.HeadersSize + h.Request.BodySize + h.Response.HeadersSize + h.Response.BodySize)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		dissecttest.ReplayTCP(b, "testdata/nginx.pcap", http.Dissector)
	}
}
