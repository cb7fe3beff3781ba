// Command tool holds the small Go drivers `make bench` (hack/bench/run.sh) needs besides
// the generator:
//
//	tool fifo -r FILE -dir DIR [-dissect] [-segment-size 16Mi] [-buffer-size 128Mi] [-cpuprofile F]
//	    replays a capture file into the sniffer's FIFO (pkg/sniffer/fifo) exactly as the
//	    agent's capture loop does (with -dissect: the dissection pipeline assigns each
//	    packet's stream and entries are indexed; without: stream 0), and prints
//	    "packets bytes seconds" for the part between opening the file and closing the
//	    FIFO. This is the FIFO's write path alone, without a capture socket.
//
//	tool httpload -addr HOST:PORT -c CONNS -rate REQ_PER_S -d DURATION
//	    a paced HTTP/1.1 keep-alive load generator (GET /, small responses): CONNS
//	    connections share REQ_PER_S. Prints "requests errors seconds".
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/protocols"
	"github.com/kubectl-shark/kubectl-shark/pkg/export"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/fifo"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "fifo":
		err = fifoCmd(os.Args[2:])
	case "httpload":
		err = httpLoad(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tool:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: tool fifo -r FILE -dir DIR [-dissect] | tool httpload -addr HOST:PORT -c N -rate R -d DUR")
	os.Exit(2)
}

func size(s string) (int64, error) {
	mult := int64(1)
	for suf, m := range map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30} {
		if strings.HasSuffix(s, suf) {
			s, mult = strings.TrimSuffix(s, suf), m
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n * mult, err
}

func fifoCmd(args []string) error {
	fs := flag.NewFlagSet("fifo", flag.ExitOnError)
	in := fs.String("r", "", "capture file")
	dir := fs.String("dir", "", "FIFO directory (created; must not hold segments)")
	dis := fs.Bool("dissect", false, "run the dissection pipeline as the agent does")
	seg := fs.String("segment-size", "16Mi", "segment size")
	buf := fs.String("buffer-size", "128Mi", "buffer size")
	prof := fs.String("cpuprofile", "", "write a CPU profile here")
	fs.Parse(args)
	if *prof != "" {
		pf, err := os.Create(*prof)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	segSize, err := size(*seg)
	if err != nil {
		return err
	}
	bufSize, err := size(*buf)
	if err != nil {
		return err
	}
	start := time.Now()
	inf, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer inf.Close()
	r, err := export.OpenMapped(inf) // as `entries -r` reads files
	if err != nil {
		return err
	}
	defer r.Close()
	f, _, err := fifo.Open(fifo.Config{Dir: *dir, SegmentSize: segSize, SegmentAge: time.Minute, BufferSize: bufSize,
		Application: "hack/bench/tool"})
	if err != nil {
		return err
	}
	var pl *dissect.Pipeline
	if *dis {
		pc := protocols.Config()
		pc.CaptureSource = "af_packet"
		pl = dissect.New(pc, func(e *dissect.Entry) {
			if err := f.WriteEntry(e); err != nil {
				fmt.Fprintln(os.Stderr, "tool: writing an entry:", err)
			}
		})
	}
	ifmap := map[int]int{}
	var packets, bytes int64
	var dp dissect.Packet
	for {
		p, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		idx, ok := ifmap[p.Interface]
		if !ok {
			ifc := r.Interfaces()[p.Interface]
			if idx, err = f.AddInterface(ifc); err != nil {
				return err
			}
			ifmap[p.Interface] = idx
		}
		var sid dissect.StreamID
		if pl != nil {
			dp = dissect.Packet{Timestamp: p.Timestamp, LinkType: r.Interfaces()[p.Interface].LinkType, Interface: idx,
				Data: p.Data, Length: p.Length}
			sid = pl.Packet(&dp)
		}
		p.Interface = idx
		if err := f.WritePacket(p, sid); err != nil {
			return err
		}
		packets++
		bytes += int64(len(p.Data))
	}
	if pl != nil {
		pl.Flush()
	}
	if err := f.Close(); err != nil {
		return err
	}
	st := f.Stats()
	if st.WriteErrors > 0 {
		return fmt.Errorf("%d write errors: %s", st.WriteErrors, st.LastError)
	}
	fmt.Printf("%d %d %.6f\n", packets, bytes, time.Since(start).Seconds())
	return nil
}

func httpLoad(args []string) error {
	fs := flag.NewFlagSet("httpload", flag.ExitOnError)
	addr := fs.String("addr", "", "server address")
	conns := fs.Int("c", 16, "connections")
	rate := fs.Float64("rate", 20000, "requests per second, all connections together")
	dur := fs.Duration("d", 10*time.Second, "duration")
	fs.Parse(args)
	var reqs, errs atomic.Int64
	start := time.Now()
	deadline := start.Add(*dur)
	per := time.Duration(float64(time.Second) * float64(*conns) / *rate) // interval per connection
	var wg sync.WaitGroup
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req := []byte("GET /bench?c=" + strconv.Itoa(i) + " HTTP/1.1\r\nHost: bench\r\nUser-Agent: hack/bench\r\n\r\n")
			var c net.Conn
			var br *bufio.Reader
			next := start.Add(per * time.Duration(i) / time.Duration(*conns))
			for time.Now().Before(deadline) {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				next = next.Add(per)
				if now := time.Now(); next.Before(now.Add(-time.Second)) {
					next = now // fell behind by more than a second: do not burst
				}
				if c == nil {
					var err error
					if c, err = net.DialTimeout("tcp", *addr, 2*time.Second); err != nil {
						errs.Add(1)
						time.Sleep(10 * time.Millisecond)
						continue
					}
					br = bufio.NewReaderSize(c, 16<<10)
				}
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if err := roundTrip(c, br, req); err != nil {
					errs.Add(1)
					c.Close()
					c = nil
					continue
				}
				reqs.Add(1)
			}
			if c != nil {
				c.Close()
			}
		}(i)
	}
	wg.Wait()
	fmt.Printf("%d %d %.3f\n", reqs.Load(), errs.Load(), time.Since(start).Seconds())
	return nil
}

// roundTrip sends one request and reads a Content-Length response.
func roundTrip(c net.Conn, br *bufio.Reader, req []byte) error {
	if _, err := c.Write(req); err != nil {
		return err
	}
	status, err := br.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(status, "HTTP/1.1 200") {
		return fmt.Errorf("status %q", strings.TrimSpace(status))
	}
	n := -1
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "content-length") {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if n < 0 {
		return errors.New("no Content-Length")
	}
	_, err = br.Discard(n)
	return err
}
