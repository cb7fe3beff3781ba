package integration

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/kubectl-shark/kubectl-shark/test/lab"
)

// labCapture makes one real capture: nginx, redis-server and dnsmasq in the server
// namespace; curl, dig and redis-cli in the client namespace; tcpdump on the
// server's veth.
func labCapture(t *testing.T) (l *lab.Lab, pcap string) {
	lab.RequireRoot(t)
	lab.RequireTools(t, "nginx", "redis-server", "redis-cli", "dnsmasq", "dig", "curl", "tcpdump", "tshark", "capinfos")
	l = lab.New(t)
	l.WriteFile("index.html", []byte("<html><body>hello from the lab</body></html>\n"))
	l.WriteFile("gz/big.txt", bytes.Repeat([]byte("kubectl-shark compresses this line nicely\n"), 2000))
	l.Nginx(`
    location = /error { return 500 "boom\n"; }
    location = /teapot { return 418 "short and stout\n"; }
    location = /moved { return 302 /index.html; }
    location /gz/ { gzip on; gzip_types text/plain; gzip_min_length 1; }
`)
	l.Redis()
	l.Dnsmasq("--address=/web.svc.test/198.18.0.10", "--address=/web.svc.test/2001:db8::10",
		"--cname=alias.svc.test,web.svc.test", "--mx-host=svc.test,mail.svc.test,10",
		"--txt-record=svc.test,hello world", "--srv-host=_http._tcp.svc.test,web.svc.test,80")

	td := l.StartTcpdump(l.Server, "eth0", "lab.pcap")
	ip := l.ServerIP
	url := func(p string) string { return "http://" + ip + p }
	// One keep-alive connection with five requests, then one connection each.
	l.Exec(l.Client, "curl", "-sS", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
		url("/"), url("/index.html"), url("/missing"), url("/error"), url("/teapot"))
	l.Exec(l.Client, "curl", "-sS", "-o", "/dev/null", "-I", url("/"))
	l.Exec(l.Client, "curl", "-sS", "-o", "/dev/null", "-0", url("/index.html?lang=en&v=2"))
	l.Exec(l.Client, "curl", "-sS", "-o", "/dev/null", "-d", "a=1&b=2", url("/error"))
	l.Exec(l.Client, "curl", "-sS", "-o", "/dev/null", "--compressed", url("/gz/big.txt"))
	l.Exec(l.Client, "curl", "-sS", "-o", "/dev/null", url("/moved"))

	for _, q := range [][]string{
		{"web.svc.test", "A"}, {"web.svc.test", "AAAA"}, {"alias.svc.test", "A"}, {"svc.test", "MX"},
		{"svc.test", "TXT"}, {"_http._tcp.svc.test", "SRV"}, {"nothing.invalid", "A"},
	} {
		l.Exec(l.Client, "dig", "+tries=1", "+time=5", "@"+ip, q[0], q[1])
	}
	l.Exec(l.Client, "dig", "+tcp", "+tries=1", "+time=5", "@"+ip, "web.svc.test", "A")

	rc := func(args ...string) string {
		return l.Exec(l.Client, append([]string{"redis-cli", "-h", ip, "-p", "6379"}, args...)...)
	}
	rc("SET", "session:1234", "alice")
	rc("GET", "session:1234")
	rc("GET", "session:missing")
	rc("HSET", "user:1", "name", "bob", "age", "42")
	rc("HGET", "user:1", "name")
	rc("INCR", "session:1234") // an error reply: not an integer
	rc("LPUSH", "queue", "a", "b", "c")
	rc("LRANGE", "queue", "0", "-1")
	rc("DEL", "session:1234")
	// A pipelined batch on one connection.
	pipe := exec.Command("ip", "netns", "exec", l.Client, "redis-cli", "-h", ip, "-p", "6379")
	pipe.Stdin = strings.NewReader("SET a 1\nINCR a\nINCR a\nGET a\nDEL a\n")
	if out, err := pipe.CombinedOutput(); err != nil {
		t.Fatalf("redis-cli batch: %v\n%s", err, out)
	}
	return l, td.Stop(l.Client, ip)
}

func TestOfflineMatchesTshark(t *testing.T) {
	_, pcap := labCapture(t)

	t.Run("http", func(t *testing.T) {
		ours := jsonEntries(t, pcap, "http")
		var ourReqs, ourCodes []string
		for _, e := range ours {
			if m, _ := e["method"].(string); m != "" {
				ourReqs = append(ourReqs, m+" "+str(e["url"]))
			}
			if c := num(e["status_code"]); c != 0 {
				ourCodes = append(ourCodes, strconv.Itoa(c))
			}
		}
		theirReqs := lab.Lines(tshark(t, "-r", pcap, "-Y", "http.request", "-T", "fields", "-E", "separator= ",
			"-e", "http.request.method", "-e", "http.request.uri"))
		theirCodes := lab.Lines(tshark(t, "-r", pcap, "-Y", "http.response", "-T", "fields", "-e", "http.response.code"))
		equalMultiset(t, "HTTP requests (method uri)", ourReqs, theirReqs)
		equalMultiset(t, "HTTP status codes", ourCodes, theirCodes)
		if len(ourReqs) != 10 {
			t.Errorf("want the 10 requests curl sent, got %d: %v", len(ourReqs), ourReqs)
		}
		// Every request was answered: pairs, not halves.
		for _, e := range ours {
			if str(e["method"]) != "" && num(e["status_code"]) == 0 {
				t.Errorf("request without its response: %v", e)
			}
		}
		// KFL counts agree with the filter's meaning.
		if n := len(jsonEntries(t, pcap, "http && status_code >= 500")); n != 2 {
			t.Errorf("http && status_code >= 500: %d entries, want 2", n)
		}
		if n := len(jsonEntries(t, pcap, `http && method == "HEAD"`)); n != 1 {
			t.Errorf("HEAD requests: %d, want 1", n)
		}
	})

	t.Run("dns", func(t *testing.T) {
		ours := jsonEntries(t, pcap, "dns")
		var ourQs, ourCodes []string
		for _, e := range ours {
			ourQs = append(ourQs, list(e["dns_questions"])...)
			if b, _ := e["dns_response"].(bool); b {
				ourCodes = append(ourCodes, strconv.Itoa(num(e["status_code"])))
			}
		}
		theirQs := lab.Lines(tshark(t, "-r", pcap, "-Y", "dns.flags.response == 0", "-T", "fields", "-e", "dns.qry.name"))
		theirCodes := lab.Lines(tshark(t, "-r", pcap, "-Y", "dns.flags.response == 1", "-T", "fields", "-e", "dns.flags.rcode"))
		equalMultiset(t, "DNS questions", ourQs, theirQs)
		equalMultiset(t, "DNS rcodes", ourCodes, theirCodes)
		if len(ours) != 8 {
			t.Errorf("want 8 DNS exchanges (7 over UDP, 1 over TCP), got %d", len(ours))
		}
		if n := len(jsonEntries(t, pcap, `dns && "MX" in dns_question_types`)); n != 1 {
			t.Errorf("MX queries: %d, want 1", n)
		}
	})

	t.Run("redis", func(t *testing.T) {
		ours := jsonEntries(t, pcap, "redis")
		var ourVerbs []string
		for _, e := range ours {
			ourVerbs = append(ourVerbs, strings.ToUpper(str(e["redis_type"])))
		}
		// tshark's RESP dissector: split each client packet's bulk strings by the
		// arrays' lengths; the first element of each array is the verb.
		var theirVerbs []string
		for _, line := range lab.Lines(tshark(t, "-r", pcap, "-Y", "resp && tcp.dstport == 6379", "-T", "fields",
			"-E", "separator=/t", "-e", "resp.array.length", "-e", "resp.bulk_string.value")) {
			cols := strings.Split(line, "\t")
			if len(cols) < 2 {
				continue
			}
			vals := strings.Split(cols[1], ",")
			i := 0
			for _, ls := range strings.Split(cols[0], ",") {
				n, _ := strconv.Atoi(ls)
				if n > 0 && i < len(vals) {
					v, _ := hex.DecodeString(vals[i])
					theirVerbs = append(theirVerbs, strings.ToUpper(string(v)))
				}
				i += n
			}
		}
		// redis-cli sends COMMAND DOCS on interactive starts in some versions; compare
		// what both saw, and insist on the commands this test sent.
		equalMultiset(t, "Redis commands", ourVerbs, theirVerbs)
		for _, want := range []string{"SET", "GET", "HSET", "HGET", "INCR", "LPUSH", "LRANGE", "DEL"} {
			if !slices.Contains(ourVerbs, want) {
				t.Errorf("no %s entry among %v", want, ourVerbs)
			}
		}
		if n := len(jsonEntries(t, pcap, `redis && redis_key.startsWith("session:")`)); n < 5 {
			t.Errorf("redis_key.startsWith(\"session:\"): %d entries, want at least 5", n)
		}
	})

	t.Run("export", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "errors.pcapng")
		r := mustShark(t, "export", "-r", pcap, "--kfl", "http && status_code == 500", "-w", out)
		if !strings.Contains(r.stderr, "packets") {
			t.Errorf("no summary on stderr: %q", r.stderr)
		}
		capinfosClean(t, out)
		// The streams tshark finds for the same question.
		streams := uniq(lab.Lines(tshark(t, "-r", pcap, "-Y", "http.response.code == 500", "-T", "fields", "-e", "tcp.stream")))
		if len(streams) != 2 {
			t.Fatalf("tshark sees 500s on streams %v, want 2 streams", streams)
		}
		want := len(lab.Lines(tshark(t, "-r", pcap, "-Y", "tcp.stream == "+strings.Join(streams, " || tcp.stream == "), "-T", "fields", "-e", "frame.number")))
		got := len(lab.Lines(tshark(t, "-r", out, "-T", "fields", "-e", "frame.number")))
		if got != want {
			t.Errorf("export wrote %d packets, tshark counts %d in the matching streams", got, want)
		}
		if n := len(uniq(lab.Lines(tshark(t, "-r", out, "-T", "fields", "-e", "tcp.stream")))); n != 2 {
			t.Errorf("export holds %d TCP streams, want 2", n)
		}
		if n := len(lab.Lines(tshark(t, "-r", out, "-Y", "http.response.code == 500", "-T", "fields", "-e", "frame.number"))); n != 2 {
			t.Errorf("export holds %d HTTP 500 responses, want 2", n)
		}

		// --bpf restricts the packets written with tcpdump's meaning.
		dnsOut := filepath.Join(t.TempDir(), "dns.pcap")
		mustShark(t, "export", "-r", pcap, "--kfl", "dns", "--bpf", "udp port 53", "--format", "pcap", "-w", dnsOut)
		capinfosClean(t, dnsOut)
		wantDNS := len(lab.Lines(tshark(t, "-r", pcap, "-Y", "udp.port == 53", "-T", "fields", "-e", "frame.number")))
		gotDNS := len(lab.Lines(tshark(t, "-r", dnsOut, "-T", "fields", "-e", "frame.number")))
		if gotDNS != wantDNS || gotDNS == 0 {
			t.Errorf("dns + udp port 53: %d packets, tshark counts %d", gotDNS, wantDNS)
		}

		// -r - and -w -: a pipe in, a pipe out, straight into tshark.
		pipe := exec.Command("bash", "-c", fmt.Sprintf("%s export -r - --kfl 'http && status_code == 500' -w - -q < %s | tshark -r - -Y 'http.response.code == 500' -T fields -e frame.number", pluginBin, pcap))
		out2, err := pipe.Output()
		if err != nil {
			t.Fatalf("export -r - -w - | tshark -r -: %v", err)
		}
		if n := len(lab.Lines(string(out2))); n != 2 {
			t.Errorf("through pipes: %d HTTP 500 responses, want 2", n)
		}

		// No --kfl: every packet, byte for byte the same frames.
		all := filepath.Join(t.TempDir(), "all.pcapng")
		mustShark(t, "export", "-r", pcap, "-w", all)
		capinfosClean(t, all)
		a := tshark(t, "-r", pcap, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.protocols")
		b := tshark(t, "-r", all, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.protocols")
		if a != b {
			t.Errorf("export without --kfl changed the frames")
		}
	})
}

func TestOfflineBadInput(t *testing.T) {
	dir := t.TempDir()
	notPcap := filepath.Join(dir, "notes.txt")
	os.WriteFile(notPcap, []byte("these are not packets\n"), 0o644)
	r := shark(t, "entries", "-r", notPcap)
	if r.code == 0 || !strings.Contains(r.stderr, "not a pcap") {
		t.Errorf("a text file: exit %d, stderr %q; want a clear 'not a pcap' error", r.code, r.stderr)
	}

	r = shark(t, "entries", "-r", notPcap, "--kfl", `http && status_code == "200"`)
	if r.code == 0 || !strings.Contains(r.stderr, "^") {
		t.Errorf("a KFL type error: exit %d, stderr %q; want the expression with a caret", r.code, r.stderr)
	}
	r = shark(t, "entries", "-r", notPcap, "--kfl", `http &&`)
	if r.code == 0 || !strings.Contains(r.stderr, "^") {
		t.Errorf("a KFL syntax error: exit %d, stderr %q; want a caret", r.code, r.stderr)
	}
	r = shark(t, "export", "-r", notPcap, "--bpf", "tcp prot 80", "-w", filepath.Join(dir, "x.pcapng"))
	if r.code == 0 || !strings.Contains(r.stderr, "tcp prot 80") {
		t.Errorf("a bad BPF filter: exit %d, stderr %q; want the expression and libpcap's reason", r.code, r.stderr)
	}
}

func TestOfflineTruncatedFile(t *testing.T) {
	_, pcap := labCapture(t)
	data, err := os.ReadFile(pcap)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	// Cut in the middle of the file: the entries before the cut are still printed.
	if err := os.WriteFile(cut, data[:len(data)*2/3+7], 0o644); err != nil {
		t.Fatal(err)
	}
	r := shark(t, "entries", "-r", cut, "-o", "json")
	if r.code == 0 {
		t.Fatalf("a truncated file exited 0")
	}
	if !strings.Contains(r.stderr, "offset") {
		t.Errorf("the error does not name the offset: %q", r.stderr)
	}
	if len(lab.Lines(r.stdout)) == 0 {
		t.Errorf("no entries printed from the part before the cut")
	}
	out := filepath.Join(t.TempDir(), "cut.pcapng")
	r = shark(t, "export", "-r", cut, "-w", out)
	if r.code == 0 {
		t.Fatalf("export of a truncated file exited 0")
	}
	capinfosClean(t, out)
}

// capinfosClean runs capinfos and fails on any warning or error.
func capinfosClean(t *testing.T, path string) {
	t.Helper()
	cmd := exec.Command("capinfos", path)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("capinfos %s: %v\n%s%s", path, err, out.String(), errb.String())
	}
	if s := cleanToolStderr(errb.String()); s != "" {
		t.Fatalf("capinfos %s warned:\n%s", path, s)
	}
}

func equalMultiset(t *testing.T, what string, ours, theirs []string) {
	t.Helper()
	a, b := slices.Clone(ours), slices.Clone(theirs)
	sort.Strings(a)
	sort.Strings(b)
	if !slices.Equal(a, b) {
		t.Errorf("%s differ from tshark's:\n ours:   %q\n tshark: %q", what, a, b)
	}
	if len(a) == 0 {
		t.Errorf("%s: none found", what)
	}
}

func uniq(s []string) []string {
	m := map[string]bool{}
	var out []string
	for _, v := range s {
		if !m[v] {
			m[v] = true
			out = append(out, v)
		}
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

func list(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			out = append(out, fmt.Sprint(x))
		}
	}
	return out
}
