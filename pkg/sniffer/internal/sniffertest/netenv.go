// Package sniffertest builds the real environments that the sniffer's
// privileged tests capture in: network namespaces joined by veth pairs, nginx,
// tcpdump as the reference capture, and a private containerd with a container;
// and the traffic, packet collection and checks that the tests of both capture
// backends (AF_PACKET and eBPF) share.
//
// Everything is started by the test process, stopped by PID and removed with
// t.Cleanup. Addresses are from 198.18.0.0/15 and only ever used inside
// namespaces made here.
package sniffertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Addresses of a Pair.
const (
	ServerIP = "198.18.0.1"
	ClientIP = "198.18.0.2"
)

// RequireRoot skips the test unless it runs as root on Linux, the only place
// these tests can run. CI runs them as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping privileged test: needs root (network namespaces, AF_PACKET, containerd); run `go test` as root")
	}
}

var seq atomic.Int32

// UniqueName returns a name unique to this process and call, at most 15 bytes
// (IFNAMSIZ-1) for prefixes of up to 4 bytes.
func UniqueName(prefix string) string {
	return fmt.Sprintf("%s%d%c%d", prefix, os.Getpid()%1000000, 'x', seq.Add(1))
}

// Run runs a command and fails the test with its output if it fails.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Netns is a named network namespace under /var/run/netns.
type Netns struct {
	Name string
}

// Path is the namespace's bind mount.
func (n Netns) Path() string { return "/var/run/netns/" + n.Name }

// Command returns a command that runs inside the namespace.
func (n Netns) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Run runs a command inside the namespace and fails the test if it fails.
func (n Netns) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	return Run(t, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Open opens the namespace file.
func (n Netns) Open(t testing.TB) *os.File {
	t.Helper()
	f, err := os.Open(n.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// Link is an interface as `ip -j link` shows it.
type Link struct {
	Index    int    `json:"ifindex"`
	Name     string `json:"ifname"`
	MTU      int    `json:"mtu"`
	LinkType string `json:"link_type"`
}

// Links lists the namespace's interfaces with iproute2.
func (n Netns) Links(t testing.TB) []Link {
	t.Helper()
	var links []Link
	if err := json.Unmarshal([]byte(Run(t, "ip", "-n", n.Name, "-j", "link", "show")), &links); err != nil {
		t.Fatal(err)
	}
	return links
}

// NewNetns creates a namespace with IPv6 disabled (so it is silent: no router
// or neighbour solicitations) and lo up, deleted at cleanup.
func NewNetns(t testing.TB) Netns {
	t.Helper()
	n := Netns{Name: UniqueName("shk")}
	Run(t, "ip", "netns", "add", n.Name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.Name).Run() })
	n.Run(t, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	Run(t, "ip", "-n", n.Name, "link", "set", "lo", "up")
	return n
}

// Pair is two namespaces joined by a veth pair: Server (ServerIP on
// ServerIf) and Client (ClientIP on ClientIf), with static neighbour entries
// so that no ARP crosses the link.
type Pair struct {
	Server, Client     Netns
	ServerIf, ClientIf string
}

// NewPair creates a Pair, deleted at cleanup.
func NewPair(t testing.TB) *Pair {
	t.Helper()
	p := &Pair{Server: NewNetns(t), Client: NewNetns(t)}
	p.ServerIf, p.ClientIf = p.Server.Name+"s", p.Client.Name+"c"
	Run(t, "ip", "link", "add", p.ServerIf, "netns", p.Server.Name, "type", "veth", "peer", p.ClientIf, "netns", p.Client.Name)
	for _, side := range []struct {
		ns      Netns
		ifc, ip string
	}{{p.Server, p.ServerIf, ServerIP}, {p.Client, p.ClientIf, ClientIP}} {
		Run(t, "ip", "-n", side.ns.Name, "addr", "add", side.ip+"/24", "dev", side.ifc)
		Run(t, "ip", "-n", side.ns.Name, "link", "set", side.ifc, "up")
	}
	Run(t, "ip", "-n", p.Server.Name, "neigh", "replace", ClientIP, "lladdr", p.mac(t, p.Client, p.ClientIf), "dev", p.ServerIf, "nud", "permanent")
	Run(t, "ip", "-n", p.Client.Name, "neigh", "replace", ServerIP, "lladdr", p.mac(t, p.Server, p.ServerIf), "dev", p.ClientIf, "nud", "permanent")
	return p
}

func (p *Pair) mac(t testing.TB, ns Netns, ifc string) string {
	var links []struct {
		Address string `json:"address"`
	}
	if err := json.Unmarshal([]byte(Run(t, "ip", "-n", ns.Name, "-j", "link", "show", "dev", ifc)), &links); err != nil || len(links) != 1 {
		t.Fatalf("reading MAC of %s: %v", ifc, err)
	}
	return links[0].Address
}

// Process is a started command, stopped by PID at cleanup.
type Process struct {
	Cmd    *exec.Cmd
	Stderr *Buffer // the command's stderr unless the caller set one
	done   chan struct{}
	err    error
}

// Start starts cmd and registers its stop (SIGINT, then SIGKILL) at cleanup.
func Start(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	if cmd.Stderr == nil {
		p.Stderr = new(Buffer)
		cmd.Stderr = p.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.Stop(os.Interrupt) })
	return p
}

// PID is the process's ID.
func (p *Process) PID() int { return p.Cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Stop sends sig, waits up to 10 s, then kills; it returns the exit error.
func (p *Process) Stop(sig os.Signal) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	p.Cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.Cmd.Process.Kill()
		<-p.done
	}
	return p.err
}

// WaitOutput waits until the process's stderr contains s, the process exits,
// or the timeout passes; it fails the test unless s appeared.
func (p *Process) WaitOutput(t testing.TB, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		changed := p.Stderr.changed()
		if strings.Contains(p.Stderr.String(), s) {
			return
		}
		select {
		case <-changed:
		case <-p.done:
			if strings.Contains(p.Stderr.String(), s) {
				return
			}
			t.Fatalf("%s exited before printing %q: %v\n%s", p.Cmd, s, p.err, p.Stderr)
		case <-deadline:
			t.Fatalf("%s did not print %q within %v:\n%s", p.Cmd, s, timeout, p.Stderr)
		}
	}
}

// Buffer is an io.Writer safe for one writer and many readers, whose readers
// can wait for a change.
type Buffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	wake chan struct{}
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wake != nil {
		close(b.wake)
		b.wake = nil
	}
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *Buffer) changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wake == nil {
		b.wake = make(chan struct{})
	}
	return b.wake
}
