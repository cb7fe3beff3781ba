// Command gen writes reproducible synthetic captures for `make bench` (hack/bench/run.sh)
// and prints what they hold, so that kubectl-shark and tshark can both be checked
// against known counts.
//
//	go run ./hack/bench/gen -kind http  -size 100M -o http.pcapng -counts http.json
//	go run ./hack/bench/gen -kind dns   -size 20M  -o dns.pcapng  -counts dns.json
//	go run ./hack/bench/gen -kind redis -size 20M  -o redis.pcapng -counts redis.json
//
// Every packet is a complete Ethernet/IPv4/TCP or UDP frame with valid checksums.
// TCP connections have a full three-way handshake, correct sequence and
// acknowledgement numbers, delayed ACKs from the receiver, MSS-sized segments and a FIN
// close (by the server for one-request "Connection: close" connections, by the client
// for keep-alive ones). Many connections are open at once and their packets are
// interleaved in timestamp order, as on a busy server; timestamps advance with
// realistic round-trip times (0.1-0.5 ms) and server think times (0.1-50 ms).
//
// The output depends only on -kind, -size and -seed. Addresses are in 198.18.0.0/15
// (clients 198.18.x.y, servers 198.19.0.z).
//
// HTTP: 70% of connections are keep-alive (2-60 requests, the client closes), 30% carry
// one request with "Connection: close" (the server closes). Responses: 200 (10% of them
// chunked), 201 for POST, 204, 304, 404, and 500 (clustered: a quarter of the requests
// of 8% of the connections, 0.3% of the others); some HEAD requests. A chunked body
// never ends in a segment holding only part of its terminator: tshark 4.0 loses such
// responses (it reports a malformed packet), and the counts must agree. Bodies are
// mostly small, some tens of KB, a few up to 500 KB.
//
// DNS: UDP queries and responses (A, AAAA, MX, TXT, CNAME chains, NXDOMAIN, SERVFAIL);
// 40% of lookups send A and AAAA from the same socket at once, with different IDs.
//
// Redis: long-lived client connections sending one RESP command at a time (GET, SET,
// DEL, HGET, HSET, INCR, EXPIRE, LPUSH, LRANGE, MGET) with realistic replies, including
// bulk strings larger than one segment.
package main

import (
	"bufio"
	"container/heap"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/kubectl-shark/kubectl-shark/pkg/export"
)

const mss = 1460

// Counts is what a generated file holds. The JSON keys are what run.sh reads.
type Counts struct {
	Kind        string `json:"kind"`
	Seed        int64  `json:"seed"`
	Packets     int64  `json:"packets"`
	PacketBytes int64  `json:"packetBytes"` // sum of frame lengths
	FileBytes   int64  `json:"fileBytes"`
	Connections int64  `json:"connections"` // TCP connections (HTTP, Redis)

	// HTTP
	Pairs             int64            `json:"pairs,omitempty"` // request/response pairs
	Status500         int64            `json:"status500,omitempty"`
	Streams500        int64            `json:"streams500,omitempty"`        // connections holding at least one 500
	Packets500Streams int64            `json:"packets500Streams,omitempty"` // packets of those connections
	KeepAliveConns    int64            `json:"keepAliveConns,omitempty"`
	OneShotConns      int64            `json:"oneShotConns,omitempty"`
	Chunked           int64            `json:"chunked,omitempty"`
	Statuses          map[string]int64 `json:"statuses,omitempty"`
	Methods           map[string]int64 `json:"methods,omitempty"`

	// DNS
	Exchanges int64            `json:"exchanges,omitempty"`
	NXDomain  int64            `json:"nxdomain,omitempty"`
	ServFail  int64            `json:"servfail,omitempty"`
	QTypes    map[string]int64 `json:"qtypes,omitempty"`

	// Redis
	Commands int64            `json:"commands,omitempty"`
	Del      int64            `json:"del,omitempty"`
	Verbs    map[string]int64 `json:"verbs,omitempty"`
}

func main() {
	kind := flag.String("kind", "http", "What to generate: http, dns or redis")
	sizeStr := flag.String("size", "100M", "Approximate output size (K, M, G suffixes: powers of 1024)")
	out := flag.String("o", "", "Output pcapng file")
	countsPath := flag.String("counts", "", "Also write the counts (JSON) to this file")
	seed := flag.Int64("seed", 1, "Random seed")
	flag.Parse()
	size, err := parseSize(*sizeStr)
	if err != nil || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: gen -kind http|dns|redis -size 100M -o FILE [-counts FILE.json] [-seed N]")
		os.Exit(2)
	}
	c, err := generate(*kind, size, *seed, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	b = append(b, '\n')
	if *countsPath != "" {
		if err := os.WriteFile(*countsPath, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
	os.Stdout.Write(b)
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(n * float64(mult)), nil
}

// ---------------------------------------------------------------------------------
// Packets, flows and the scheduler that interleaves them

type endpoint struct {
	mac  net.HardwareAddr
	ip   net.IP
	port uint16
}

// pkt is one packet of a flow, not yet serialised.
type pkt struct {
	t       int64 // ns since the capture's start
	fromSrv bool
	flags   uint8 // tcp flag bits below; 0 for UDP
	seq     uint32
	ack     uint32
	payload []byte
}

const (
	fFIN = 1 << iota
	fSYN
	fRST
	fPSH
	fACK
)

// flow is a connection (or a UDP exchange) whose packets are all known in advance.
type flow struct {
	udp       bool
	cli, srv  endpoint
	pkts      []pkt
	next      int
	ipIDc     uint16
	ipIDs     uint16
	count500  bool // counts toward Packets500Streams
	onFinish  func(end int64)
	heapIndex int
	windowCli uint16
	windowSrv uint16
}

func (f *flow) nextTime() int64 { return f.pkts[f.next].t }

type flowHeap []*flow

func (h flowHeap) Len() int { return len(h) }
func (h flowHeap) Less(i, j int) bool {
	if h[i].nextTime() != h[j].nextTime() {
		return h[i].nextTime() < h[j].nextTime()
	}
	return h[i].cli.port < h[j].cli.port
}
func (h flowHeap) Swap(i, j int)             { h[i], h[j] = h[j], h[i]; h[i].heapIndex = i; h[j].heapIndex = j }
func (h *flowHeap) Push(x any)               { f := x.(*flow); f.heapIndex = len(*h); *h = append(*h, f) }
func (h *flowHeap) Pop() any                 { old := *h; f := old[len(old)-1]; *h = old[:len(old)-1]; return f }
func (h flowHeap) peek() *flow               { return h[0] }
func sortPkts(p []pkt)                       { sort.SliceStable(p, func(i, j int) bool { return p[i].t < p[j].t }) }
func usec(n int64) int64                     { return n * 1000 }
func msec(n int64) int64                     { return n * 1000_000 }
func between(r *rand.Rand, a, b int64) int64 { return a + r.Int63n(b-a+1) }

// writer serialises packets and writes them to a pcapng file.
type writer struct {
	f      *os.File
	bw     *bufio.Writer
	w      *export.PcapNGWriter
	base   time.Time
	buf    gopacket.SerializeBuffer
	opts   gopacket.SerializeOptions
	counts *Counts
	bytes  int64 // approximate file bytes so far
}

func newWriter(path string, c *Counts) (*writer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	pw, err := export.NewPcapNGWriter(bw, export.PcapNGOptions{Application: "kubectl-shark hack/bench/gen",
		Comment: fmt.Sprintf("synthetic %s traffic, seed %d", c.Kind, c.Seed)})
	if err != nil {
		return nil, err
	}
	if _, err := pw.AddInterface(export.Interface{LinkType: layers.LinkTypeEthernet, Name: "eth0",
		Description: "hack/bench/gen", SnapLen: 262144, OS: "Linux"}); err != nil {
		return nil, err
	}
	return &writer{f: f, bw: bw, w: pw, base: time.Date(2026, 3, 14, 22, 0, 0, 0, time.UTC),
		buf: gopacket.NewSerializeBuffer(), opts: gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		counts: c}, nil
}

func (w *writer) emit(fl *flow, p *pkt) error {
	src, dst := fl.cli, fl.srv
	id := &fl.ipIDc
	win := fl.windowCli
	if p.fromSrv {
		src, dst = fl.srv, fl.cli
		id = &fl.ipIDs
		win = fl.windowSrv
	}
	*id++
	eth := &layers.Ethernet{SrcMAC: src.mac, DstMAC: dst.mac, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: *id, Flags: layers.IPv4DontFragment, SrcIP: src.ip, DstIP: dst.ip}
	var err error
	if fl.udp {
		ip.Protocol = layers.IPProtocolUDP
		udp := &layers.UDP{SrcPort: layers.UDPPort(src.port), DstPort: layers.UDPPort(dst.port)}
		udp.SetNetworkLayerForChecksum(ip)
		err = gopacket.SerializeLayers(w.buf, w.opts, eth, ip, udp, gopacket.Payload(p.payload))
	} else {
		ip.Protocol = layers.IPProtocolTCP
		tcp := &layers.TCP{SrcPort: layers.TCPPort(src.port), DstPort: layers.TCPPort(dst.port), Seq: p.seq, Ack: p.ack,
			FIN: p.flags&fFIN != 0, SYN: p.flags&fSYN != 0, RST: p.flags&fRST != 0, PSH: p.flags&fPSH != 0,
			ACK: p.flags&fACK != 0, Window: win}
		if p.flags&fSYN != 0 {
			tcp.Window = 64240
			tcp.Options = []layers.TCPOption{
				{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{mss >> 8, mss & 0xff}},
				{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
				{OptionType: layers.TCPOptionKindNop},
				{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
			}
		}
		tcp.SetNetworkLayerForChecksum(ip)
		err = gopacket.SerializeLayers(w.buf, w.opts, eth, ip, tcp, gopacket.Payload(p.payload))
	}
	if err != nil {
		return err
	}
	data := w.buf.Bytes()
	if err := w.w.WritePacket(export.Packet{Timestamp: w.base.Add(time.Duration(p.t)), CaptureLength: len(data),
		Length: len(data), Data: data}); err != nil {
		return err
	}
	w.counts.Packets++
	w.counts.PacketBytes += int64(len(data))
	if fl.count500 {
		w.counts.Packets500Streams++
	}
	w.bytes += 32 + int64((len(data)+3)&^3)
	return nil
}

func (w *writer) close() error {
	if err := w.w.Flush(); err != nil {
		return err
	}
	if err := w.bw.Flush(); err != nil {
		return err
	}
	st, err := w.f.Stat()
	if err == nil {
		w.counts.FileBytes = st.Size()
	}
	return w.f.Close()
}

// run interleaves flows: at most `concurrency` are open at once; newFlow(start) makes
// the next one (nil when the size budget is spent).
func run(w *writer, concurrency int, size int64, r *rand.Rand, newFlow func(start int64) *flow) error {
	h := &flowHeap{}
	var now int64
	for i := 0; i < concurrency; i++ {
		if f := newFlow(now + between(r, 0, msec(20))); f != nil {
			heap.Push(h, f)
		}
	}
	for h.Len() > 0 {
		f := h.peek()
		p := &f.pkts[f.next]
		now = p.t
		if err := w.emit(f, p); err != nil {
			return err
		}
		f.next++
		if f.next < len(f.pkts) {
			heap.Fix(h, 0)
			continue
		}
		heap.Pop(h)
		if f.onFinish != nil {
			f.onFinish(now)
		}
		if w.bytes < size {
			if nf := newFlow(now + between(r, usec(5), msec(3))); nf != nil {
				heap.Push(h, nf)
			}
		}
	}
	return nil
}

// tcpConn builds the packets of one TCP connection.
type tcpConn struct {
	f           *flow
	r           *rand.Rand
	t           int64 // the time of the last event (ns)
	rtt         int64
	cseq, sseq  uint32 // next sequence number to send
	cack, sack  uint32 // what each side acknowledges
	lastRecvCli int64  // when the client last received server data
	unackedSrv  int    // server segments the client has not acknowledged yet
}

func newTCPConn(r *rand.Rand, cli, srv endpoint, start int64) *tcpConn {
	c := &tcpConn{f: &flow{cli: cli, srv: srv, windowCli: 502, windowSrv: 509}, r: r,
		rtt: between(r, usec(100), usec(500))}
	isnC, isnS := r.Uint32(), r.Uint32()
	c.add(start, false, fSYN, isnC, 0, nil)
	c.add(start+usec(8), true, fSYN|fACK, isnS, isnC+1, nil)
	c.cseq, c.sseq = isnC+1, isnS+1
	c.cack, c.sack = isnS+1, isnC+1
	c.t = start + c.rtt
	c.add(c.t, false, fACK, c.cseq, c.cack, nil)
	return c
}

func (c *tcpConn) add(t int64, fromSrv bool, flags uint8, seq, ack uint32, payload []byte) {
	c.f.pkts = append(c.f.pkts, pkt{t: t, fromSrv: fromSrv, flags: flags, seq: seq, ack: ack, payload: payload})
}

// clientSend sends data from the client at time t (request), in MSS segments.
func (c *tcpConn) clientSend(t int64, data []byte) int64 {
	for len(data) > 0 {
		n := min(len(data), mss)
		flags := uint8(fACK)
		if n == len(data) {
			flags |= fPSH
		}
		c.add(t, false, flags, c.cseq, c.sseq, data[:n]) // acknowledges everything received
		c.cseq += uint32(n)
		data = data[n:]
		t += usec(2)
	}
	c.sack = c.cseq
	c.cack = c.sseq
	c.unackedSrv = 0
	return t
}

// serverSend sends data from the server starting at t: segments ~1.2 µs apart (10 Gbit/s
// line rate) with a pause of one RTT per 64 KiB window; the client ACKs every second
// segment half an RTT later (from the server's point of view: a full RTT).
func (c *tcpConn) serverSend(t int64, data []byte) (last int64) {
	sent := 0
	for len(data) > 0 {
		n := min(len(data), mss)
		flags := uint8(fACK)
		if n == len(data) {
			flags |= fPSH
		}
		c.add(t, true, flags, c.sseq, c.sack, data[:n])
		c.sseq += uint32(n)
		data = data[n:]
		sent += n
		c.unackedSrv++
		last = t
		if c.unackedSrv == 2 || len(data) == 0 && c.unackedSrv > 0 && c.r.Intn(4) == 0 {
			c.add(t+c.rtt, false, fACK, c.cseq, c.sseq, nil)
			c.cack = c.sseq
			c.unackedSrv = 0
		}
		t += 1200
		if sent >= 64<<10 {
			sent = 0
			t += c.rtt
		}
	}
	c.lastRecvCli = last + c.rtt/2
	return last
}

// flushAck makes the client acknowledge everything received (delayed ACK timer).
func (c *tcpConn) flushAck(t int64) {
	if c.unackedSrv > 0 || c.cack != c.sseq {
		c.add(t, false, fACK, c.cseq, c.sseq, nil)
		c.cack = c.sseq
		c.unackedSrv = 0
	}
}

// closeByServer: server FIN right after its last data; client answers FIN+ACK.
func (c *tcpConn) closeByServer(t int64) int64 {
	c.add(t+usec(3), true, fFIN|fACK, c.sseq, c.sack, nil)
	c.sseq++
	t += usec(3) + c.rtt
	c.add(t, false, fFIN|fACK, c.cseq, c.sseq, nil)
	c.cseq++
	c.cack = c.sseq
	c.add(t+usec(6), true, fACK, c.sseq, c.cseq, nil)
	return t + usec(6)
}

// closeByClient: client FIN at t; server FIN+ACK; client ACK.
func (c *tcpConn) closeByClient(t int64) int64 {
	c.add(t, false, fFIN|fACK, c.cseq, c.sseq, nil)
	c.cseq++
	c.add(t+usec(15), true, fFIN|fACK, c.sseq, c.cseq, nil)
	c.sseq++
	c.add(t+usec(15)+c.rtt, false, fACK, c.cseq, c.sseq, nil)
	return t + usec(15) + c.rtt
}

func (c *tcpConn) finish() *flow {
	sortPkts(c.f.pkts)
	return c.f
}

// hosts makes deterministic client and server endpoints.
type hosts struct {
	clients   []endpoint
	nextPort  []uint16
	serverIPs []net.IP
}

func newHosts(nClients int, servers int) *hosts {
	h := &hosts{}
	for i := 0; i < nClients; i++ {
		ip := net.IPv4(198, 18, byte(1+i/250), byte(1+i%250)).To4()
		mac := net.HardwareAddr{0x02, 0x42, 0xc6, 0x12, byte(i >> 8), byte(i)}
		h.clients = append(h.clients, endpoint{mac: mac, ip: ip})
		h.nextPort = append(h.nextPort, uint16(32768+(i*7919)%20000))
	}
	for i := 0; i < servers; i++ {
		h.serverIPs = append(h.serverIPs, net.IPv4(198, 19, 0, byte(10+i)).To4())
	}
	return h
}

// client picks a client and a fresh ephemeral port (never reused within a file of
// realistic size: ports cycle through 32768..60999 per client).
func (h *hosts) client(r *rand.Rand) endpoint {
	i := r.Intn(len(h.clients))
	e := h.clients[i]
	e.port = h.nextPort[i]
	h.nextPort[i]++
	if h.nextPort[i] > 60999 {
		h.nextPort[i] = 32768
	}
	return e
}

func (h *hosts) server(r *rand.Rand, port uint16) endpoint {
	i := r.Intn(len(h.serverIPs))
	return endpoint{mac: net.HardwareAddr{0x02, 0x42, 0xc6, 0x13, 0, byte(i)}, ip: h.serverIPs[i], port: port}
}

func generate(kind string, size, seed int64, path string) (*Counts, error) {
	c := &Counts{Kind: kind, Seed: seed}
	w, err := newWriter(path, c)
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewSource(seed))
	switch kind {
	case "http":
		err = genHTTP(w, r, size)
	case "dns":
		err = genDNS(w, r, size)
	case "redis":
		err = genRedis(w, r, size)
	default:
		err = fmt.Errorf("unknown kind %q (http, dns, redis)", kind)
	}
	if err != nil {
		w.f.Close()
		return nil, err
	}
	return c, w.close()
}

// ---------------------------------------------------------------------------------
// HTTP/1.1

var (
	userAgents = []string{"curl/7.88.1", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
		"checkout-service/2.3.1 (+go-http-client)", "python-requests/2.31.0", "okhttp/4.12.0"}
	hostsHTTP = []string{"shop.example", "api.shop.example", "checkout.shop.svc.cluster.local", "cart:8080"}
	filler    = []byte(strings.Repeat("lorem ipsum dolor sit amet, consectetur adipiscing elit; ", 40))
)

func body(r *rand.Rand, n int) []byte {
	b := make([]byte, 0, n)
	for len(b) < n {
		off := r.Intn(len(filler) - 64)
		k := min(n-len(b), len(filler)-off)
		b = append(b, filler[off:off+k]...)
	}
	return b
}

func bodySize(r *rand.Rand) int {
	switch x := r.Float64(); {
	case x < 0.60:
		return 80 + r.Intn(1500)
	case x < 0.90:
		return 1500 + r.Intn(8000)
	case x < 0.995:
		return 10000 + r.Intn(30000)
	default:
		return 100000 + r.Intn(400000)
	}
}

type httpExchange struct {
	req, resp []byte
	status    int
	chunked   bool
	method    string
	think     int64 // server processing time
	chunkSeed int64 // chunk sizes of a chunked body
}

// chunkedLen is the length of body b in chunked encoding with chunk sizes from seed.
func chunkedLen(b []byte, seed int64) int {
	cr := rand.New(rand.NewSource(seed))
	total, left := 0, len(b)
	for left > 0 {
		n := min(left, 1024+cr.Intn(4096))
		total += len(fmt.Sprintf("%x\r\n", n)) + n + 2
		left -= n
	}
	return total + 5
}

func makeExchange(r *rand.Rand, last, connClose bool, errRate float64) httpExchange {
	var e httpExchange
	x := r.Float64()
	path := fmt.Sprintf("/api/v1/items/%d", r.Intn(100000))
	var reqBody []byte
	switch {
	case x < 0.70:
		e.method = "GET"
		if r.Intn(5) == 0 {
			path = fmt.Sprintf("/static/app.%08x.js", r.Uint32())
		} else if r.Intn(3) == 0 {
			path += fmt.Sprintf("?page=%d&sort=price", r.Intn(20))
		}
	case x < 0.92:
		e.method = "POST"
		path = "/api/v1/orders"
		reqBody = []byte(fmt.Sprintf(`{"customer":%d,"items":[%d,%d],"note":"%s"}`, r.Intn(1e6), r.Intn(1e5), r.Intn(1e5),
			body(r, 40+r.Intn(1200))))
	case x < 0.96:
		e.method = "PUT"
		path = fmt.Sprintf("/api/v1/carts/%d", r.Intn(1e6))
		reqBody = []byte(fmt.Sprintf(`{"qty":%d}`, r.Intn(9)))
	case x < 0.99:
		e.method = "DELETE"
		path = fmt.Sprintf("/api/v1/carts/%d/items/%d", r.Intn(1e6), r.Intn(50))
	default:
		e.method = "HEAD"
		path = "/health"
	}
	var rq strings.Builder
	fmt.Fprintf(&rq, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\n", e.method, path,
		hostsHTTP[r.Intn(len(hostsHTTP))], userAgents[r.Intn(len(userAgents))])
	if r.Intn(3) == 0 {
		fmt.Fprintf(&rq, "Cookie: session=%016x; theme=dark\r\n", r.Uint64())
	}
	if r.Intn(4) == 0 {
		fmt.Fprintf(&rq, "Authorization: Bearer %032x\r\n", r.Uint64())
	}
	if reqBody != nil {
		fmt.Fprintf(&rq, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(reqBody))
	}
	if last && connClose {
		rq.WriteString("Connection: close\r\n")
	}
	rq.WriteString("\r\n")
	e.req = append([]byte(rq.String()), reqBody...)

	// response
	e.think = between(r, usec(100), msec(8))
	y := r.Float64()
	switch {
	case y < errRate:
		e.status = 500
		e.think = between(r, msec(5), msec(50))
	case y < errRate+0.03:
		e.status = 404
	case y < errRate+0.04:
		e.status = 304
	default:
		e.status = 200
		switch e.method {
		case "POST":
			e.status = 201
		case "DELETE":
			e.status = 204
		}
	}
	if e.status == 304 && e.method != "GET" {
		e.status = 200
	}
	var b []byte
	ctype := "application/json"
	switch e.status {
	case 500:
		b = []byte(fmt.Sprintf(`{"error":"internal","trace":"%016x"}`, r.Uint64()))
	case 404:
		b = []byte(`{"error":"not found"}`)
	case 204, 304:
	default:
		b = body(r, bodySize(r))
		if strings.HasPrefix(path, "/static/") {
			ctype = "application/javascript"
		}
	}
	var rs strings.Builder
	fmt.Fprintf(&rs, "HTTP/1.1 %d %s\r\nDate: Sat, 14 Mar 2026 22:%02d:%02d GMT\r\nServer: nginx/1.22.1\r\n",
		e.status, statusText(e.status), r.Intn(60), r.Intn(60))
	if e.status != 204 && e.status != 304 {
		fmt.Fprintf(&rs, "Content-Type: %s\r\n", ctype)
		if e.status == 200 && e.method != "HEAD" && len(b) > 0 && r.Intn(10) == 0 {
			e.chunked = true
			rs.WriteString("Transfer-Encoding: chunked\r\n")
		} else {
			fmt.Fprintf(&rs, "Content-Length: %d\r\n", len(b))
		}
	}
	if e.status == 304 {
		fmt.Fprintf(&rs, "ETag: \"%08x\"\r\n", r.Uint32())
	}
	if last && connClose {
		rs.WriteString("Connection: close\r\n")
	} else {
		rs.WriteString("Connection: keep-alive\r\n")
	}
	if e.chunked && len(b) > 0 {
		// tshark 4.0 cannot reassemble a chunked body whose last segment holds only the
		// tail of the terminating "0\r\n\r\n" (it reports a malformed packet and loses
		// the response). Counts must agree between the tools, so such a response gets a
		// header that moves the segment boundary.
		e.chunkSeed = r.Int63()
		if n := rs.Len() + 2 + chunkedLen(b, e.chunkSeed); n%mss > 0 && n%mss < 8 {
			rs.WriteString("X-Pad: 0123456\r\n")
		}
	}
	rs.WriteString("\r\n")
	e.resp = []byte(rs.String())
	if e.method == "HEAD" {
		return e // a HEAD response has headers only (its Content-Length describes a GET)
	}
	if e.chunked {
		cr := rand.New(rand.NewSource(e.chunkSeed))
		for len(b) > 0 {
			n := min(len(b), 1024+cr.Intn(4096))
			e.resp = append(e.resp, fmt.Sprintf("%x\r\n", n)...)
			e.resp = append(e.resp, b[:n]...)
			e.resp = append(e.resp, "\r\n"...)
			b = b[n:]
		}
		e.resp = append(e.resp, "0\r\n\r\n"...)
	} else {
		e.resp = append(e.resp, b...)
	}
	return e
}

func statusText(s int) string {
	switch s {
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 204:
		return "No Content"
	case 304:
		return "Not Modified"
	case 404:
		return "Not Found"
	case 500:
		return "Internal Server Error"
	}
	return "Unknown"
}

func genHTTP(w *writer, r *rand.Rand, size int64) error {
	c := w.counts
	c.Statuses, c.Methods = map[string]int64{}, map[string]int64{}
	h := newHosts(500, 4)
	return run(w, 64, size, r, func(start int64) *flow {
		if w.bytes >= size {
			return nil
		}
		oneShot := r.Intn(10) < 3
		n := 1
		if !oneShot {
			n = 2 + r.Intn(59)
		}
		// Failures cluster: 8% of connections reach a sick backend (a quarter of their
		// requests fail), the others fail rarely.
		errRate := 0.003
		if r.Intn(100) < 8 {
			errRate = 0.25
		}
		tc := newTCPConn(r, h.client(r), h.server(r, 80), start)
		t := tc.t
		has500 := false
		for i := 0; i < n; i++ {
			last := i == n-1
			e := makeExchange(r, last, oneShot, errRate)
			if i == 0 {
				t += usec(3) // the request right behind the handshake's ACK
			} else {
				t = tc.lastRecvCli + between(r, usec(50), msec(30)) + tc.rtt/2
			}
			t = tc.clientSend(t, e.req)
			srvAt := t + e.think
			if e.think > msec(40) {
				tc.add(t+msec(40), true, fACK, tc.sseq, tc.sack, nil)
			}
			end := tc.serverSend(srvAt, e.resp)
			if last && oneShot {
				tc.closeByServer(end)
			} else if last {
				tc.flushAck(end + tc.rtt)
				tc.closeByClient(end + tc.rtt + between(r, usec(100), msec(50)))
			} else if tc.unackedSrv > 0 {
				tc.flushAck(end + tc.rtt)
			}
			c.Pairs++
			c.Statuses[strconv.Itoa(e.status)]++
			c.Methods[e.method]++
			if e.chunked {
				c.Chunked++
			}
			if e.status == 500 {
				c.Status500++
				has500 = true
			}
		}
		c.Connections++
		if oneShot {
			c.OneShotConns++
		} else {
			c.KeepAliveConns++
		}
		if has500 {
			c.Streams500++
		}
		f := tc.finish()
		f.count500 = has500
		return f
	})
}

// ---------------------------------------------------------------------------------
// DNS over UDP

var dnsNames = []string{"checkout.shop.svc.cluster.local", "redis.shop.svc.cluster.local", "api.github.com",
	"www.example.com", "mirror.example.org", "kubernetes.default.svc.cluster.local", "metrics.monitoring.svc",
	"s3.eu-west-1.amazonaws.com", "db-primary.internal", "login.example.net"}

func dnsMsg(id uint16, name string, qt layers.DNSType, resp bool, rcode layers.DNSResponseCode, r *rand.Rand) []byte {
	d := &layers.DNS{ID: id, QR: resp, OpCode: layers.DNSOpCodeQuery, RD: true, RA: resp, ResponseCode: rcode,
		Questions: []layers.DNSQuestion{{Name: []byte(name), Type: qt, Class: layers.DNSClassIN}}}
	if resp && rcode == layers.DNSResponseCodeNoErr {
		target := name
		if r.Intn(4) == 0 {
			target = "edge-" + strconv.Itoa(r.Intn(50)) + ".cdn.example.net"
			d.Answers = append(d.Answers, layers.DNSResourceRecord{Name: []byte(name), Type: layers.DNSTypeCNAME,
				Class: layers.DNSClassIN, TTL: 300, CNAME: []byte(target)})
		}
		for i := 0; i < 1+r.Intn(3); i++ {
			rr := layers.DNSResourceRecord{Name: []byte(target), Type: qt, Class: layers.DNSClassIN, TTL: uint32(30 + r.Intn(3600))}
			switch qt {
			case layers.DNSTypeA:
				rr.IP = net.IPv4(198, 19, byte(r.Intn(256)), byte(r.Intn(256))).To4()
			case layers.DNSTypeAAAA:
				rr.IP = net.ParseIP(fmt.Sprintf("2001:db8::%x", r.Intn(65536)))
			case layers.DNSTypeMX:
				rr.MX = layers.DNSMX{Preference: uint16(10 * (i + 1)), Name: []byte("mx" + strconv.Itoa(i) + ".example.com")}
			case layers.DNSTypeTXT:
				rr.TXTs = [][]byte{[]byte("v=spf1 include:_spf.example.com ~all")}
			}
			d.Answers = append(d.Answers, rr)
		}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := d.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		panic(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func genDNS(w *writer, r *rand.Rand, size int64) error {
	c := w.counts
	c.QTypes = map[string]int64{}
	h := newHosts(200, 2)
	return run(w, 32, size, r, func(start int64) *flow {
		if w.bytes >= size {
			return nil
		}
		f := &flow{udp: true, cli: h.client(r), srv: h.server(r, 53)}
		name := dnsNames[r.Intn(len(dnsNames))]
		if r.Intn(3) == 0 {
			name = fmt.Sprintf("host-%d.%s", r.Intn(5000), name)
		}
		rcode := layers.DNSResponseCodeNoErr
		switch x := r.Intn(100); {
		case x < 8:
			rcode = layers.DNSResponseCodeNXDomain
		case x < 9:
			rcode = layers.DNSResponseCodeServFail
		}
		var qtypes []layers.DNSType
		switch x := r.Intn(100); {
		case x < 40:
			qtypes = []layers.DNSType{layers.DNSTypeA, layers.DNSTypeAAAA} // glibc: both at once, one socket
		case x < 85:
			qtypes = []layers.DNSType{layers.DNSTypeA}
		case x < 95:
			qtypes = []layers.DNSType{layers.DNSTypeMX}
		default:
			qtypes = []layers.DNSType{layers.DNSTypeTXT}
		}
		t := start
		for _, qt := range qtypes {
			id := uint16(r.Intn(65536))
			f.pkts = append(f.pkts, pkt{t: t, payload: dnsMsg(id, name, qt, false, 0, r)})
			f.pkts = append(f.pkts, pkt{t: t + between(r, usec(200), msec(30)), fromSrv: true,
				payload: dnsMsg(id, name, qt, true, rcode, r)})
			t += usec(40)
			c.Exchanges++
			c.QTypes[qt.String()]++
			switch rcode {
			case layers.DNSResponseCodeNXDomain:
				c.NXDomain++
			case layers.DNSResponseCodeServFail:
				c.ServFail++
			}
		}
		sortPkts(f.pkts)
		return f
	})
}

// ---------------------------------------------------------------------------------
// Redis (RESP2)

func resp(args ...string) []byte {
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b = append(b, "$"+strconv.Itoa(len(a))+"\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}

func bulk(s string) []byte { return []byte("$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n") }

func redisCommand(r *rand.Rand) (verb string, req, reply []byte) {
	key := fmt.Sprintf("session:%d", r.Intn(100000))
	switch x := r.Intn(100); {
	case x < 40:
		verb, req = "GET", resp("GET", key)
		switch y := r.Intn(10); {
		case y == 0:
			reply = []byte("$-1\r\n")
		case y < 8:
			reply = bulk(string(body(r, 20+r.Intn(400))))
		default:
			reply = bulk(string(body(r, 2000+r.Intn(14000)))) // several segments
		}
	case x < 60:
		verb, req, reply = "SET", resp("SET", key, string(body(r, 10+r.Intn(1000))), "EX", "3600"), []byte("+OK\r\n")
	case x < 68:
		verb, req, reply = "DEL", resp("DEL", key), []byte(":"+strconv.Itoa(r.Intn(2))+"\r\n")
	case x < 76:
		verb, req, reply = "HGET", resp("HGET", "user:"+strconv.Itoa(r.Intn(1e5)), "email"), bulk("someone@example.com")
	case x < 82:
		verb, req, reply = "HSET", resp("HSET", "user:"+strconv.Itoa(r.Intn(1e5)), "email", "someone@example.com"), []byte(":1\r\n")
	case x < 88:
		verb, req, reply = "INCR", resp("INCR", "counter:"+strconv.Itoa(r.Intn(100))), []byte(":"+strconv.Itoa(r.Intn(1e6))+"\r\n")
	case x < 91:
		verb, req, reply = "EXPIRE", resp("EXPIRE", key, "600"), []byte(":1\r\n")
	case x < 94:
		verb, req, reply = "LPUSH", resp("LPUSH", "queue:jobs", string(body(r, 50+r.Intn(300)))), []byte(":"+strconv.Itoa(1+r.Intn(100))+"\r\n")
	case x < 97:
		verb, req = "LRANGE", resp("LRANGE", "queue:jobs", "0", "9")
		n := r.Intn(10)
		reply = []byte("*" + strconv.Itoa(n) + "\r\n")
		for i := 0; i < n; i++ {
			reply = append(reply, bulk(string(body(r, 20+r.Intn(100))))...)
		}
	default:
		verb, req = "MGET", resp("MGET", key, key+"x", key+"y")
		reply = []byte("*3\r\n")
		reply = append(reply, bulk("a")...)
		reply = append(reply, "$-1\r\n"...)
		reply = append(reply, bulk(string(body(r, 30)))...)
	}
	return verb, req, reply
}

func genRedis(w *writer, r *rand.Rand, size int64) error {
	c := w.counts
	c.Verbs = map[string]int64{}
	h := newHosts(40, 1)
	return run(w, 16, size, r, func(start int64) *flow {
		if w.bytes >= size {
			return nil
		}
		tc := newTCPConn(r, h.client(r), h.server(r, 6379), start)
		n := 50 + r.Intn(400)
		if r.Intn(4) == 0 {
			n = 1 + r.Intn(3) // short-lived clients
		}
		t := tc.t + usec(3)
		for i := 0; i < n; i++ {
			verb, req, reply := redisCommand(r)
			if i > 0 {
				t = tc.lastRecvCli + between(r, usec(20), msec(5)) + tc.rtt/2
			}
			t = tc.clientSend(t, req)
			end := tc.serverSend(t+between(r, usec(10), usec(200)), reply)
			if i == n-1 {
				tc.flushAck(end + tc.rtt)
				tc.closeByClient(end + tc.rtt + usec(200))
			} else if tc.unackedSrv > 0 && r.Intn(2) == 0 {
				tc.flushAck(end + tc.rtt)
			}
			c.Commands++
			c.Verbs[verb]++
			if verb == "DEL" {
				c.Del++
			}
		}
		c.Connections++
		return tc.finish()
	})
}
