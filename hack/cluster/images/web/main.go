// Command web is the static test and demo program of the kubectl-shark test cluster. It is the
// only binary of the image docker.io/kubectl-shark/web:dev (no shell in the image), so it also
// carries the few tools the smoke test runs through `kubectl exec`.
//
//	web serve [-addr :80] [-error-every N] [-slow-every N] [-slow-delay 1.5s]
//	    HTTP server. Every path answers 200 with a line naming the pod, except:
//	    /status/CODE answers CODE, /delay/DURATION answers after DURATION, /healthz is a probe;
//	    with -error-every N every Nth request answers 500, with -slow-every N every Nth waits
//	    -slow-delay (the demo service: some errors, some slow answers).
//	web client [-n 3600] [-interval 1s] [-redis HOST:PORT] URL...
//	    Demo client: a bounded loop (n iterations) that resolves each URL's host through the
//	    pod's resolver (cluster DNS), GETs it and, with -redis, runs SET/GET/DEL on Redis.
//	web get URL          print the body; exit 1 on a transport error, 22 on a status >= 400
//	web lookup NAME      print NAME's addresses (exit 1 if it does not resolve)
//	web findpid ID       print "PID COMM" of each process whose /proc/PID/cgroup contains ID
//	                     (used from a hostPID pod to find a container's processes)
//	web hostname         print the host name
//	web sleep            block until SIGTERM/SIGINT
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: web {serve|client|get|lookup|findpid|hostname|sleep} [args]")
		os.Exit(2)
	}
	var err error
	cmd, args := os.Args[1], os.Args[2:]
	switch cmd {
	case "serve":
		err = serve(args)
	case "client":
		err = client(args)
	case "get":
		err = get(args)
	case "lookup":
		err = lookup(args)
	case "findpid":
		err = findPID(args)
	case "hostname":
		var h string
		h, err = os.Hostname()
		fmt.Println(h)
	case "sleep":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		<-ctx.Done()
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	var ee exitError
	if errors.As(err, &ee) {
		fmt.Fprintln(os.Stderr, "web:", ee.err)
		os.Exit(ee.code)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "web:", err)
		os.Exit(1)
	}
}

type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := fs.String("addr", ":80", "listen address")
	errorEvery := fs.Int("error-every", 0, "answer every Nth request with 500 (0: never)")
	slowEvery := fs.Int("slow-every", 0, "delay every Nth request by -slow-delay (0: never)")
	slowDelay := fs.Duration("slow-delay", 1500*time.Millisecond, "delay of slow answers")
	fs.Parse(args)
	host, _ := os.Hostname()
	var n atomic.Int64

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		i := n.Add(1)
		code, delay := http.StatusOK, time.Duration(0)
		switch {
		case strings.HasPrefix(r.URL.Path, "/status/"):
			if c, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/")); err == nil && c >= 100 && c <= 599 {
				code = c
			}
		case strings.HasPrefix(r.URL.Path, "/delay/"):
			if d, err := time.ParseDuration(strings.TrimPrefix(r.URL.Path, "/delay/")); err == nil && d <= time.Minute {
				delay = d
			}
		default:
			if *errorEvery > 0 && i%int64(*errorEvery) == 0 {
				code = http.StatusInternalServerError
			}
			if *slowEvery > 0 && i%int64(*slowEvery) == 0 {
				delay = *slowDelay
			}
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
			}
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(code)
		fmt.Fprintf(w, "%d hello from %s (you are %s)\n", code, host, r.RemoteAddr)
		fmt.Printf("%s %s %s %d %s\n", r.RemoteAddr, r.Method, r.URL.Path, code, time.Since(start).Round(time.Millisecond))
	})

	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	fmt.Println("listening on", *addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func get(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: web get URL")
	}
	resp, err := httpClient.Get(args[0])
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(os.Stdout, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		return exitError{22, fmt.Errorf("%s: %s", args[0], resp.Status)}
	}
	return nil
}

func lookup(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: web lookup NAME")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, args[0])
	if err != nil {
		return err
	}
	for _, a := range addrs {
		fmt.Println(a)
	}
	return nil
}

func findPID(args []string) error {
	if len(args) != 1 || len(args[0]) < 12 {
		return errors.New("usage: web findpid CONTAINER-ID (at least 12 characters)")
	}
	cgroups, _ := filepath.Glob("/proc/[0-9]*/cgroup")
	found := false
	for _, f := range cgroups {
		b, err := os.ReadFile(f)
		if err != nil || !strings.Contains(string(b), args[0]) {
			continue
		}
		dir := filepath.Dir(f)
		comm, _ := os.ReadFile(filepath.Join(dir, "comm"))
		fmt.Printf("%s %s\n", filepath.Base(dir), strings.TrimSpace(string(comm)))
		found = true
	}
	if !found {
		return fmt.Errorf("no process in a cgroup of %s", args[0])
	}
	return nil
}

func client(args []string) error {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	n := fs.Int("n", 3600, "iterations (the loop is bounded)")
	interval := fs.Duration("interval", time.Second, "pause between iterations")
	redisAddr := fs.String("redis", "", "HOST:PORT of a Redis server to SET/GET/DEL on each iteration")
	fs.Parse(args)
	if fs.NArg() == 0 {
		return errors.New("usage: web client [-n N] [-interval D] [-redis HOST:PORT] URL...")
	}
	host, _ := os.Hostname()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	failures := 0
	for i := 1; i <= *n; i++ {
		for _, raw := range fs.Args() {
			if err := clientGet(ctx, raw, i); err != nil {
				failures++
				fmt.Printf("iter=%d url=%s error=%q\n", i, raw, err)
			}
		}
		if *redisAddr != "" {
			key := fmt.Sprintf("%s:%d", host, i)
			if err := redisRoundTrip(ctx, *redisAddr, key); err != nil {
				failures++
				fmt.Printf("iter=%d redis=%s error=%q\n", i, *redisAddr, err)
			} else {
				fmt.Printf("iter=%d redis=%s SET/GET/DEL %s ok\n", i, *redisAddr, key)
			}
		}
		if i == *n {
			break
		}
		select {
		case <-ctx.Done():
			fmt.Printf("stopped after %d iterations, %d failures\n", i, failures)
			return nil
		case <-time.After(*interval):
		}
	}
	fmt.Printf("done: %d iterations, %d failures\n", *n, failures)
	return nil
}

// clientGet resolves the URL's host explicitly (so every iteration does a DNS query the sniffer
// can see) and GETs the URL.
func clientGet(ctx context.Context, raw string, i int) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	addrs, err := net.DefaultResolver.LookupHost(rctx, u.Hostname())
	cancel()
	if err != nil {
		return fmt.Errorf("resolving %s: %w", u.Hostname(), err)
	}
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Printf("iter=%d url=%s resolved=%s status=%d took=%s\n", i, raw, strings.Join(addrs, ","), resp.StatusCode,
		time.Since(start).Round(time.Millisecond))
	return nil
}

// redisRoundTrip runs SET, GET and DEL of key on a Redis server (RESP2, one connection).
func redisRoundTrip(ctx context.Context, addr, key string) error {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	for _, cmd := range [][]string{{"SET", key, "v-" + key}, {"GET", key}, {"DEL", key}} {
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(cmd))
		for _, a := range cmd {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
		if _, err := io.WriteString(conn, b.String()); err != nil {
			return err
		}
		if err := readRESP(r); err != nil {
			return fmt.Errorf("%s: %w", cmd[0], err)
		}
	}
	return nil
}

// readRESP reads one simple reply (status, error, integer or bulk string).
func readRESP(r *bufio.Reader) error {
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return nil
	case '-':
		return errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return err
		}
		if n < 0 {
			return nil
		}
		_, err = io.CopyN(io.Discard, r, int64(n)+2)
		return err
	}
	return fmt.Errorf("unexpected reply %q", line)
}
