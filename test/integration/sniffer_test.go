package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/test/lab"
)

// sniffer is a running shark-sniffer process.
type sniffer struct {
	t    *testing.T
	p    *lab.Process
	base string
	dir  string
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startSniffer runs the agent on the host against a target and waits for /readyz.
func startSniffer(t *testing.T, l *lab.Lab, dataDir string, args ...string) *sniffer {
	t.Helper()
	port := freePort(t)
	ready := filepath.Join(t.TempDir(), "ready")
	all := append([]string{snifferBin, "--data-dir", dataDir, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--ready-file", ready}, args...)
	p := l.Start("", "shark-sniffer", all...)
	s := &sniffer{t: t, p: p, base: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dataDir}
	s.waitFor("the ready file", func() bool {
		if p.Exited() {
			t.Fatalf("the agent exited:\n%s", p.Output())
		}
		_, err := os.Stat(ready)
		return err == nil
	})
	if code, body := s.get("/readyz"); code != 200 {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	return s
}

func (s *sniffer) get(path string) (int, string) {
	s.t.Helper()
	resp, err := http.Get(s.base + path)
	if err != nil {
		s.t.Fatalf("GET %s: %v\nagent output:\n%s", path, err, s.p.Output())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *sniffer) post(path string) (int, string) {
	s.t.Helper()
	resp, err := http.Post(s.base+path, "", nil)
	if err != nil {
		s.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// status is the part of /status the tests read.
type status struct {
	State   string `json:"state"`
	Backend string `json:"backend"`
	TLS     *struct {
		Libraries []string `json:"libraries"`
		Error     string   `json:"error"`
		Events    uint64   `json:"events"`
	} `json:"tls"`
	Packets     uint64 `json:"packets"`
	KernelDrops uint64 `json:"kernelDrops"`
	Interfaces  []struct {
		Name    string `json:"name"`
		Packets uint64 `json:"packets"`
	} `json:"interfaces"`
	FIFO struct {
		Bytes           int64     `json:"bytes"`
		Capacity        int64     `json:"capacity"`
		SegmentSize     int64     `json:"segmentSize"`
		Segments        int       `json:"segments"`
		Packets         uint64    `json:"packets"`
		Oldest          time.Time `json:"oldest"`
		DroppedSegments uint64    `json:"droppedSegments"`
		DroppedPackets  uint64    `json:"droppedPackets"`
	} `json:"fifo"`
	Entries map[string]uint64 `json:"entries"`
}

func (s *sniffer) status() status {
	s.t.Helper()
	code, body := s.get("/status")
	if code != 200 {
		s.t.Fatalf("/status: %d %s", code, body)
	}
	var st status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		s.t.Fatalf("/status: %v\n%s", err, body)
	}
	return st
}

// pcap downloads /pcap?query to a file.
func (s *sniffer) pcap(query url.Values) string {
	s.t.Helper()
	code, body := s.get("/pcap?" + query.Encode())
	if code != 200 {
		s.t.Fatalf("/pcap: %d %s", code, body)
	}
	path := filepath.Join(s.t.TempDir(), "sniffer.pcapng")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		s.t.Fatal(err)
	}
	return path
}

// waitFor polls the agent until cond holds, failing after lab.Deadline.
func (s *sniffer) waitFor(what string, cond func() bool) {
	s.t.Helper()
	end := time.Now().Add(lab.Deadline)
	for d := 5 * time.Millisecond; !cond(); d = min(d*2, 200*time.Millisecond) {
		if time.Now().After(end) {
			s.t.Fatalf("waiting for %s: timed out\nagent output:\n%s", what, s.p.Output())
		}
		time.Sleep(d)
	}
}

// waitMarker sends marker datagrams until the agent holds one.
func (s *sniffer) waitMarker(l *lab.Lab) {
	s.t.Helper()
	marker := "kubectl-shark-agent-marker-" + strconv.Itoa(os.Getpid())
	s.waitFor("the marker packet in the FIFO", func() bool {
		exec.Command("ip", "netns", "exec", l.Client, "bash", "-c", fmt.Sprintf("echo -n %s > /dev/udp/%s/9", marker, l.ServerIP)).Run()
		_, body := s.get("/pcap?bpf=" + url.QueryEscape("udp port 9"))
		return strings.Contains(body, marker)
	})
}

func frames(t *testing.T, file string, display string) []string {
	t.Helper()
	// Every socket timestamps a packet itself, so compare what is in the packets.
	args := []string{"-r", file, "-T", "fields", "-e", "frame.len", "-e", "frame.protocols", "-e", "ip.src", "-e", "ip.dst",
		"-e", "ip.id", "-e", "tcp.srcport", "-e", "tcp.seq_raw", "-e", "tcp.ack_raw", "-e", "udp.srcport", "-e", "udp.length"}
	if display != "" {
		args = append(args, "-Y", display)
	}
	return lab.Lines(tshark(t, args...))
}

// TestSnifferAgainstTcpdump runs the agent with each capture backend: both must
// hold tcpdump's frames and dissect the same entries.
func TestSnifferAgainstTcpdump(t *testing.T) {
	for _, backend := range []string{"af_packet", "ebpf"} {
		t.Run(backend, func(t *testing.T) { testSnifferAgainstTcpdump(t, backend) })
	}
}

func testSnifferAgainstTcpdump(t *testing.T, backend string) {
	lab.RequireRoot(t)
	lab.RequireTools(t, "nginx", "curl", "tcpdump", "tshark", "capinfos", "redis-server", "redis-cli", "dnsmasq", "dig")
	l := lab.New(t)
	l.WriteFile("index.html", []byte("hello\n"))
	l.Nginx(`    location = /error { return 500 "boom\n"; }`)
	l.Redis()
	l.Dnsmasq("--address=/web.svc.test/198.18.0.10")

	data := t.TempDir()
	s := startSniffer(t, l, data, "--netns", "/var/run/netns/"+l.Server, "--name", "it", "--segment-size", "64Ki", "--buffer-size", "64Mi",
		"--backend", backend)
	if st := s.status(); st.Backend != backend {
		t.Fatalf("/status says backend %q, want %q", st.Backend, backend)
	}
	td := l.StartTcpdump(l.Server, "eth0", "tcpdump.pcap")

	ip := l.ServerIP
	for i := 0; i < 3; i++ {
		l.Exec(l.Client, "curl", "-sS", "-o", "/dev/null", "-o", "/dev/null", "http://"+ip+"/", "http://"+ip+"/error")
	}
	l.Exec(l.Client, "dig", "+tries=1", "+time=5", "@"+ip, "web.svc.test", "A")
	l.Exec(l.Client, "redis-cli", "-h", ip, "SET", "session:1", "x")
	l.Exec(l.Client, "redis-cli", "-h", ip, "GET", "session:1")

	ref := td.Stop(l.Client, ip)
	s.waitMarker(l)

	t.Run("packets equal tcpdump's", func(t *testing.T) {
		st := s.status()
		if st.KernelDrops != 0 {
			t.Logf("the agent reports %d kernel drops", st.KernelDrops)
		}
		all := s.pcap(url.Values{})
		capinfosClean(t, all)
		// The agent started before tcpdump and stopped after it (it kept capturing
		// until its own marker): tcpdump's frames must appear in the agent's, in
		// order and contiguous.
		want := frames(t, ref, "")
		got := frames(t, all, `frame.interface_name == "eth0"`)
		if len(want) == 0 || len(got) < len(want) {
			t.Fatalf("agent holds %d eth0 frames, tcpdump recorded %d", len(got), len(want))
		}
		start := -1
		for i := 0; i+len(want) <= len(got) && start < 0; i++ {
			if strings.Join(got[i:i+len(want)], "\n") == strings.Join(want, "\n") {
				start = i
			}
		}
		if start < 0 {
			t.Fatalf("tcpdump's %d frames are not a contiguous run of the agent's %d:\nagent:\n%s\ntcpdump:\n%s",
				len(want), len(got), strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		var eth0 uint64
		for _, ifc := range st.Interfaces {
			if ifc.Name == "eth0" {
				eth0 = ifc.Packets
			}
		}
		if eth0 < uint64(len(want)) {
			t.Errorf("/status counts %d eth0 packets, tcpdump recorded %d", eth0, len(want))
		}
		if st.State != "capturing" {
			t.Errorf("state %q", st.State)
		}
	})

	t.Run("entries", func(t *testing.T) {
		code, body := s.get("/entries?kfl=" + url.QueryEscape("http"))
		if code != 200 {
			t.Fatalf("/entries: %d %s", code, body)
		}
		if n := len(lab.Lines(body)); n != 6 {
			t.Errorf("%d HTTP entries, want 6:\n%s", n, body)
		}
		_, body = s.get("/entries?kfl=" + url.QueryEscape(`http && capture_source == "`+backend+`"`))
		if n := len(lab.Lines(body)); n != 6 {
			t.Errorf("%d HTTP entries with capture_source %q, want 6", n, backend)
		}
		_, body = s.get("/entries?kfl=" + url.QueryEscape("http && status_code == 500"))
		if n := len(lab.Lines(body)); n != 3 {
			t.Errorf("%d HTTP 500 entries, want 3", n)
		}
		_, body = s.get("/entries?kfl=" + url.QueryEscape(`dns && "web.svc.test" in dns_questions`))
		if n := len(lab.Lines(body)); n != 1 {
			t.Errorf("%d DNS entries, want 1", n)
		}
		_, body = s.get("/entries?kfl=" + url.QueryEscape(`redis && redis_key == "session:1"`))
		if n := len(lab.Lines(body)); n != 2 {
			t.Errorf("%d Redis entries, want 2", n)
		}
		_, body = s.get("/entries?limit=2")
		if n := len(lab.Lines(body)); n != 2 {
			t.Errorf("limit=2 gave %d entries", n)
		}
		code, body = s.get("/entries?kfl=" + url.QueryEscape(`status_code == "500"`))
		if code != 400 || !strings.Contains(body, "^") {
			t.Errorf("a bad filter: %d %q, want 400 with a caret", code, body)
		}
	})

	t.Run("pcap of matching streams equals offline export", func(t *testing.T) {
		kfl := "http && status_code == 500"
		got := s.pcap(url.Values{"kfl": {kfl}})
		capinfosClean(t, got)
		off := filepath.Join(t.TempDir(), "offline.pcapng")
		mustShark(t, "export", "-r", ref, "--kfl", kfl, "-w", off)
		want := frames(t, off, "")
		have := frames(t, got, `frame.interface_name == "eth0"`)
		if strings.Join(have, "\n") != strings.Join(want, "\n") {
			t.Errorf("/pcap?kfl= gave %d eth0 frames, export -r gave %d:\n%v\nvs\n%v", len(have), len(want), have, want)
		}
		// The stats block carries the drop count.
		if out := tshark(t, "-r", got, "-T", "fields", "-e", "frame.number", "-c", "1"); out == "" {
			t.Errorf("empty export")
		}
	})

	t.Run("stop and start with a filter", func(t *testing.T) {
		if code, body := s.post("/stop"); code != 200 {
			t.Fatalf("/stop: %d %s", code, body)
		}
		if st := s.status(); st.State != "stopped" {
			t.Errorf("after /stop state is %q", st.State)
		}
		if code, body := s.post("/start?filter=" + url.QueryEscape("tcp prot 80")); code != 400 || !strings.Contains(body, "tcp prot 80") {
			t.Errorf("a bad filter: %d %q", code, body)
		}
		if code, body := s.post("/start?filter=" + url.QueryEscape("tcp port 6379")); code != 200 {
			t.Fatalf("/start: %d %s", code, body)
		}
		before := s.status().Packets
		l.Exec(l.Client, "curl", "-sS", "-o", "/dev/null", "http://"+ip+"/")
		l.Exec(l.Client, "redis-cli", "-h", ip, "PING")
		s.waitFor("the PING entry", func() bool {
			_, body := s.get("/entries?kfl=" + url.QueryEscape(`redis && redis_type == "PING"`))
			return len(lab.Lines(body)) == 1
		})
		_, body := s.get("/entries?kfl=" + url.QueryEscape(`http`))
		if n := len(lab.Lines(body)); n != 6 {
			t.Errorf("HTTP traffic passed the port 6379 filter: %d HTTP entries", n)
		}
		if s.status().Packets <= before {
			t.Errorf("no packets after /start")
		}
	})

	t.Run("survives kill -9", func(t *testing.T) {
		held := s.status().FIFO.Packets
		s.p.Signal(t, syscall.SIGKILL)
		s2 := startSniffer(t, l, data, "--netns", "/var/run/netns/"+l.Server, "--segment-size", "64Ki", "--buffer-size", "64Mi", "--backend", backend)
		st := s2.status()
		if st.FIFO.Packets < held {
			t.Errorf("after a restart the FIFO holds %d packets, before the kill %d", st.FIFO.Packets, held)
		}
		_, body := s2.get("/entries?kfl=" + url.QueryEscape("http && status_code == 500"))
		if n := len(lab.Lines(body)); n != 3 {
			t.Errorf("after a restart %d HTTP 500 entries are served, want 3", n)
		}
		got := s2.pcap(url.Values{"kfl": {"http && status_code == 500"}})
		capinfosClean(t, got)
		s2.p.Signal(t, syscall.SIGTERM)
		if s2.p.Cmd.ProcessState.ExitCode() != 0 {
			t.Errorf("SIGTERM: exit code %d, want 0", s2.p.Cmd.ProcessState.ExitCode())
		}
	})
}

func TestSnifferFIFOCap(t *testing.T) {
	lab.RequireRoot(t)
	lab.RequireTools(t, "nginx", "curl")
	l := lab.New(t)
	l.WriteFile("big.bin", bytes.Repeat([]byte("0123456789abcdef"), 64<<10)) // 1 MiB
	l.Nginx("")
	data := t.TempDir()
	const capBytes, seg = 4 << 20, 256 << 10
	s := startSniffer(t, l, data, "--pid", strconv.Itoa(serverPID(t, l)), "--buffer-size", "4Mi", "--segment-size", "256Ki")
	// ~16 MiB through the capture: the 4 MiB cap overruns four times.
	for i := 0; i < 16; i++ {
		l.Exec(l.Client, "curl", "-sS", "-o", "/dev/null", "http://"+l.ServerIP+"/big.bin")
	}
	s.waitMarker(l)
	st := s.status()
	if st.FIFO.DroppedSegments == 0 {
		t.Fatalf("no segment dropped after 16 MiB into a 4 MiB FIFO: %+v", st.FIFO)
	}
	if st.FIFO.Bytes > capBytes+seg+64<<10 {
		t.Errorf("FIFO holds %d bytes, cap %d plus one segment", st.FIFO.Bytes, capBytes)
	}
	var onDisk int64
	ents, _ := os.ReadDir(data)
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			onDisk += fi.Size()
		}
	}
	if onDisk > capBytes+seg+64<<10 {
		t.Errorf("data dir holds %d bytes, cap %d plus one segment", onDisk, capBytes)
	}
	if d := onDisk - st.FIFO.Bytes; d < -64<<10 || d > 64<<10 {
		t.Errorf("/status says %d bytes, the disk holds %d", st.FIFO.Bytes, onDisk)
	}
	// The oldest data went first: what is held is the newest, and /status says
	// how old it is.
	all := s.pcap(url.Values{})
	first := frames(t, all, "")
	if len(first) == 0 {
		t.Fatal("nothing held")
	}
	if st.FIFO.Packets+st.FIFO.DroppedPackets < st.Packets-100 {
		t.Errorf("held %d + dropped %d far below captured %d", st.FIFO.Packets, st.FIFO.DroppedPackets, st.Packets)
	}
	ts, _ := strconv.ParseFloat(strings.TrimSpace(tshark(t, "-r", all, "-c", "1", "-T", "fields", "-e", "frame.time_epoch")), 64)
	if d := time.Duration(ts*1e9) - time.Duration(st.FIFO.Oldest.UnixNano()); d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("oldest packet held at %v, /status says %v", ts, st.FIFO.Oldest)
	}
}

// serverPID returns the PID of the nginx process in the lab's server namespace.
func serverPID(t *testing.T, l *lab.Lab) int {
	t.Helper()
	out := l.Exec(l.Server, "ip", "netns", "pids", l.Server)
	for _, f := range strings.Fields(out) {
		if pid, err := strconv.Atoi(f); err == nil {
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if strings.TrimSpace(string(comm)) == "nginx" {
				return pid
			}
		}
	}
	t.Fatalf("no nginx in %s: %s", l.Server, out)
	return 0
}

func TestSnifferBadInput(t *testing.T) {
	lab.RequireRoot(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing runtime socket", []string{"--container-id", "containerd://0123456789ab", "--runtime-socket", "/nonexistent/containerd.sock"}, "runtime"},
		{"process that does not exist", []string{"--pid", "999999999"}, "999999999"},
		{"not a netns", []string{"--netns", "/etc/hostname"}, "network namespace"},
		{"bad filter", []string{"--netns", "/proc/self/ns/net", "--filter", "tcp prot 80"}, "tcp prot 80"},
		{"bad size", []string{"--netns", "/proc/self/ns/net", "--buffer-size", "lots"}, "quantity"},
		{"two targets", []string{"--pid", "1", "--netns", "/proc/self/ns/net"}, "exactly one"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(snifferBin, append([]string{"--data-dir", t.TempDir(), "--listen", "127.0.0.1:0"}, c.args...)...)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("exit 0; output:\n%s", out)
			}
			if !strings.Contains(string(out), c.want) {
				t.Errorf("output does not mention %q:\n%s", c.want, out)
			}
		})
	}
}

// A full disk is reported, not fatal: the agent drops its oldest segment, says so in
// /status, and keeps capturing.
func TestSnifferFullDisk(t *testing.T) {
	lab.RequireRoot(t)
	lab.RequireTools(t, "nginx", "curl", "mount", "umount")
	l := lab.New(t)
	l.WriteFile("big.bin", bytes.Repeat([]byte("0123456789abcdef"), 64<<10)) // 1 MiB
	l.Nginx("")
	data := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "shark-test-full", data).CombinedOutput(); err != nil {
		t.Fatalf("mounting a 2 MiB tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", data).Run() })
	// The FIFO may use 64 MiB, the disk holds 2 MiB.
	s := startSniffer(t, l, data, "--netns", "/var/run/netns/"+l.Server, "--buffer-size", "64Mi", "--segment-size", "256Ki")
	for i := 0; i < 8; i++ {
		l.Exec(l.Client, "curl", "-sS", "-o", "/dev/null", "http://"+l.ServerIP+"/big.bin")
	}
	s.waitMarker(l)
	code, body := s.get("/status")
	if code != 200 {
		t.Fatalf("/status: %d", code)
	}
	var st struct {
		State string `json:"state"`
		Error string `json:"error"`
		FIFO  struct {
			WriteErrors     uint64 `json:"writeErrors"`
			DroppedSegments uint64 `json:"droppedSegments"`
			LastError       string `json:"lastError"`
		} `json:"fifo"`
	}
	json.Unmarshal([]byte(body), &st)
	if st.FIFO.WriteErrors == 0 || !strings.Contains(st.FIFO.LastError, "disk full") {
		t.Errorf("8 MiB into a 2 MiB disk: /status does not report it:\n%s", body)
	}
	if st.State != "capturing" || s.p.Exited() {
		t.Errorf("the agent stopped capturing on a full disk: state %q", st.State)
	}
}

// TestSnifferTLS: curl (Debian's, linked to OpenSSL) against nginx over HTTPS. With
// --tls the agent's OpenSSL uprobes recover the plaintext: entries show the real
// paths and status codes, tagged tls and ebpf_tls, and /pcap writes the plaintext
// on its own interface, labelled as reconstructed. The wire packets stay TLS.
func TestSnifferTLS(t *testing.T) {
	lab.RequireRoot(t)
	lab.RequireTools(t, "nginx", "curl", "tshark", "capinfos")
	l := lab.New(t)
	l.WriteFile("index.html", []byte("hello over TLS\n"))
	l.Nginx(`    location = /error { return 500 "boom\n"; }`)

	s := startSniffer(t, l, t.TempDir(), "--netns", "/var/run/netns/"+l.Server, "--tls")
	st := s.status()
	if st.TLS == nil || len(st.TLS.Libraries) == 0 {
		t.Fatalf("/status: no libssl probed: %+v\n%s", st.TLS, s.p.Output())
	}

	// Each curl process starts after the probes are attached: they are covered
	// because uprobes sit on the library file, not on a process.
	ip := l.ServerIP
	for i := 0; i < 2; i++ {
		l.Exec(l.Client, "curl", "-sSk", "-o", "/dev/null", "-o", "/dev/null", "https://"+ip+"/", "https://"+ip+"/error")
	}
	s.waitMarker(l) // the wire's packets are in
	s.waitFor("the wire's 2 TLS handshakes", func() bool {
		_, body := s.get("/entries?kfl=" + url.QueryEscape(`tls && protocol == "TLS"`))
		return len(lab.Lines(body)) >= 2
	})
	s.waitFor("4 TLS plaintext HTTP entries", func() bool {
		_, body := s.get("/entries?kfl=" + url.QueryEscape(`http && tls`))
		return len(lab.Lines(body)) >= 4
	})
	_, body := s.get("/entries?kfl=" + url.QueryEscape(`http && tls && capture_source == "ebpf_tls"`))
	got := map[string]int{}
	for _, e := range lab.Lines(body) {
		var m struct {
			Path   string `json:"path"`
			Status int    `json:"status_code"`
		}
		if err := json.Unmarshal([]byte(e), &m); err != nil {
			t.Fatal(err)
		}
		got[fmt.Sprintf("%s %d", m.Path, m.Status)]++
	}
	want := map[string]int{"/ 200": 2, "/error 500": 2}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("TLS plaintext entries %v, want %v:\n%s", got, want, body)
	}
	// On the wire there is no HTTP, only TLS.
	_, body = s.get("/entries?kfl=" + url.QueryEscape(`http && capture_source != "ebpf_tls"`))
	if n := len(lab.Lines(body)); n != 0 {
		t.Errorf("%d HTTP entries from the wire packets of HTTPS traffic:\n%s", n, body)
	}

	// The export of everything TLS (the wire's handshakes, dissected as TLS, and
	// the recovered plaintext): plaintext on the tls-plaintext interface,
	// described as reconstructed; the wire's encrypted records on eth0.
	pc := s.pcap(url.Values{"kfl": {"tls"}})
	_, body = s.get("/entries?kfl=tls")
	capinfosClean(t, pc)
	// Wireshark decodes port 443 as TLS unless told (Decode As), like for any
	// plaintext on a TLS port.
	out := tshark(t, "-r", pc, "-d", "tcp.port==443,http", "-Y", "http.request", "-T", "fields", "-e", "frame.interface_name", "-e", "frame.interface_description", "-e", "http.request.uri")
	lines := lab.Lines(out)
	if len(lines) != 4 {
		t.Fatalf("the export holds %d HTTP requests, want 4:\n%s", len(lines), out)
	}
	for _, ln := range lines {
		f := strings.Split(ln, "\t")
		if len(f) != 3 || f[0] != "tls-plaintext" || !strings.HasPrefix(f[1], "RECONSTRUCTED TLS plaintext") {
			t.Errorf("request not on a labelled reconstructed interface: %q", ln)
		}
	}
	// tshark finds nothing wrong with the synthetic TCP/IP packets.
	// (Only the note that plaintext HTTP runs on a TLS port is expected.)
	exp := tshark(t, "-r", pc, "-d", "tcp.port==443,http", "-o", "tcp.check_checksum:TRUE", "-Y", `_ws.expert.severity >= warning && frame.interface_name == "tls-plaintext"`,
		"-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message")
	for _, ln := range lab.Lines(exp) {
		if !strings.Contains(ln, "Unencrypted HTTP protocol detected over encrypted port") {
			t.Errorf("tshark warning on the reconstructed packets: %s", ln)
		}
	}
	if n := len(lab.Lines(tshark(t, "-r", pc, "-Y", `frame.interface_name == "eth0" && tls.record`))); n == 0 {
		t.Errorf("the export lacks the wire's TLS records of the matching connections:\n%s\nentries:\n%s", tshark(t, "-r", pc, "-T", "fields", "-e", "frame.interface_name", "-e", "frame.protocols"), body)
	}
}

// Without --tls, the same HTTPS traffic gives no HTTP entries at all.
func TestSnifferWithoutTLS(t *testing.T) {
	lab.RequireRoot(t)
	lab.RequireTools(t, "nginx", "curl")
	l := lab.New(t)
	l.WriteFile("index.html", []byte("hello over TLS\n"))
	l.Nginx("")
	s := startSniffer(t, l, t.TempDir(), "--netns", "/var/run/netns/"+l.Server)
	if st := s.status(); st.TLS != nil {
		t.Errorf("/status reports TLS without --tls: %+v", st.TLS)
	}
	l.Exec(l.Client, "curl", "-sSk", "-o", "/dev/null", "https://"+l.ServerIP+"/")
	s.waitMarker(l)
	s.waitFor("the HTTPS connection's record", func() bool {
		_, body := s.get("/entries?kfl=" + url.QueryEscape(`tcp && dst.port == "443"`))
		return len(lab.Lines(body)) >= 1
	})
	if _, body := s.get("/entries?kfl=" + url.QueryEscape("http")); len(lab.Lines(body)) != 0 {
		t.Errorf("HTTP entries without --tls:\n%s", body)
	}
}

// A --tls-lib that does not exist: the packet capture goes on, and /status says
// why TLS plaintext is off, naming the path.
func TestSnifferTLSBadLibrary(t *testing.T) {
	lab.RequireRoot(t)
	lab.RequireTools(t, "nginx", "curl")
	l := lab.New(t)
	l.Nginx("")
	s := startSniffer(t, l, t.TempDir(), "--netns", "/var/run/netns/"+l.Server, "--tls", "--tls-lib", "/nonexistent/libssl.so.3")
	st := s.status()
	if st.State != "capturing" {
		t.Errorf("state %q: a bad --tls-lib must not stop the packet capture", st.State)
	}
	if st.TLS == nil || len(st.TLS.Libraries) != 0 || !strings.Contains(st.TLS.Error, "/nonexistent/libssl.so.3") {
		t.Errorf("/status tls = %+v, want no library and an error naming /nonexistent/libssl.so.3", st.TLS)
	}
	l.Exec(l.Client, "curl", "-sS", "-o", "/dev/null", "http://"+l.ServerIP+"/")
	s.waitFor("the HTTP entry captured anyway", func() bool {
		_, body := s.get("/entries?kfl=" + url.QueryEscape("http"))
		return len(lab.Lines(body)) == 1
	})
}
