// Package e2e drives the built kubectl-shark binary against a real cluster (tier 3):
// `make e2e` brings up the local single-node cluster (hack/cluster), builds and loads
// the sniffer image, and runs these tests with KUBECONFIG, KUBECTL, SHARK_IMAGE and
// SHARK_RUNTIME_SOCKET set.
package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	pluginBin     string
	kubectlBin    string
	image         string
	runtimeSocket string
)

func TestMain(m *testing.M) {
	for _, v := range []string{"KUBECONFIG", "KUBECTL", "SHARK_IMAGE", "SHARK_RUNTIME_SOCKET"} {
		if os.Getenv(v) == "" {
			fmt.Fprintf(os.Stderr, "%s is not set: run the end-to-end tests with `make e2e` (it starts the local cluster)\n", v)
			os.Exit(1)
		}
	}
	kubectlBin, image, runtimeSocket = os.Getenv("KUBECTL"), os.Getenv("SHARK_IMAGE"), os.Getenv("SHARK_RUNTIME_SOCKET")
	dir, err := os.MkdirTemp("", "kubectl-shark-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginBin = filepath.Join(dir, "kubectl-shark")
	build := exec.Command("go", "build", "-o", pluginBin, "github.com/kubectl-shark/kubectl-shark/cmd/kubectl-shark")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building kubectl-shark:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, bin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %s: %v", bin, strings.Join(args, " "), err)
	}
	return result{out.String(), errb.String(), code}
}

func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	r := run(t, kubectlBin, args...)
	if r.code != 0 {
		t.Fatalf("kubectl %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func shark(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, pluginBin, args...)
}

func mustShark(t *testing.T, args ...string) result {
	t.Helper()
	r := shark(t, args...)
	if r.code != 0 {
		t.Fatalf("kubectl shark %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// captureArgs are the flags every capture in these tests needs on this cluster.
func captureArgs(extra ...string) []string {
	return append([]string{"--image", image, "--runtime-socket", runtimeSocket}, extra...)
}

// namespace creates a fresh namespace (labelled as given), deleted at cleanup.
func namespace(t *testing.T, labels ...string) string {
	t.Helper()
	var b [3]byte
	rand.Read(b[:])
	ns := "e2e-" + hex.EncodeToString(b[:])
	kubectl(t, "create", "namespace", ns)
	t.Cleanup(func() {
		exec.Command(kubectlBin, "delete", "namespace", ns, "--wait=false").Run()
	})
	if len(labels) > 0 {
		kubectl(t, append([]string{"label", "namespace", ns}, labels...)...)
	}
	return ns
}

func apply(t *testing.T, ns, manifest string) {
	t.Helper()
	cmd := exec.Command(kubectlBin, "apply", "-n", ns, "-f", "-")
	cmd.Stdin = strings.NewReader(manifest)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s\n%s", err, out, manifest)
	}
}

const webImage = "docker.io/kubectl-shark/web:dev"

// webWorkload returns a manifest for a workload of kind (Deployment, StatefulSet,
// DaemonSet) running the test web server on :8080 with label app=name.
func webWorkload(kind, name string, replicas int) string {
	rep := fmt.Sprintf("\n  replicas: %d", replicas)
	extra := ""
	switch kind {
	case "DaemonSet":
		rep = ""
	case "StatefulSet":
		extra = "\n  serviceName: " + name
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: %s
metadata: {name: %s, labels: {app: %s}}
spec:%s%s
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s, e2e: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: %s
        imagePullPolicy: IfNotPresent
        args: ["serve", "-addr", ":8080"]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
`, kind, name, name, rep, extra, name, name, webImage)
}

const clientPod = `apiVersion: v1
kind: Pod
metadata: {name: client, labels: {role: client}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: client
    image: docker.io/kubectl-shark/web:dev
    imagePullPolicy: IfNotPresent
    args: ["sleep"]
`

func waitRollout(t *testing.T, ns, what string) {
	t.Helper()
	kubectl(t, "-n", ns, "rollout", "status", what, "--timeout=120s")
}

type podInfo struct{ name, ip string }

func pods(t *testing.T, ns, selector string) []podInfo {
	t.Helper()
	out := kubectl(t, "-n", ns, "get", "pods", "-l", selector, "-o", `jsonpath={range .items[*]}{.metadata.name} {.status.podIP}{"\n"}{end}`)
	var ps []podInfo
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			ps = append(ps, podInfo{f[0], f[1]})
		}
	}
	return ps
}

// sniffers returns the names of the sniffer pods of a capture.
func sniffers(t *testing.T, ns, capture string) []string {
	t.Helper()
	out := kubectl(t, "-n", ns, "get", "pods", "-l", "kubectl-shark.io/capture="+capture, "-o", `jsonpath={range .items[*]}{.metadata.name}{"\n"}{end}`)
	return strings.Fields(out)
}

func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("bad JSON line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestDeploymentCapture(t *testing.T) {
	ns := namespace(t)
	apply(t, ns, webWorkload("Deployment", "web", 2))
	apply(t, ns, clientPod)
	waitRollout(t, ns, "deployment/web")
	kubectl(t, "-n", ns, "wait", "--for=condition=Ready", "pod/client", "--timeout=120s")

	r := mustShark(t, append([]string{"-n", ns, "capture", "deploy/web", "--name", "e2e1"}, captureArgs()...)...)
	targets := pods(t, ns, "app=web")
	for _, p := range targets {
		if !strings.Contains(r.stdout, ns+"/"+p.name+"/web") {
			t.Errorf("capture table does not list target %s:\n%s", p.name, r.stdout)
		}
	}
	snif := sniffers(t, ns, "e2e1")
	if len(snif) != 2 {
		t.Fatalf("want 2 sniffers, got %v", snif)
	}
	labels := kubectl(t, "-n", ns, "get", "pod", snif[0], "-o", "jsonpath={.metadata.labels}")
	if !strings.Contains(labels, `"app.kubernetes.io/managed-by":"kubectl-shark"`) {
		t.Errorf("sniffer labels %s", labels)
	}

	// Real traffic: 3 requests to each pod, on a path naming the pod.
	const perPod = 3
	for _, p := range targets {
		for i := 0; i < perPod; i++ {
			kubectl(t, "-n", ns, "exec", "client", "--", "/web", "get", fmt.Sprintf("http://%s:8080/e2e/%s/%d", p.ip, p.name, i))
		}
	}
	var entries []map[string]any
	// The sniffers dissect as packets arrive; wait until the last response is in.
	deadline := time.Now().Add(60 * time.Second)
	for {
		r = mustShark(t, "-n", ns, "entries", "e2e1", "--kfl", `http && path.startsWith("/e2e/")`, "-o", "json")
		entries = jsonLines(t, r.stdout)
		if len(entries) >= perPod*len(targets) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(entries) != perPod*len(targets) {
		t.Fatalf("entries --kfl: %d HTTP entries, the client sent %d", len(entries), perPod*len(targets))
	}
	for _, e := range entries {
		path, _ := e["path"].(string)
		dstPod, _ := e["dst.pod.name"].(string)
		if !strings.HasPrefix(path, "/e2e/"+dstPod+"/") {
			t.Errorf("entry for %s has dst.pod.name %q (Kubernetes enrichment wrong)", path, dstPod)
		}
		if src, _ := e["src.pod.name"].(string); src != "client" {
			t.Errorf("src.pod.name %q, want client", src)
		}
		if code, _ := e["status_code"].(float64); code != 200 {
			t.Errorf("status %v for %s", code, path)
		}
	}
	r = mustShark(t, "-n", ns, "entries", "e2e1", "--kfl", `http && dst.pod.name == "`+targets[0].name+`" && path.startsWith("/e2e/")`, "-o", "json")
	if n := len(jsonLines(t, r.stdout)); n != perPod {
		t.Errorf("KFL on dst.pod.name: %d entries, want %d", n, perPod)
	}

	// Export: opens cleanly, one interface per target, exactly the matching requests.
	out := filepath.Join(t.TempDir(), "e2e.pcapng")
	r = mustShark(t, "-n", ns, "export", "e2e1", "--kfl", `http && path.startsWith("/e2e/")`, "-w", out)
	if !strings.Contains(r.stderr, "packets") {
		t.Errorf("no summary on stderr: %q", r.stderr)
	}
	capinfos := run(t, "capinfos", out)
	if capinfos.code != 0 || strings.Contains(strings.ReplaceAll(capinfos.stderr, "Running as user \"root\" and group \"root\". This could be dangerous.", ""), "\n") {
		t.Fatalf("capinfos: %d %s", capinfos.code, capinfos.stderr)
	}
	ts := run(t, "tshark", "-r", out, "-Y", `http.request.uri contains "/e2e/"`, "-T", "fields", "-e", "frame.interface_name", "-e", "http.request.uri")
	lines := strings.Split(strings.TrimSpace(ts.stdout), "\n")
	if len(lines) != perPod*len(targets) {
		t.Errorf("the export holds %d matching requests, want %d:\n%s", len(lines), perPod*len(targets), ts.stdout)
	}
	for _, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 2 {
			continue
		}
		// The request to pod P is on P's interface.
		pod := strings.Split(strings.TrimPrefix(f[1], "/e2e/"), "/")[0]
		if !strings.HasPrefix(f[0], ns+"/"+pod+"/web:") {
			t.Errorf("request %s on interface %q, want %s/%s/web:eth0", f[1], f[0], ns, pod)
		}
	}

	// list and get.
	r = mustShark(t, "-n", ns, "list")
	if !strings.Contains(r.stdout, "e2e1") || !strings.Contains(r.stdout, "2/2") {
		t.Errorf("list:\n%s", r.stdout)
	}
	r = mustShark(t, "-n", ns, "get", "e2e1", "-o", "json")
	var got struct {
		Sniffers []struct {
			Summary struct {
				State   string `json:"state"`
				Packets uint64 `json:"packets"`
			} `json:"summary"`
		} `json:"sniffers"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got.Sniffers) != 2 {
		t.Fatalf("get -o json: %v\n%s", err, r.stdout)
	}
	for _, s := range got.Sniffers {
		if s.Summary.State != "capturing" || s.Summary.Packets == 0 {
			t.Errorf("get: sniffer %+v", s.Summary)
		}
	}

	// stop / start.
	mustShark(t, "-n", ns, "stop", "e2e1")
	r = mustShark(t, "-n", ns, "get", "e2e1")
	if !strings.Contains(r.stdout, "stopped") {
		t.Errorf("after stop, get says:\n%s", r.stdout)
	}
	mustShark(t, "-n", ns, "start", "e2e1", "-f", "tcp port 8080")
	r = mustShark(t, "-n", ns, "get", "e2e1")
	if strings.Contains(r.stdout, "stopped") {
		t.Errorf("after start, get says:\n%s", r.stdout)
	}

	// Scale-up: the new pod gets a sniffer.
	kubectl(t, "-n", ns, "scale", "deployment/web", "--replicas=3")
	waitRollout(t, ns, "deployment/web")
	mustShark(t, "-n", ns, "entries", "e2e1", "--kfl", "false")
	if s := sniffers(t, ns, "e2e1"); len(s) != 3 {
		t.Errorf("after scaling to 3, %d sniffers: %v", len(s), s)
	}

	// delete leaves no pod.
	mustShark(t, "-n", ns, "delete", "e2e1")
	if s := sniffers(t, ns, "e2e1"); len(s) != 0 {
		t.Errorf("after delete: %v", s)
	}
}

func TestOtherWorkloadKinds(t *testing.T) {
	ns := namespace(t)
	apply(t, ns, webWorkload("StatefulSet", "db", 1))
	apply(t, ns, webWorkload("DaemonSet", "agent", 0))
	apply(t, ns, webWorkload("Deployment", "api", 2))
	waitRollout(t, ns, "statefulset/db")
	waitRollout(t, ns, "daemonset/agent")
	waitRollout(t, ns, "deployment/api")
	for _, c := range []struct {
		args []string
		name string
		want int
	}{
		{[]string{"sts/db"}, "sts", 1},
		{[]string{"daemonset", "agent"}, "ds", 1},
		{[]string{"-l", "e2e=web"}, "sel", 4},
	} {
		mustShark(t, append(append([]string{"-n", ns, "capture"}, c.args...), captureArgs("--name", c.name)...)...)
		if s := sniffers(t, ns, c.name); len(s) != c.want {
			t.Errorf("capture %v: %d sniffers, want %d", c.args, len(s), c.want)
		}
		mustShark(t, "-n", ns, "delete", c.name)
	}
}

func TestFollowCleanup(t *testing.T) {
	ns := namespace(t)
	apply(t, ns, webWorkload("Deployment", "web", 1))
	waitRollout(t, ns, "deployment/web")

	// Ctrl-C on a --follow capture deletes its sniffers.
	start := func(name string) (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(pluginBin, append([]string{"-n", ns, "capture", "deploy/web", "--follow", "--name", name}, captureArgs()...)...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		cmd.Stdout = &bytes.Buffer{}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		deadline := time.Now().Add(120 * time.Second)
		for !strings.Contains(errb.String(), "is capturing") {
			if time.Now().After(deadline) {
				t.Fatalf("the sniffers never became ready:\n%s", errb.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
		return cmd, &errb
	}
	cmd, errb := start("fol1")
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("Ctrl-C: %v\n%s", err, errb.String())
	}
	if s := sniffers(t, ns, "fol1"); len(s) != 0 {
		t.Errorf("after Ctrl-C, sniffers remain: %v", s)
	}

	// kill -9: the sniffers notice the missing heartbeat and stop by themselves.
	cmd, _ = start("fol2")
	snif := sniffers(t, ns, "fol2")
	cmd.Process.Kill()
	cmd.Wait()
	for _, s := range snif {
		kubectl(t, "-n", ns, "wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/"+s, "--timeout=180s")
	}
}

func TestClearErrors(t *testing.T) {
	ns := namespace(t, "pod-security.kubernetes.io/enforce=baseline")
	apply(t, ns, webWorkload("Deployment", "web", 1))
	waitRollout(t, ns, "deployment/web")

	r := shark(t, append([]string{"-n", ns, "capture", "deploy/web"}, captureArgs()...)...)
	if r.code == 0 {
		t.Fatalf("capture in a baseline namespace succeeded")
	}
	for _, want := range []string{"pod-security.kubernetes.io/enforce=privileged", "--sniffer-namespace"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the error does not mention %q:\n%s", want, r.stderr)
		}
	}
	if s := kubectl(t, "-n", ns, "get", "pods", "-l", "app.kubernetes.io/managed-by=kubectl-shark", "-o", "name"); strings.TrimSpace(s) != "" {
		t.Errorf("a refused capture left pods: %s", s)
	}

	// The way out the message suggests works.
	snifNS := namespace(t)
	mustShark(t, append([]string{"-n", ns, "capture", "deploy/web", "--name", "elsewhere", "--sniffer-namespace", snifNS}, captureArgs()...)...)
	if s := sniffers(t, snifNS, "elsewhere"); len(s) != 1 {
		t.Errorf("--sniffer-namespace: %d sniffers in %s", len(s), snifNS)
	}
	mustShark(t, "-n", snifNS, "delete", "elsewhere")

	r = shark(t, append([]string{"-n", ns, "capture", "deploy/nope"}, captureArgs()...)...)
	if r.code == 0 || !strings.Contains(r.stderr, `deployment "nope" not found`) {
		t.Errorf("missing workload: exit %d, %q", r.code, r.stderr)
	}
	r = shark(t, "-n", ns, "entries", "nope")
	if r.code == 0 || !strings.Contains(r.stderr, "no such capture") {
		t.Errorf("missing capture: exit %d, %q", r.code, r.stderr)
	}
	// An image that cannot be pulled (from a registry on loopback that is not
	// there: no traffic leaves the machine) fails fast, names the image, and leaves
	// nothing behind.
	r = shark(t, "-n", ns, "capture", "deploy/web", "--sniffer-namespace", snifNS, "--name", "nopull",
		"--image", "127.0.0.1:9/kubectl-shark/does-not-exist:1", "--runtime-socket", runtimeSocket)
	if r.code == 0 || !strings.Contains(r.stderr, "cannot pull image") {
		t.Errorf("an image that cannot be pulled: exit %d, %q", r.code, r.stderr)
	}
	if s := sniffers(t, snifNS, "nopull"); len(s) != 0 {
		t.Errorf("a failed capture left sniffers: %v", s)
	}
}
