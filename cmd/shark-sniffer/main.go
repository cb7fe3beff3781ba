// Command shark-sniffer is kubectl-shark's capture agent. It runs in a sniffer pod on
// the target's node (or standalone on any Linux host), captures inside the target's
// network namespace into a bounded FIFO, dissects live, and serves queries on an HTTP
// API bound to its own network namespace.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kubectl-shark/kubectl-shark/internal/version"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/target"
)

// quantity is a flag holding a Kubernetes quantity (8Mi, 256Mi, 2Gi) as bytes.
type quantity struct{ v int64 }

func (q *quantity) String() string { return resource.NewQuantity(q.v, resource.BinarySI).String() }
func (q *quantity) Set(s string) error {
	r, err := resource.ParseQuantity(s)
	if err != nil {
		return fmt.Errorf("%q is not a size: use a Kubernetes quantity such as 8Mi, 256Mi or 2Gi", s)
	}
	if r.Sign() <= 0 {
		return fmt.Errorf("%q: the size must be positive", s)
	}
	q.v = r.Value()
	return nil
}

type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

func main() {
	os.Exit(run())
}

func run() int {
	var cfg sniffer.Config
	var ifaces stringList
	segSize, bufSize, ring := quantity{16 << 20}, quantity{256 << 20}, quantity{8 << 20}
	fs := flag.NewFlagSet("shark-sniffer", flag.ContinueOnError)
	fs.StringVar(&cfg.Target.ContainerID, "container-id", "", "Target container ID (resolved through containerd, or a /proc/*/cgroup scan)")
	fs.StringVar(&cfg.Target.RuntimeSocket, "runtime-socket", target.DefaultRuntimeSocket, "containerd socket")
	fs.StringVar(&cfg.Target.RuntimeNamespace, "runtime-namespace", target.DefaultRuntimeNamespace, "containerd namespace")
	fs.IntVar(&cfg.Target.PID, "pid", 0, "Target process ID (its network namespace is captured)")
	fs.StringVar(&cfg.Target.NetnsPath, "netns", "", "Target network namespace path (e.g. /var/run/netns/NAME)")
	fs.StringVar(&cfg.Target.ProcRoot, "proc-root", target.DefaultProcRoot, "Where the host's /proc is mounted")
	fs.Var(&ifaces, "interface", "Interfaces to capture (comma-separated; default: all of the target netns)")
	fs.StringVar(&cfg.Filter, "filter", "", "tcpdump filter expression")
	fs.IntVar(&cfg.SnapLen, "snaplen", 262144, "Bytes kept per packet")
	fs.Var(&ring, "ring-size", "Size of the kernel capture ring (TPACKET_V3, or the eBPF ring buffer)")
	fs.StringVar(&cfg.Backend, "backend", sniffer.BackendAFPacket, "Capture backend: af_packet, ebpf (TC programs) or auto (eBPF where it loads, else af_packet)")
	fs.BoolVar(&cfg.TLS, "tls", false, "Recover TLS plaintext from OpenSSL with uprobes and dissect it")
	var tlsLibs stringList
	fs.Var(&tlsLibs, "tls-lib", "With --tls: libssl path(s) in the target's filesystem to probe (default: search)")
	fs.StringVar(&cfg.DataDir, "data-dir", "/var/lib/shark", "Directory of the FIFO's segments")
	fs.Var(&segSize, "segment-size", "Rotate segments at this size")
	fs.DurationVar(&cfg.SegmentAge, "segment-age", time.Minute, "Rotate segments at this age")
	fs.Var(&bufSize, "buffer-size", "Total bytes the FIFO keeps (oldest segments dropped first)")
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8899", "API address (in the sniffer's own network namespace)")
	fs.StringVar(&cfg.ReadyFile, "ready-file", "", "File created once the capture socket is attached")
	fs.DurationVar(&cfg.Heartbeat, "heartbeat-timeout", 0, "Exit when no API request arrives for this long (0: never)")
	fs.StringVar(&cfg.Node, "node", os.Getenv("NODE_NAME"), "Node name, for status and exports")
	fs.StringVar(&cfg.Name, "name", "", "Capture name, for status and exports")
	logJSON := fs.Bool("log-json", false, "Log JSON lines instead of text")
	showVersion := fs.Bool("version", false, "Print the version and exit")
	probe := fs.String("probe", "", "Check URL answers 200 and exit (the pod's readiness probe; the image has no shell)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *probe != "" {
		return probeURL(*probe)
	}
	if *showVersion {
		fmt.Println(version.String())
		return 0
	}
	cfg.Interfaces = ifaces
	cfg.TLSLibs = tlsLibs
	switch cfg.Backend {
	case sniffer.BackendAFPacket, sniffer.BackendEBPF, sniffer.BackendAuto:
	default:
		fmt.Fprintf(os.Stderr, "--backend %q: use af_packet, ebpf or auto\n", cfg.Backend)
		return 2
	}
	cfg.SegmentSize, cfg.BufferSize, cfg.RingSize = segSize.v, bufSize.v, ring.v
	cfg.Version = version.Version

	var h slog.Handler = slog.NewTextHandler(os.Stderr, nil)
	if *logJSON {
		h = slog.NewJSONHandler(os.Stderr, nil)
	}
	log := slog.New(h)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	a, err := sniffer.New(ctx, cfg, log)
	if err != nil {
		log.Error("starting", "error", err)
		fmt.Fprintln(os.Stderr, "error:", err)
		return 1
	}
	if err := a.Run(ctx); err != nil {
		log.Error("capture ended", "error", err)
		return 1
	}
	return 0
}

// probeURL is the readiness probe: exit 0 when url answers 200.
func probeURL(url string) int {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, resp.Status)
		return 1
	}
	return 0
}
