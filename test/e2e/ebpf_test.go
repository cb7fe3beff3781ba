package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The eBPF capture backend (--backend ebpf|auto) and TLS plaintext recovery (--tls)
// against real pods: TC programs in the target's netns, OpenSSL uprobes on the libssl
// of Debian's nginx (docker.io/kubectl-shark/tls:dev, hack/cluster/images.sh).

const tlsImage = "docker.io/kubectl-shark/tls:dev"

// The sniffer's capabilities: AF_PACKET capture needs the first three, eBPF (the TC
// backend or --tls) adds the last three (pkg/capture/podspec.go).
var (
	afPacketCaps = []string{"NET_RAW", "SYS_ADMIN", "SYS_PTRACE"}
	ebpfCaps     = []string{"BPF", "NET_ADMIN", "NET_RAW", "PERFMON", "SYS_ADMIN", "SYS_PTRACE"}
)

// checkSnifferSecurity asserts that every sniffer of the capture runs unprivileged,
// drops ALL and adds exactly caps.
func checkSnifferSecurity(t *testing.T, ns, capture string, caps []string) {
	t.Helper()
	snif := sniffers(t, ns, capture)
	if len(snif) == 0 {
		t.Fatalf("capture %s has no sniffer pods", capture)
	}
	for _, s := range snif {
		var sc struct {
			Privileged   *bool `json:"privileged"`
			Capabilities struct {
				Add  []string `json:"add"`
				Drop []string `json:"drop"`
			} `json:"capabilities"`
		}
		out := kubectl(t, "-n", ns, "get", "pod", s, "-o", "jsonpath={.spec.containers[0].securityContext}")
		if err := json.Unmarshal([]byte(out), &sc); err != nil {
			t.Fatalf("sniffer %s securityContext %q: %v", s, out, err)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("sniffer %s is privileged", s)
		}
		add := slices.Clone(sc.Capabilities.Add)
		slices.Sort(add)
		if !slices.Equal(add, caps) {
			t.Errorf("sniffer %s adds capabilities %v, want %v", s, sc.Capabilities.Add, caps)
		}
		if !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
			t.Errorf("sniffer %s drops %v, want [ALL]", s, sc.Capabilities.Drop)
		}
	}
}

// waitEntries polls `entries NAME --kfl KFL -o json` until at least want entries match
// (or a minute has passed) and returns the last answer.
func waitEntries(t *testing.T, ns, capture, kfl string, want int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := mustShark(t, "-n", ns, "entries", capture, "--kfl", kfl, "-o", "json")
		entries := jsonLines(t, r.stdout)
		if len(entries) >= want || time.Now().After(deadline) {
			return entries
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// countEntries is the number of entries of the capture matching kfl, now.
func countEntries(t *testing.T, ns, capture, kfl string) int {
	t.Helper()
	return len(jsonLines(t, mustShark(t, "-n", ns, "entries", capture, "--kfl", kfl, "-o", "json").stdout))
}

// snifferStatus is one sniffer of `get NAME -o json`: the plugin's summary and the
// agent's own /status, both kept as generic JSON so a new field shows up here.
type snifferStatus struct {
	Pod     string         `json:"pod"`
	Target  string         `json:"target"`
	Summary map[string]any `json:"summary"`
	Agent   map[string]any `json:"agent"`
}

func getStatus(t *testing.T, ns, capture string) []snifferStatus {
	t.Helper()
	r := mustShark(t, "-n", ns, "get", capture, "-o", "json")
	var got struct {
		Sniffers []snifferStatus `json:"sniffers"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("get %s -o json: %v\n%s", capture, err, r.stdout)
	}
	return got.Sniffers
}

// checkBackend asserts that every sniffer of the capture reports the backend it
// captures with in its status (`get -o json`, agent.backend) and its log, and that the
// plugin shows it as shown ("ebpf", "af_packet+tls") in the summary of `get -o json`
// and in the BACKEND column of `get`.
func checkBackend(t *testing.T, ns, capture, backend, shown string) {
	t.Helper()
	table := tableColumn(t, mustShark(t, "-n", ns, "get", capture).stdout, "SNIFFER", "BACKEND")
	for _, s := range getStatus(t, ns, capture) {
		if got := s.Agent["backend"]; got != backend {
			t.Errorf("get %s -o json: sniffer %s status says backend %v, want %s", capture, s.Pod, got, backend)
		}
		if got := s.Summary["backend"]; got != shown {
			t.Errorf("get %s -o json: sniffer %s summary says backend %v, want %s", capture, s.Pod, got, shown)
		}
		if got := table[s.Pod]; got != shown {
			t.Errorf("get %s: sniffer %s has BACKEND %q, want %s", capture, s.Pod, got, shown)
		}
		if logs := kubectl(t, "-n", ns, "logs", s.Pod); !strings.Contains(logs, `"backend":"`+backend+`"`) {
			t.Errorf("the log of sniffer %s does not say backend %s:\n%s", s.Pod, backend, logs)
		}
	}
}

// tableColumn reads a table printed by the plugin: for each row of the table whose
// header starts with key, the value in column col, by the row's first field.
func tableColumn(t *testing.T, out, key, col string) map[string]string {
	t.Helper()
	vals := map[string]string{}
	idx := -1
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) > 0 && f[0] == key:
			idx = slices.Index(f, col)
		case idx >= 0 && len(f) > idx:
			vals[f[0]] = f[idx]
		case idx >= 0:
			idx = -1 // the table ended
		}
	}
	if len(vals) == 0 {
		t.Errorf("no table with columns %s and %s in:\n%s", key, col, out)
	}
	return vals
}

// checkOpens asserts that capinfos and tshark read the file without a complaint.
func checkOpens(t *testing.T, file string) {
	t.Helper()
	quiet := func(stderr string) string {
		return strings.TrimSpace(strings.ReplaceAll(stderr, `Running as user "root" and group "root". This could be dangerous.`, ""))
	}
	if r := run(t, "capinfos", file); r.code != 0 || quiet(r.stderr) != "" {
		t.Fatalf("capinfos %s: exit %d\n%s", file, r.code, r.stderr)
	}
	if r := run(t, "tshark", "-r", file); r.code != 0 || quiet(r.stderr) != "" {
		t.Fatalf("tshark -r %s: exit %d\n%s", file, r.code, r.stderr)
	}
}

func TestEBPFBackend(t *testing.T) {
	ns := namespace(t)
	apply(t, ns, webWorkload("Deployment", "web", 2))
	apply(t, ns, clientPod)
	waitRollout(t, ns, "deployment/web")
	kubectl(t, "-n", ns, "wait", "--for=condition=Ready", "pod/client", "--timeout=120s")
	targets := pods(t, ns, "app=web")

	// send makes perPod requests to each target, on paths naming the pod, and returns
	// how many it made.
	const perPod = 3
	send := func(prefix string) int {
		n := 0
		for _, p := range targets {
			for i := range perPod {
				kubectl(t, "-n", ns, "exec", "client", "--", "/web", "get", fmt.Sprintf("http://%s:8080/%s/%s/%d", p.ip, prefix, p.name, i))
				n++
			}
		}
		return n
	}

	mustShark(t, append([]string{"-n", ns, "capture", "deploy/web", "--name", "ebpf1", "--backend", "ebpf"}, captureArgs()...)...)
	checkSnifferSecurity(t, ns, "ebpf1", ebpfCaps)
	sent := send("ebpf")

	kfl := `http && capture_source == "ebpf" && path.startsWith("/ebpf/")`
	entries := waitEntries(t, ns, "ebpf1", kfl, sent)
	if len(entries) != sent {
		t.Fatalf("entries --kfl '%s': %d entries, the client sent %d requests", kfl, len(entries), sent)
	}
	for _, e := range entries {
		path, _ := e["path"].(string)
		if dst, _ := e["dst.pod.name"].(string); !strings.HasPrefix(path, "/ebpf/"+dst+"/") {
			t.Errorf("entry for %s has dst.pod.name %q", path, dst)
		}
		if src, _ := e["src.pod.name"].(string); src != "client" {
			t.Errorf("entry for %s has src.pod.name %q, want client", path, src)
		}
		if code, _ := e["status_code"].(float64); code != 200 {
			t.Errorf("entry for %s has status %v, want 200", path, e["status_code"])
		}
	}
	// Every entry of this capture came through the TC programs.
	if n := countEntries(t, ns, "ebpf1", `capture_source != "ebpf"`); n != 0 {
		t.Errorf("--backend ebpf: %d entries with another capture_source", n)
	}
	checkBackend(t, ns, "ebpf1", "ebpf", "ebpf")

	// Export: opens cleanly, the requests are there, each on its target's interface.
	out := filepath.Join(t.TempDir(), "ebpf.pcapng")
	mustShark(t, "-n", ns, "export", "ebpf1", "--kfl", `http && path.startsWith("/ebpf/")`, "-w", out)
	checkOpens(t, out)
	ts := run(t, "tshark", "-r", out, "-Y", `http.request.uri contains "/ebpf/"`, "-T", "fields", "-e", "frame.interface_name", "-e", "http.request.uri")
	lines := strings.Split(strings.TrimSpace(ts.stdout), "\n")
	if len(lines) != sent {
		t.Errorf("the export holds %d of the %d requests:\n%s%s", len(lines), sent, ts.stdout, ts.stderr)
	}
	for _, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 2 {
			t.Errorf("tshark line %q", l)
			continue
		}
		pod := strings.Split(strings.TrimPrefix(f[1], "/ebpf/"), "/")[0]
		if !strings.HasPrefix(f[0], ns+"/"+pod+"/web:") {
			t.Errorf("request %s on interface %q, want %s/%s/web:...", f[1], f[0], ns, pod)
		}
	}
	mustShark(t, "-n", ns, "delete", "ebpf1")

	// --backend auto: --backend ebpf just worked on this node, so auto must pick eBPF,
	// and the sniffers and the plugin say so.
	mustShark(t, append([]string{"-n", ns, "capture", "deploy/web", "--name", "auto1", "--backend", "auto"}, captureArgs()...)...)
	checkSnifferSecurity(t, ns, "auto1", ebpfCaps)
	sent = send("auto")
	kfl = `http && path.startsWith("/auto/")`
	entries = waitEntries(t, ns, "auto1", kfl, sent)
	if len(entries) != sent {
		t.Fatalf("--backend auto: %d entries, the client sent %d requests", len(entries), sent)
	}
	for _, e := range entries {
		if e["capture_source"] != "ebpf" {
			t.Errorf("--backend auto: entry for %v has capture_source %v, want ebpf", e["path"], e["capture_source"])
		}
	}
	checkBackend(t, ns, "auto1", "ebpf", "ebpf")
	mustShark(t, "-n", ns, "delete", "auto1")
}

// tlsCertSecret creates a kubernetes.io/tls Secret with a fresh self-signed ECDSA
// certificate for the names given.
func tlsCertSecret(t *testing.T, ns, name string, dnsNames ...string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "kubectl-shark e2e " + name},
		DNSNames:              dnsNames,
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	crt, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl(t, "-n", ns, "create", "secret", "tls", name, "--cert", crt, "--key", keyFile)
}

// nginxWorkload: Debian's nginx serving HTTPS on 8443 (hack/cluster/images/tls/nginx.conf)
// with the certificate of Secret tls-cert.
const nginxWorkload = `apiVersion: apps/v1
kind: Deployment
metadata: {name: nginx, labels: {app: nginx}}
spec:
  replicas: 1
  selector: {matchLabels: {app: nginx}}
  template:
    metadata: {labels: {app: nginx}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: nginx
        image: ` + tlsImage + `
        imagePullPolicy: IfNotPresent
        ports: [{containerPort: 8443}]
        readinessProbe: {httpGet: {path: /healthz, port: 8443, scheme: HTTPS}, periodSeconds: 1}
        volumeMounts: [{name: certs, mountPath: /certs, readOnly: true}]
      volumes:
      - name: certs
        secret: {secretName: tls-cert}
`

// tlsClientPod idles (/pause) so that each `kubectl exec client -- curl ...` is a new
// process, started after the capture, using the image's libssl.
const tlsClientPod = `apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: client
    image: ` + tlsImage + `
    imagePullPolicy: IfNotPresent
    command: ["/pause"]
`

// tlsRequest is one HTTPS request the client makes and the status nginx answers.
type tlsRequest struct {
	method, url string
	status      int
	body        string // curl's --data-binary (a POST), "" for a GET
}

func TestTLSPlaintext(t *testing.T) {
	ns := namespace(t)
	tlsCertSecret(t, ns, "tls-cert", "nginx")
	apply(t, ns, nginxWorkload)
	apply(t, ns, tlsClientPod)
	waitRollout(t, ns, "deployment/nginx")
	kubectl(t, "-n", ns, "wait", "--for=condition=Ready", "pod/client", "--timeout=120s")
	targets := pods(t, ns, "app=nginx")
	if len(targets) != 1 {
		t.Fatalf("nginx pods: %v", targets)
	}
	server := targets[0]
	base := fmt.Sprintf("https://%s:8443", server.ip)

	// tls1 recovers the plaintext; wire1 captures the same pod without --tls (both on
	// AF_PACKET, so their wire packets are the encrypted ones).
	r := mustShark(t, append([]string{"-n", ns, "capture", "deploy/nginx", "--name", "tls1", "--tls"}, captureArgs()...)...)
	if !strings.Contains(r.stdout, ns+"/"+server.name+"/nginx") {
		t.Errorf("capture table does not list %s:\n%s", server.name, r.stdout)
	}
	mustShark(t, append([]string{"-n", ns, "capture", "deploy/nginx", "--name", "wire1"}, captureArgs()...)...)
	checkSnifferSecurity(t, ns, "tls1", ebpfCaps)
	checkSnifferSecurity(t, ns, "wire1", afPacketCaps)
	checkBackend(t, ns, "tls1", "af_packet", "af_packet+tls")
	checkBackend(t, ns, "wire1", "af_packet", "af_packet")
	// The uprobes are on the libssl the target's nginx maps.
	for _, s := range getStatus(t, ns, "tls1") {
		tls, _ := s.Agent["tls"].(map[string]any)
		libs, _ := tls["libraries"].([]any)
		if len(libs) == 0 || !strings.Contains(fmt.Sprint(libs...), "libssl.so.3") {
			t.Errorf("sniffer %s probes TLS libraries %v, want the target's libssl.so.3 (status tls: %v)", s.Pod, libs, s.Agent["tls"])
		}
	}

	// The client's curl maps the same libssl file as nginx (one image layer), so the
	// uprobes fire in both pods: only nginx's side (the target) may become entries.
	reqs := []tlsRequest{
		{"GET", "/tls/ok?n=1", 200, ""},
		{"GET", "/tls/missing?n=2", 404, ""},
		{"POST", "/tls/created?n=3", 201, "user=e2e&secret=hunter2"},
		// A body of many TLS records (16 KiB each): the image's /pause (~700 kB).
		{"POST", "/tls/created?n=4", 201, "@/pause"},
		{"GET", "/tls/ok?n=5", 200, ""},
		{"GET", "/tls/missing?n=6", 404, ""},
	}
	// One curl process (and connection) per request, except for the last two: one
	// curl, one kept-alive connection.
	uploaded := map[string]int{} // URL -> body bytes curl sent
	for _, call := range [][]tlsRequest{reqs[0:1], reqs[1:2], reqs[2:3], reqs[3:4], reqs[4:6]} {
		args := []string{"-n", ns, "exec", "client", "--", "/usr/bin/curl", "-sSk", "--http1.1",
			"-w", `%{http_code} %{num_connects} %{size_upload}\n`}
		for _, q := range call {
			if q.body != "" {
				args = append(args, "--data-binary", q.body)
			}
			args = append(args, "-o", "/dev/null", base+q.url)
		}
		out := kubectl(t, args...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != len(call) {
			t.Fatalf("curl %v wrote %q", call, out)
		}
		for i, q := range call {
			var code, conns, size int
			if _, err := fmt.Sscan(lines[i], &code, &conns, &size); err != nil {
				t.Fatalf("curl wrote %q: %v", lines[i], err)
			}
			wantConns := 0 // a kept-alive connection
			if i == 0 {
				wantConns = 1
			}
			if code != q.status || conns != wantConns {
				t.Fatalf("curl %s: status %d, %d new connections; want %d, %d", q.url, code, conns, q.status, wantConns)
			}
			uploaded[q.url] = size
		}
	}

	// The recovered plaintext: exactly the requests, with their answers.
	kfl := `http && tls && capture_source == "ebpf_tls" && path.startsWith("/tls/")`
	entries := waitEntries(t, ns, "tls1", kfl, len(reqs))
	if len(entries) != len(reqs) {
		t.Fatalf("entries --kfl '%s': %d entries, the client made %d requests:\n%v", kfl, len(entries), len(reqs), entries)
	}
	byURL := map[string]map[string]any{}
	for _, e := range entries {
		u, _ := e["url"].(string)
		if byURL[u] != nil {
			t.Errorf("two entries for %s", u)
		}
		byURL[u] = e
	}
	for _, q := range reqs {
		e := byURL[q.url]
		if e == nil {
			t.Errorf("no entry for %s %s (entries: %v)", q.method, q.url, entries)
			continue
		}
		if e["method"] != q.method {
			t.Errorf("%s: method %v, want %s", q.url, e["method"], q.method)
		}
		if code, _ := e["status_code"].(float64); int(code) != q.status {
			t.Errorf("%s: status %v, want %d", q.url, e["status_code"], q.status)
		}
		if size, _ := e["request_body_size"].(float64); int(size) != uploaded[q.url] {
			t.Errorf("%s: request_body_size %v, curl sent %d bytes", q.url, e["request_body_size"], uploaded[q.url])
		}
		if e["tls"] != true || e["capture_source"] != "ebpf_tls" {
			t.Errorf("%s: tls %v, capture_source %v", q.url, e["tls"], e["capture_source"])
		}
		// The socket hooks tie the plaintext to the connection's real addresses.
		if e["src.pod.name"] != "client" || e["dst.pod.name"] != server.name || e["dst.port"] != float64(8443) {
			t.Errorf("%s: %v:%v (%v) -> %v:%v (%v), want client -> %s:8443", q.url, e["src.ip"], e["src.port"], e["src.pod.name"],
				e["dst.ip"], e["dst.port"], e["dst.pod.name"], server.name)
		}
	}

	// On the wire the same connections are TLS: no HTTP entry for these paths, from
	// wire1 (no --tls) or from tls1's own packets. Both have the L4 record of each of
	// the 5 connections once the flows are closed.
	wireConns := `protocol == "TCP" && capture_source == "af_packet" && src.pod.name == "client" && dst.port == 8443`
	for _, c := range []string{"tls1", "wire1"} {
		if conns := waitEntries(t, ns, c, wireConns, 5); len(conns) != 5 {
			t.Errorf("%s: %d wire connections from the client to :8443, want 5: %v", c, len(conns), conns)
		}
		wire := `capture_source == "af_packet" && src.pod.name == "client" && dst.port == 8443`
		for _, e := range jsonLines(t, mustShark(t, "-n", ns, "entries", c, "--kfl", wire, "-o", "json").stdout) {
			if p := e["protocol"]; p != "TCP" && p != "TLS" {
				t.Errorf("%s: a wire entry of the TLS connections has protocol %v", c, p)
			}
		}
		if n := countEntries(t, ns, c, `http && capture_source != "ebpf_tls" && path.startsWith("/tls/")`); n != 0 {
			t.Errorf("%s: %d HTTP entries dissected from encrypted wire packets", c, n)
		}
	}
	if n := countEntries(t, ns, "wire1", `capture_source == "ebpf_tls" || http`); n != 0 {
		t.Errorf("wire1 (no --tls): %d plaintext/HTTP entries", n)
	}

	// Export: the plaintext on its own interface, described as reconstructed.
	out := filepath.Join(t.TempDir(), "tls.pcapng")
	mustShark(t, "-n", ns, "export", "tls1", "--kfl", "tls && http", "-w", out)
	checkOpens(t, out)
	iface := ns + "/" + server.name + "/nginx:tls-plaintext"
	ts := run(t, "tshark", "-r", out, "-T", "fields", "-e", "frame.interface_name", "-e", "frame.interface_description")
	for _, l := range strings.Split(strings.TrimSpace(ts.stdout), "\n") {
		f := strings.SplitN(l, "\t", 2)
		if len(f) != 2 || f[0] != iface || !strings.HasPrefix(f[1], "RECONSTRUCTED") {
			t.Errorf("a frame of the export is on interface %q, want %s described as RECONSTRUCTED...", l, iface)
			break
		}
	}
	ts = run(t, "tshark", "-r", out, "-Y", `http.request.uri contains "/tls/"`, "-T", "fields", "-e", "http.request.method", "-e", "http.request.uri")
	var reqLines []string
	for _, q := range reqs {
		reqLines = append(reqLines, q.method+"\t"+q.url)
	}
	slices.Sort(reqLines)
	gotLines := strings.Split(strings.TrimSpace(ts.stdout), "\n")
	slices.Sort(gotLines)
	if !slices.Equal(gotLines, reqLines) {
		t.Errorf("tshark -Y http sees requests\n%s\nwant\n%s\n%s", strings.Join(gotLines, "\n"), strings.Join(reqLines, "\n"), ts.stderr)
	}
	// The answers, by TCP stream: nginx answers the large POST before it has read the
	// body, so tshark cannot pair that response with its request (http.response_for).
	ts = run(t, "tshark", "-r", out, "-Y", "http", "-T", "fields", "-e", "tcp.stream", "-e", "http.request.uri", "-e", "http.response.code")
	tlsStreams, streamCodes := map[string]bool{}, map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(ts.stdout), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 3 {
			t.Errorf("tshark line %q", l)
			continue
		}
		if strings.HasPrefix(f[1], "/tls/") {
			tlsStreams[f[0]] = true
		}
		if f[2] != "" {
			streamCodes[f[0]] = append(streamCodes[f[0]], f[2])
		}
	}
	var codes, wantCodes []string
	for st := range tlsStreams {
		codes = append(codes, streamCodes[st]...)
	}
	for _, q := range reqs {
		wantCodes = append(wantCodes, fmt.Sprint(q.status))
	}
	slices.Sort(codes)
	slices.Sort(wantCodes)
	if !slices.Equal(codes, wantCodes) {
		t.Errorf("tshark -Y http sees response codes %v on the streams of the requests, want %v", codes, wantCodes)
	}

	mustShark(t, "-n", ns, "delete", "tls1")
	mustShark(t, "-n", ns, "delete", "wire1")
}
