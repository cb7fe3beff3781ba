package sniffertest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/netns"
)

// Tcpdump is a reference capture: `tcpdump -i any` inside a namespace,
// writing a pcap file packet by packet.
type Tcpdump struct {
	*Process
	File string
}

// StartTcpdump starts tcpdump on every interface of ns with the given filter
// expression (may be empty) and waits until it listens.
func StartTcpdump(t testing.TB, ns Netns, filter ...string) *Tcpdump {
	t.Helper()
	file := filepath.Join(t.TempDir(), "ref.pcap")
	args := append([]string{"-i", "any", "-n", "-U", "--immediate-mode", "-s", "262144", "-B", "65536",
		"--time-stamp-precision=nano", "-Z", "root", "-w", file}, filter...)
	p := Start(t, ns.Command(t.Context(), "tcpdump", args...))
	p.WaitOutput(t, "listening on", 15*time.Second)
	return &Tcpdump{Process: p, File: file}
}

var droppedRE = regexp.MustCompile(`(\d+) packets? dropped by kernel`)

// Stop stops tcpdump and returns the drops it reported.
func (d *Tcpdump) Stop(t testing.TB) (kernelDrops int) {
	t.Helper()
	d.Process.Stop(os.Interrupt)
	m := droppedRE.FindStringSubmatch(d.Stderr.String())
	if m == nil {
		t.Fatalf("tcpdump printed no drop count:\n%s", d.Stderr)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// WaitFor waits until the capture file holds a packet containing marker.
func (d *Tcpdump) WaitFor(t testing.TB, marker []byte, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		data, _ := os.ReadFile(d.File)
		if bytes.Contains(data, marker) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tcpdump did not capture marker %q within %v", marker, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Record is one packet of a pcap file.
type Record struct {
	Timestamp time.Time
	LinkType  layers.LinkType
	Length    int
	Data      []byte
}

// ReadPcap reads every packet of a pcap file.
func ReadPcap(t testing.TB, file string) []Record {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("reading %s: %v", file, err)
	}
	var recs []Record
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return recs
		}
		if err != nil {
			t.Fatalf("reading %s: %v", file, err)
		}
		recs = append(recs, Record{Timestamp: ci.Timestamp, LinkType: r.LinkType(), Length: ci.Length, Data: data})
	}
}

// Summary is what two captures of the same packet must agree on.
type Summary struct {
	Ifindex   int
	PktType   uint8
	Protocol  uint16
	Network   string // the packet from its network header on
	WireBytes int    // length of the network part on the wire
}

// Summarize reads the ifindex, packet type, protocol and network layer of a
// LINUX_SLL2 frame (as tcpdump -i any writes them).
func SummarizeSLL2(data []byte, length int) (Summary, bool) {
	if len(data) < 20 {
		return Summary{}, false
	}
	return Summary{
		Ifindex:   int(binary.BigEndian.Uint32(data[4:])),
		PktType:   data[10],
		Protocol:  binary.BigEndian.Uint16(data[0:]),
		Network:   string(data[20:]),
		WireBytes: length - 20,
	}, true
}

// SendUDP sends one datagram from inside ns.
func SendUDP(t testing.TB, ns Netns, dst string, payload []byte) {
	t.Helper()
	f, err := os.Open(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = netns.Do(f, func() error {
		c, err := net.Dial("udp", dst)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write(payload)
		return err
	})
	if err != nil {
		t.Fatalf("sending UDP to %s in %s: %v", dst, ns.Name, err)
	}
}

// SendTCP connects from inside ns, writes payload and closes.
func SendTCP(t testing.TB, ns Netns, dst string, payload []byte) {
	t.Helper()
	f, err := os.Open(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var c net.Conn
	if err := netns.Do(f, func() error {
		var err error
		c, err = net.DialTimeout("tcp", dst, 5*time.Second)
		return err
	}); err != nil {
		t.Fatalf("connecting to %s in %s: %v", dst, ns.Name, err)
	}
	defer c.Close()
	if _, err := c.Write(payload); err != nil {
		t.Fatal(err)
	}
}
