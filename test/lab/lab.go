// Package lab builds real network labs for privileged integration tests: network
// namespaces joined by a veth pair (addresses from the 198.18.0.0/15 test range), real
// servers from Debian packages (nginx, redis-server, dnsmasq) on one side, real
// clients (curl, dig, redis-cli) on the other, and tcpdump recording.
//
// Every process a lab starts is stopped by PID in t.Cleanup, and every namespace it
// creates is deleted. Waits are on readiness signals (a log line, a port that
// answers, a marker packet in the capture file), bounded by a deadline.
package lab

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Deadline bounds every wait of the lab.
const Deadline = 60 * time.Second

// RequireRoot skips the test when not running as root: network namespaces need it.
// CI runs as root, so these tests always run there.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("privileged integration test: needs root (network namespaces, veth pairs); run `sudo make test-integration`")
	}
}

// RequireTools fails the test when a tool the lab needs is missing: `make test`
// installs them, so a missing tool is a broken setup, not a reason to skip.
func RequireTools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: run `make deps` (installs the Debian packages the tests use)", tool)
		}
	}
}

// Lab is a pair of network namespaces, Server and Client, joined by a veth pair.
type Lab struct {
	t        testing.TB
	Server   string // netns name
	Client   string
	ServerIP string // 198.18.N.1
	ClientIP string // 198.18.N.2
	// ServerIf and ClientIf are the veth ends' names inside each namespace.
	ServerIf, ClientIf string
	Dir                string
}

var subnetMu sync.Mutex
var subnetNext = 0

// New creates the two namespaces and the veth pair. Subnets are distinct per lab in
// one process (198.18.<n>.0/24, n from 100 upwards, plus a random component across
// processes).
func New(t testing.TB) *Lab {
	t.Helper()
	RequireRoot(t)
	RequireTools(t, "ip")
	var rb [3]byte
	rand.Read(rb[:])
	id := hex.EncodeToString(rb[:])
	subnetMu.Lock()
	n := 100 + (int(rb[0])%100+subnetNext)%150
	subnetNext++
	subnetMu.Unlock()
	l := &Lab{
		t: t, Server: "shk-s-" + id, Client: "shk-c-" + id,
		ServerIP: fmt.Sprintf("198.18.%d.1", n), ClientIP: fmt.Sprintf("198.18.%d.2", n),
		ServerIf: "eth0", ClientIf: "eth0", Dir: t.TempDir(),
	}
	hostA, hostB := "shks"+id, "shkc"+id
	l.must("ip", "netns", "add", l.Server)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", l.Server).Run() })
	l.must("ip", "netns", "add", l.Client)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", l.Client).Run() })
	l.must("ip", "link", "add", hostA, "type", "veth", "peer", "name", hostB)
	l.must("ip", "link", "set", hostA, "netns", l.Server)
	l.must("ip", "link", "set", hostB, "netns", l.Client)
	l.must("ip", "-n", l.Server, "link", "set", hostA, "name", l.ServerIf)
	l.must("ip", "-n", l.Client, "link", "set", hostB, "name", l.ClientIf)
	l.must("ip", "-n", l.Server, "addr", "add", l.ServerIP+"/24", "dev", l.ServerIf)
	l.must("ip", "-n", l.Client, "addr", "add", l.ClientIP+"/24", "dev", l.ClientIf)
	for _, ns := range []string{l.Server, l.Client} {
		l.must("ip", "-n", ns, "link", "set", "lo", "up")
		l.must("ip", "-n", ns, "link", "set", "eth0", "up")
	}
	return l
}

func (l *Lab) must(args ...string) {
	l.t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Exec runs a command in a namespace and returns its standard output; it fails the
// test on error.
func (l *Lab) Exec(ns string, args ...string) string {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		l.t.Fatalf("in %s: %s: %v\n%s%s", ns, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// Process is a background process started by the lab.
type Process struct {
	Cmd  *exec.Cmd
	Name string
	log  *lineLog
	done chan struct{}
	err  error
}

// Start runs a command in the background in namespace ns (the host namespace when
// ns is ""). Its combined output is kept for WaitLog and failure messages. It is
// stopped (SIGTERM, then SIGKILL) in t.Cleanup.
func (l *Lab) Start(ns, name string, args ...string) *Process {
	l.t.Helper()
	if ns != "" {
		args = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	lg := newLineLog()
	cmd.Stdout, cmd.Stderr = lg, lg
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("starting %s: %v", name, err)
	}
	p := &Process{Cmd: cmd, Name: name, log: lg, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	l.t.Cleanup(func() { p.Stop() })
	return p
}

// Stop sends SIGTERM and waits for the process, then SIGKILL after a grace period.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.Cmd.Process.Kill()
		<-p.done
	}
}

// Signal sends sig and waits for the process to exit.
func (p *Process) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	p.Cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(Deadline):
		t.Fatalf("%s did not exit after %v", p.Name, sig)
	}
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Output is everything the process printed so far.
func (p *Process) Output() string { return p.log.String() }

// WaitLog waits until the process prints a line containing substr.
func (p *Process) WaitLog(t testing.TB, substr string) {
	t.Helper()
	if err := p.log.wait(substr, p.done, Deadline); err != nil {
		t.Fatalf("%s: %v; output:\n%s", p.Name, err, p.log.String())
	}
}

// lineLog collects output and wakes waiters on each write.
type lineLog struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	cond chan struct{}
}

func newLineLog() *lineLog { return &lineLog{cond: make(chan struct{})} }

func (l *lineLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	l.buf.Write(b)
	close(l.cond)
	l.cond = make(chan struct{})
	l.mu.Unlock()
	return len(b), nil
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *lineLog) wait(substr string, exited <-chan struct{}, d time.Duration) error {
	deadline := time.After(d)
	for {
		l.mu.Lock()
		found := strings.Contains(l.buf.String(), substr)
		ch := l.cond
		l.mu.Unlock()
		if found {
			return nil
		}
		select {
		case <-ch:
		case <-exited:
			if strings.Contains(l.String(), substr) {
				return nil
			}
			return fmt.Errorf("exited before printing %q", substr)
		case <-deadline:
			return fmt.Errorf("no %q after %v", substr, d)
		}
	}
}

// WaitTCP waits until a TCP connection to addr:port succeeds from namespace ns.
func (l *Lab) WaitTCP(ns, addr string, port int) {
	l.t.Helper()
	l.poll(fmt.Sprintf("tcp %s:%d from %s", addr, port, ns), func() bool {
		return exec.Command("ip", "netns", "exec", ns, "bash", "-c",
			fmt.Sprintf("exec 3<>/dev/tcp/%s/%d", addr, port)).Run() == nil
	})
}

// poll re-checks cond with a short back-off until it holds or Deadline passes.
func (l *Lab) poll(what string, cond func() bool) {
	l.t.Helper()
	end := time.Now().Add(Deadline)
	wait := 5 * time.Millisecond
	for !cond() {
		if time.Now().After(end) {
			l.t.Fatalf("waiting for %s: timed out after %v", what, Deadline)
		}
		time.Sleep(wait)
		if wait < 200*time.Millisecond {
			wait *= 2
		}
	}
}

// Tcpdump records interface iface of namespace ns into a pcap file until Stop.
type Tcpdump struct {
	l    *Lab
	p    *Process
	ns   string
	Path string
}

// StartTcpdump starts tcpdump and waits until it is capturing.
func (l *Lab) StartTcpdump(ns, iface, file string, extra ...string) *Tcpdump {
	l.t.Helper()
	RequireTools(l.t, "tcpdump")
	path := filepath.Join(l.Dir, file)
	args := append([]string{"tcpdump", "-i", iface, "-n", "-U", "--immediate-mode", "--time-stamp-precision=nano", "-s", "0", "-w", path}, extra...)
	p := l.Start(ns, "tcpdump", args...)
	p.WaitLog(l.t, "listening on")
	return &Tcpdump{l: l, p: p, ns: ns, Path: path}
}

// Stop makes sure every packet sent so far is on disk, then stops tcpdump: it sends
// a marker datagram from peer namespace to the server and waits for it in the file.
func (td *Tcpdump) Stop(fromNS, toIP string) string {
	td.l.t.Helper()
	marker := "kubectl-shark-lab-marker-" + filepath.Base(td.Path)
	td.l.poll("capture marker in "+td.Path, func() bool {
		exec.Command("ip", "netns", "exec", fromNS, "bash", "-c",
			fmt.Sprintf("echo -n %s > /dev/udp/%s/9", marker, toIP)).Run()
		b, _ := os.ReadFile(td.Path)
		return bytes.Contains(b, []byte(marker))
	})
	td.p.Signal(td.l.t, syscall.SIGINT)
	return td.Path
}

// Nginx starts nginx in the server namespace with the given server-block body,
// listening on port 80 and, with TLS (a self-signed certificate for ServerIP), on
// port 443, and waits until both answer.
func (l *Lab) Nginx(serverBlock string) *Process {
	l.t.Helper()
	RequireTools(l.t, "nginx")
	dir := filepath.Join(l.Dir, "nginx")
	os.MkdirAll(filepath.Join(dir, "www"), 0o755)
	l.selfSigned(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log stderr notice;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s/tmp-body;
  proxy_temp_path %[1]s/tmp-proxy;
  fastcgi_temp_path %[1]s/tmp-fcgi;
  uwsgi_temp_path %[1]s/tmp-uwsgi;
  scgi_temp_path %[1]s/tmp-scgi;
  default_type text/plain;
  keepalive_requests 1000;
  server {
    listen %[2]s:80;
    listen %[2]s:443 ssl;
    ssl_certificate %[1]s/cert.pem;
    ssl_certificate_key %[1]s/key.pem;
    root %[1]s/www;
%[3]s
  }
}
`, dir, l.ServerIP, serverBlock)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		l.t.Fatal(err)
	}
	p := l.Start(l.Server, "nginx", "nginx", "-c", path, "-e", "stderr")
	l.WaitTCP(l.Client, l.ServerIP, 80)
	l.WaitTCP(l.Client, l.ServerIP, 443)
	return p
}

// selfSigned writes a fresh ECDSA key and a self-signed certificate for ServerIP.
func (l *Lab) selfSigned(certPath, keyPath string) {
	l.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		l.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kubectl-shark test server"},
		IPAddresses:  []net.IP{net.ParseIP(l.ServerIP)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		l.t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		l.t.Fatal(err)
	}
}

// WriteFile writes a file under the nginx document root.
func (l *Lab) WriteFile(rel string, data []byte) {
	l.t.Helper()
	path := filepath.Join(l.Dir, "nginx", "www", rel)
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		l.t.Fatal(err)
	}
}

// Redis starts redis-server in the server namespace on port 6379.
func (l *Lab) Redis() *Process {
	l.t.Helper()
	RequireTools(l.t, "redis-server")
	p := l.Start(l.Server, "redis-server", "redis-server", "--bind", l.ServerIP, "--port", "6379",
		"--save", "", "--appendonly", "no", "--dir", l.Dir, "--protected-mode", "no")
	p.WaitLog(l.t, "Ready to accept connections")
	return p
}

// Dnsmasq starts dnsmasq in the server namespace on port 53 with extra options
// (e.g. "--address=/svc.test/198.18.0.10"), and waits until it answers.
func (l *Lab) Dnsmasq(opts ...string) *Process {
	l.t.Helper()
	RequireTools(l.t, "dnsmasq", "dig")
	args := append([]string{"dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
		"--listen-address=" + l.ServerIP, "--bind-interfaces", "--port=53", "--log-facility=-",
		"--pid-file=" + filepath.Join(l.Dir, "dnsmasq.pid"), "--user=root"}, opts...)
	p := l.Start(l.Server, "dnsmasq", args...)
	p.WaitLog(l.t, "started")
	return p
}

// Lines splits command output into non-empty trimmed lines.
func Lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			out = append(out, line)
		}
	}
	return out
}

var _ io.Writer = (*lineLog)(nil)
