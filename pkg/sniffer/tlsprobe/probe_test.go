package tlsprobe

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/protocols"
	"github.com/kubectl-shark/kubectl-shark/pkg/export"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/internal/sniffertest"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/wire"
)

// needTools fails the test when a program it drives is missing.
func needTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Fatalf("%s is needed by this test (apt-get install -y nginx-light curl tshark python3): %v", n, err)
		}
	}
}

// capture is what a test saw from a Probe: copies of the packets and the HTTP
// entries the dissect pipeline made of them.
type capture struct {
	pkts    []Packet
	entries []*dissect.Entry
	pipe    *dissect.Pipeline
}

func newCapture() *capture {
	c := &capture{}
	cfg := protocols.Config()
	cfg.CaptureSource = "ebpf_tls"
	c.pipe = dissect.New(cfg, func(e *dissect.Entry) { c.entries = append(c.entries, e) })
	return c
}

func (c *capture) add(p Packet) {
	p.Data = append([]byte(nil), p.Data...)
	c.pkts = append(c.pkts, p)
	c.pipe.Packet(&dissect.Packet{Timestamp: p.Timestamp, LinkType: layers.LinkTypeRaw, Data: p.Data, Length: p.Length})
}

// httpEntry is an HTTP exchange as the tests compare them.
type httpEntry struct {
	Path   string
	Status int
}

func (c *capture) http() []httpEntry {
	var out []httpEntry
	for _, e := range c.entries {
		if e.HTTP != nil {
			out = append(out, httpEntry{e.HTTP.Path, e.HTTP.StatusCode})
		}
	}
	sortEntries(out)
	return out
}

func sortEntries(es []httpEntry) {
	sort.Slice(es, func(i, j int) bool {
		if es[i].Path != es[j].Path {
			return es[i].Path < es[j].Path
		}
		return es[i].Status < es[j].Status
	})
}

// readUntil reads packets until done reports true for the capture (checked
// after each packet), or fails the test after a generous timeout.
func readUntil(t *testing.T, p *Probe, c *capture, done func(*capture) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for !done(c) {
		pkt, err := p.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v (after %d packets, entries %v, stats %+v)", err, len(c.pkts), c.http(), p.Stats())
		}
		c.add(pkt)
	}
	// The rest of the last event's packets (a teardown ends with the remote
	// FIN and the local ACK) are queued: Next returns them before it looks
	// at the context.
	cancel()
	for {
		pkt, err := p.Next(ctx)
		if err != nil {
			return
		}
		c.add(pkt)
	}
}

// closedConns counts FINs sent by the local end: one per SSL object freed.
func (c *capture) closedConns() int {
	n := 0
	for _, p := range c.pkts {
		tcp := decodeTCP(p.Data)
		if tcp != nil && tcp.FIN && p.Outbound {
			n++
		}
	}
	return n
}

func decodeTCP(data []byte) *layers.TCP {
	first := layers.LayerTypeIPv4
	if len(data) > 0 && data[0]>>4 == 6 {
		first = layers.LayerTypeIPv6
	}
	pkt := gopacket.NewPacket(data, first, gopacket.Default)
	tcp, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
	return tcp
}

func openProbe(t *testing.T, cfg Config) *Probe {
	t.Helper()
	p, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	t.Logf("attached with %s", p.Attachment())
	for _, l := range p.Libraries() {
		t.Logf("library %s (%s) pids %v symbols %v err %v", l.Path, l.Source, l.PIDs, l.Symbols, l.Err)
	}
	return p
}

// curl runs Debian's curl inside ns for urls (one connection, kept alive
// between them) and returns the status codes it printed.
func curl(t *testing.T, ns sniffertest.Netns, out string, urls ...string) string {
	t.Helper()
	args := []string{"-k", "-s", "--http1.1", "-w", "%{http_code}\n", "-o", out}
	for i, u := range urls {
		if i > 0 {
			args = append(args, "--next", "-k", "-s", "--http1.1", "-w", "%{http_code}\n", "-o", out)
		}
		args = append(args, u)
	}
	return ns.Run(t, "curl", args...)
}

// TestServerSide probes nginx's namespace: curl's requests, made from another
// namespace, come back as HTTP entries with the real 4-tuple; a second nginx
// in a namespace not targeted, serving the same libssl, is not reported.
func TestServerSide(t *testing.T) {
	sniffertest.RequireRoot(t)
	needTools(t, "nginx", "curl", "tshark")
	pair := sniffertest.NewPair(t)
	other := sniffertest.NewPair(t)
	nginx := sniffertest.StartNginxTLS(t, pair.Server)
	otherNginx := sniffertest.StartNginxTLS(t, other.Server)

	ns := pair.Server.Open(t)
	p := openProbe(t, Config{Netns: ns, PID: nginx.PID()})
	libs := p.Libraries()
	if len(libs) != 1 || libs[0].Source != SourceMaps || !slices.Contains(libs[0].PIDs, nginx.PID()) || libs[0].Err != nil {
		t.Fatalf("libraries: %+v", libs)
	}

	// Traffic in the namespace not targeted first: were it reported, it
	// would arrive before the traffic waited for below.
	base := "https://" + sniffertest.ServerIP
	curl(t, other.Client, "/dev/null", base+"/shark-tls-1", base+"/shark-tls-other")

	bigOut := filepath.Join(t.TempDir(), "big")
	codes := curl(t, pair.Client, "/dev/null", base+"/shark-tls-1", base+"/shark-tls-2", base+"/shark-tls-missing")
	if codes != "200\n200\n404\n" {
		t.Fatalf("curl printed %q", codes)
	}
	curl(t, pair.Client, bigOut, base+"/big")

	c := newCapture()
	readUntil(t, p, c, func(c *capture) bool { return c.closedConns() == 2 })
	c.pipe.Flush()

	want := []httpEntry{{"/big", 200}, {"/shark-tls-1", 200}, {"/shark-tls-2", 200}, {"/shark-tls-missing", 404}}
	if got := c.http(); !slices.Equal(got, want) {
		t.Errorf("HTTP entries %v, want %v", got, want)
	}
	for _, pk := range c.pkts {
		if pk.PID != uint32(nginx.PID()) {
			t.Fatalf("packet of pid %d (nginx %d, other nginx %d)", pk.PID, nginx.PID(), otherNginx.PID())
		}
		if bytes.Contains(pk.Data, []byte("shark-tls-other")) {
			t.Fatal("traffic of the namespace not targeted was reported")
		}
	}
	checkTuples(t, c, netip.MustParseAddr(sniffertest.ServerIP), 443)
	checkSeq(t, c.pkts)
	checkBody(t, c, nginx.Files["/big"], false)
	checkTshark(t, c, want)
	s := p.Stats()
	t.Logf("stats %+v", s)
	if s.Lost != 0 || s.UnknownTuple != 0 || s.DecodeErrors != 0 {
		t.Errorf("stats %+v", s)
	}
}

// checkTuples checks that every packet is between the local address and
// port and the other end, in the direction it says.
func checkTuples(t *testing.T, c *capture, local netip.Addr, localPort uint16) {
	t.Helper()
	for i, p := range c.pkts {
		pkt := gopacket.NewPacket(p.Data, layers.LayerTypeIPv4, gopacket.Default)
		ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		tcp, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if ip == nil || tcp == nil {
			t.Fatalf("packet %d: not IPv4/TCP: %v", i, pkt)
		}
		src, _ := netip.AddrFromSlice(ip.SrcIP)
		dst, _ := netip.AddrFromSlice(ip.DstIP)
		l, lp := src, uint16(tcp.SrcPort)
		if !p.Outbound {
			l, lp = dst, uint16(tcp.DstPort)
		}
		if l != local || (localPort != 0 && lp != localPort) {
			t.Fatalf("packet %d: %v:%d > %v:%d outbound=%v, local end is not %v:%d", i, src, tcp.SrcPort, dst, tcp.DstPort, p.Outbound, local, localPort)
		}
	}
}

// checkBody reassembles every connection's server-to-client stream (or
// client-to-server when toServer) from the packets and checks that one of
// them ends with body.
func checkBody(t *testing.T, c *capture, body []byte, toServer bool) {
	t.Helper()
	streams := map[string][]byte{}
	for _, p := range c.pkts {
		tcp := decodeTCP(p.Data)
		if tcp == nil || len(tcp.Payload) == 0 || (tcp.SrcPort == 443) == toServer {
			continue
		}
		k := fmt.Sprint(tcp.SrcPort, tcp.DstPort)
		streams[k] = append(streams[k], tcp.Payload...)
	}
	for _, s := range streams {
		if bytes.HasSuffix(s, body) {
			return
		}
	}
	t.Errorf("no stream ends with the %d-byte body (%d streams)", len(body), len(streams))
}

// checkTshark writes the packets to a pcapng and checks what tshark makes of
// them: the same HTTP exchanges, valid checksums, no warnings or errors.
func checkTshark(t *testing.T, c *capture, want []httpEntry) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tls.pcapng")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := export.NewPcapNGWriter(f, export.PcapNGOptions{})
	if err != nil {
		t.Fatal(err)
	}
	idx, err := w.AddInterface(export.Interface{LinkType: LinkType, Name: wire.TLSInterfaceName, Description: wire.TLSInterfaceDescription})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.pkts {
		flags := uint32(export.FlagInbound)
		if p.Outbound {
			flags = export.FlagOutbound
		}
		if err := w.WritePacket(export.Packet{Timestamp: p.Timestamp, Interface: idx, Data: p.Data, CaptureLength: len(p.Data), Length: p.Length, Flags: flags}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	tshark := func(args ...string) string {
		t.Helper()
		args = append([]string{"-r", path, "-d", "tcp.port==443,http", "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"}, args...)
		var stderr bytes.Buffer
		cmd := exec.Command("tshark", args...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return string(out)
	}
	// Requests and responses are separate packets: pair them by stream.
	var got []httpEntry
	uris := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(tshark("-Y", "http", "-T", "fields", "-e", "tcp.stream", "-e", "http.request.uri", "-e", "http.response.code")), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("tshark line %q", line)
		}
		if f[1] != "" {
			uris[f[0]] += f[1] + "\n"
			continue
		}
		var code int
		fmt.Sscan(f[2], &code)
		u, rest, _ := strings.Cut(uris[f[0]], "\n")
		uris[f[0]] = rest
		got = append(got, httpEntry{u, code})
	}
	sortEntries(got)
	if !slices.Equal(got, want) {
		t.Errorf("tshark sees %v, want %v", got, want)
	}
	if bad := strings.TrimSpace(tshark("-Y", "_ws.malformed || tcp.checksum.status != 1 || ip.checksum.status != 1")); bad != "" {
		t.Errorf("tshark finds malformed packets or bad checksums:\n%s", bad)
	}
	// Warnings and errors: only the one that plaintext on port 443 must give.
	expert := tshark("-q", "-z", "expert,warn")
	section, expected := false, 0
	for _, line := range strings.Split(expert, "\n") {
		switch {
		case strings.HasPrefix(line, "Errors (") || strings.HasPrefix(line, "Warns ("):
			section = true
		case strings.TrimSpace(line) == "":
			section = false
		case section && !strings.HasPrefix(line, "=") && !strings.Contains(line, "Frequency") &&
			!strings.Contains(line, "Unencrypted HTTP protocol detected over encrypted port"):
			t.Errorf("tshark warns: %s\n%s", line, expert)
		case section && strings.Contains(line, "Unencrypted HTTP"):
			expected++
		}
	}
	if expected == 0 {
		t.Errorf("tshark's expert output was not understood:\n%s", expert)
	}
}

// TestClientSide probes a namespace with no process in it when the probe is
// opened: the library is found in the agent's own root file system, and
// curl and Python (SSL_write_ex/SSL_read_ex) started afterwards are covered.
// The nginx they talk to, in a namespace not targeted, is not reported. Both
// kinds of uprobe attachment are tested.
func TestClientSide(t *testing.T) {
	sniffertest.RequireRoot(t)
	for _, perf := range []bool{false, true} {
		name := "uprobe_multi"
		if perf {
			name = "perf_event"
		}
		t.Run(name, func(t *testing.T) {
			forcePerfUprobes = perf
			defer func() { forcePerfUprobes = false }()
			testClientSide(t)
		})
	}
}

func testClientSide(t *testing.T) {
	needTools(t, "nginx", "curl", "tshark", "/usr/bin/python3")
	pair := sniffertest.NewPair(t)
	nginx := sniffertest.StartNginxTLS(t, pair.Server)

	p := openProbe(t, Config{Netns: pair.Client.Open(t)})
	libs := p.Libraries()
	if len(libs) == 0 || libs[0].Source != SourceSearch || len(libs[0].PIDs) != 0 {
		t.Fatalf("libraries: %+v", libs)
	}

	base := "https://" + sniffertest.ServerIP
	if codes := curl(t, pair.Client, "/dev/null", base+"/shark-tls-1", base+"/shark-tls-missing"); codes != "200\n404\n" {
		t.Fatalf("curl printed %q", codes)
	}
	curl(t, pair.Client, "/dev/null", base+"/big")
	py := `import ssl, urllib.request
r = urllib.request.urlopen("` + base + `/shark-tls-2", context=ssl._create_unverified_context())
print(r.status, len(r.read()))`
	if out := pair.Client.Run(t, "/usr/bin/python3", "-c", py); out != "200 17\n" {
		t.Fatalf("python printed %q", out)
	}
	// 100 KiB sent by one SSL_write_ex call: several ring records.
	upload := postRandom(t, pair.Client, 100<<10)

	c := newCapture()
	readUntil(t, p, c, func(c *capture) bool { return c.closedConns() == 4 })
	c.pipe.Flush()

	want := []httpEntry{{"/big", 200}, {"/shark-tls-1", 200}, {"/shark-tls-2", 200}, {"/shark-tls-missing", 404}, {"/upload", 404}}
	if got := c.http(); !slices.Equal(got, want) {
		t.Errorf("HTTP entries %v, want %v", got, want)
	}
	for _, pk := range c.pkts {
		if pk.PID == uint32(nginx.PID()) {
			t.Fatal("nginx, in a namespace not targeted, was reported")
		}
	}
	checkTuples(t, c, netip.MustParseAddr(sniffertest.ClientIP), 0)
	checkSeq(t, c.pkts)
	checkBody(t, c, nginx.Files["/big"], false)
	checkBody(t, c, upload, true)
	checkTshark(t, c, want)
	s := p.Stats()
	t.Logf("stats %+v", s)
	if s.Lost != 0 || s.UnknownTuple != 0 || s.DecodeErrors != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestBothEndsLocal: curl and nginx in the same (target) namespace both
// report the connection over lo; it is reconstructed once, from the end seen
// first.
func TestBothEndsLocal(t *testing.T) {
	sniffertest.RequireRoot(t)
	needTools(t, "nginx", "curl")
	ns := sniffertest.NewNetns(t)
	nginx := sniffertest.StartNginxTLS(t, ns)
	p := openProbe(t, Config{Netns: ns.Open(t), PID: nginx.PID()})
	if codes := curl(t, ns, "/dev/null", "https://127.0.0.1/shark-tls-1", "https://127.0.0.1/shark-tls-missing"); codes != "200\n404\n" {
		t.Fatalf("curl printed %q", codes)
	}
	// The reports of the end not kept make no packet to wait for, and the
	// last of them may follow the other end's SSL_free. A second connection
	// is the readiness signal: nginx (one process, one thread) handles it
	// after everything of the first.
	curl(t, ns, "/dev/null", "https://127.0.0.1/shark-tls-2")
	c := newCapture()
	readUntil(t, p, c, func(c *capture) bool { return c.closedConns() == 2 })
	c.pipe.Flush()
	want := []httpEntry{{"/shark-tls-1", 200}, {"/shark-tls-2", 200}, {"/shark-tls-missing", 404}}
	if got := c.http(); !slices.Equal(got, want) {
		t.Errorf("HTTP entries %v, want %v", got, want)
	}
	checkSeq(t, c.pkts)
	// Each connection (told apart by curl's port) comes from one process.
	pids := map[layers.TCPPort]map[uint32]bool{}
	for _, pk := range c.pkts {
		tcp := decodeTCP(pk.Data)
		port := tcp.SrcPort
		if port == 443 {
			port = tcp.DstPort
		}
		if pids[port] == nil {
			pids[port] = map[uint32]bool{}
		}
		pids[port][pk.PID] = true
	}
	for port, ps := range pids {
		if len(ps) != 1 {
			t.Errorf("connection from port %d reported by processes %v (nginx is %d)", port, ps, nginx.PID())
		}
	}
	if s := p.Stats(); s.Duplicates < 4 {
		t.Errorf("stats %+v: the first connection's 4 reports of the other end are not counted", s)
	}
}

// fds lists the process's open descriptors and what they are.
func fds(t *testing.T) map[string]string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		m[e.Name()] = target
	}
	return m
}

// progIDs are the kernel IDs of the probe's programs.
func progIDs(t *testing.T, p *Probe) map[int]bool {
	t.Helper()
	ids := map[int]bool{}
	for _, prog := range []*ebpf.Program{p.objs.SslWriteEnter, p.objs.SslWriteLeave, p.objs.SslReadEnter, p.objs.SslReadLeave,
		p.objs.SslWriteExEnter, p.objs.SslWriteExLeave, p.objs.SslReadExEnter, p.objs.SslReadExLeave, p.objs.SslFreeEnter,
		p.hooks.Send, p.hooks.Recv} {
		info, err := prog.Info()
		if err != nil {
			t.Fatal(err)
		}
		id, ok := info.ID()
		if !ok {
			t.Fatal("no program ID")
		}
		ids[int(id)] = true
	}
	return ids
}

// linksOf counts the BPF links bpftool lists for the programs ids.
func linksOf(t *testing.T, ids map[int]bool) int {
	t.Helper()
	out, err := exec.Command("bpftool", "-j", "link", "list").Output()
	if err != nil {
		t.Fatalf("bpftool link list: %v", err)
	}
	var links []struct {
		ID     int `json:"id"`
		Type   any `json:"type"` // a name, or a number for types this bpftool does not know
		ProgID int `json:"prog_id"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		t.Fatalf("bpftool output: %v\n%s", err, out)
	}
	n := 0
	for _, l := range links {
		if ids[l.ProgID] {
			n++
		}
	}
	return n
}

// TestCloseReleasesEverything: after Close, the process has the descriptors
// it had before Open, and no link or program of the probe is left.
func TestCloseReleasesEverything(t *testing.T) {
	sniffertest.RequireRoot(t)
	needTools(t, "bpftool")
	ns, err := os.Open("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	cfg := Config{Netns: ns, TLSLibs: []string{findHostLibssl(t)}}
	for _, perf := range []bool{false, true} {
		forcePerfUprobes = perf
		// Warm up: the Go runtime and cilium/ebpf keep a few descriptors
		// (epoll, BTF caches) after first use.
		p, err := Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		p.Close()

		before := fds(t)
		p, err = Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ids := progIDs(t, p)
		// 9 uprobe programs on 5 symbols of one library, 2 socket hooks.
		if n := linksOf(t, ids); n != 11 {
			t.Errorf("perf %v: %d links of ours while open, want 11", perf, n)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if err := p.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if n := linksOf(t, ids); n != 0 {
			t.Errorf("perf %v: %d links of ours left after Close", perf, n)
		}
		// The programs themselves are freed by the kernel once their links
		// are released, asynchronously (after an RCU grace period): what the
		// probe owes is to hold no descriptor of them.
		after := fds(t)
		for fd, what := range after {
			if before[fd] != what {
				t.Errorf("perf %v: descriptor %s (%s) left after Close", perf, fd, what)
			}
		}
		if len(after) != len(before) {
			t.Errorf("perf %v: %d descriptors before Open, %d after Close", perf, len(before), len(after))
		}
		if _, err := p.Next(t.Context()); !errors.Is(err, ErrClosed) {
			t.Errorf("Next after Close: %v", err)
		}
	}
	forcePerfUprobes = false
}

// TestCloseAfterLibraryGone: the library file (and its directory) vanish
// while attached, as when a container exits; Close still detaches cleanly.
func TestCloseAfterLibraryGone(t *testing.T) {
	sniffertest.RequireRoot(t)
	needTools(t, "bpftool")
	data, err := os.ReadFile(findHostLibssl(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "container-root")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(dir, "libssl.so.3")
	if err := os.WriteFile(lib, data, 0o755); err != nil {
		t.Fatal(err)
	}
	ns, err := os.Open("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	p, err := Open(Config{Netns: ns, TLSLibs: []string{lib}})
	if err != nil {
		t.Fatal(err)
	}
	ids := progIDs(t, p)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close after the library was removed: %v", err)
	}
	if n := linksOf(t, ids); n != 0 {
		t.Errorf("%d links left", n)
	}
}

// TestLargeCall: one SSL_write_ex of 1.5 MiB. The first MiB is copied (64
// ring records), the rest counted as truncated; the stream shows the gap.
func TestLargeCall(t *testing.T) {
	sniffertest.RequireRoot(t)
	needTools(t, "nginx", "/usr/bin/python3")
	pair := sniffertest.NewPair(t)
	sniffertest.StartNginxTLS(t, pair.Server)
	p := openProbe(t, Config{Netns: pair.Client.Open(t), RingSize: 8 << 20})

	body := postRandom(t, pair.Client, 1536<<10)
	c := newCapture()
	readUntil(t, p, c, func(c *capture) bool { return c.closedConns() == 1 })

	var sent []byte
	var gapAt, gap uint32
	var next, finSeq uint32
	for _, pk := range c.pkts {
		tcp := decodeTCP(pk.Data)
		if pk.Outbound && tcp.FIN {
			finSeq = tcp.Seq
		}
		if !pk.Outbound || len(tcp.Payload) == 0 {
			continue
		}
		if len(sent) > 0 && tcp.Seq != next {
			gapAt, gap = uint32(len(sent)), tcp.Seq-next
		}
		sent = append(sent, tcp.Payload...)
		next = tcp.Seq + uint32(len(tcp.Payload))
	}
	// Python sends the headers and the body in one call or two: either way
	// the first MiB of the call with the body is there, and the rest is
	// counted.
	hdr := bytes.Index(sent, []byte("\r\n\r\n")) + 4
	if hdr < 4 || len(sent) < 1<<20 || len(sent) > hdr+1<<20 || !bytes.Equal(sent[hdr:], body[:len(sent)-hdr]) {
		t.Fatalf("sent %d bytes (headers %d), not the call's first MiB", len(sent), hdr)
	}
	s := p.Stats()
	if want := uint64(hdr + len(body) - len(sent)); s.TruncatedBytes != want {
		t.Errorf("truncated %d bytes, want %d", s.TruncatedBytes, want)
	}
	if gap != 0 {
		t.Errorf("gap of %d bytes at %d inside the first MiB", gap, gapAt)
	}
	// What follows the call (here the FIN) comes after a gap of the
	// truncated bytes.
	if uint64(finSeq-next) != s.TruncatedBytes {
		t.Errorf("FIN %d bytes after the last data, want %d", finSeq-next, s.TruncatedBytes)
	}
	t.Logf("stats %+v", s)
}

// postRandom POSTs n random bytes to /upload of ServerIP over HTTPS with
// Python (the body in one SSL_write_ex call), from inside ns, checks the
// answer (404), and returns the bytes.
func postRandom(t *testing.T, ns sniffertest.Netns, n int) []byte {
	t.Helper()
	body := make([]byte, n)
	rand.Read(body)
	path := filepath.Join(t.TempDir(), "upload")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	py := `import http.client, ssl
c = http.client.HTTPSConnection("` + sniffertest.ServerIP + `", context=ssl._create_unverified_context())
c.request("POST", "/upload", body=open("` + path + `", "rb").read())
r = c.getresponse()
r.read()
print(r.status)
c.close()`
	if out := ns.Run(t, "/usr/bin/python3", "-c", py); out != "404\n" {
		t.Fatalf("python printed %q", out)
	}
	return body
}
