package capture

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite golden files")

func testTarget() Target {
	return Target{
		Pod: &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "checkout-7d9f8b6c5d-x2x4z", Namespace: "shop", UID: "3b0f2c1e-1111-4a2b-9c3d-123456789abc"},
			Spec:       corev1.PodSpec{NodeName: "node-a"},
			Status:     corev1.PodStatus{PodIP: "198.18.0.12", PodIPs: []corev1.PodIP{{IP: "198.18.0.12"}}},
		},
		Container:   "app",
		ContainerID: "containerd://0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	}
}

func testSpec() Spec {
	return Spec{
		Name: "checkout-1", Namespace: "shop", Workload: "deployment/checkout", Selector: "app=checkout",
		TargetNamespace: "shop", Image: "ghcr.io/kubectl-shark/sniffer:v0.1.0", Filter: "tcp port 8080",
		BufferSize: "256Mi", TTL: time.Hour, Heartbeat: time.Minute, RuntimeSocket: "/run/containerd/containerd.sock",
		Created: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, d)
	}
}

func TestSnifferPodGolden(t *testing.T) {
	pod, err := SnifferPod(testSpec(), testTarget(), "abcde")
	if err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "sniffer-pod.yaml", out)

	spec := testSpec()
	spec.Privileged, spec.PullSecret, spec.Heartbeat = true, "regcred", 0
	pod, err = SnifferPod(spec, testTarget(), "abcde")
	if err != nil {
		t.Fatal(err)
	}
	out, _ = yaml.Marshal(pod)
	golden(t, "sniffer-pod-privileged.yaml", out)

	spec = testSpec()
	spec.Backend, spec.TLS, spec.TLSLibs = BackendAuto, true, []string{"/usr/lib/x86_64-linux-gnu/libssl.so.3"}
	pod, err = SnifferPod(spec, testTarget(), "abcde")
	if err != nil {
		t.Fatal(err)
	}
	out, _ = yaml.Marshal(pod)
	golden(t, "sniffer-pod-ebpf-tls.yaml", out)
}

// The eBPF capabilities are added exactly when eBPF programs are loaded.
func TestSnifferPodEBPFCapabilities(t *testing.T) {
	for _, tc := range []struct {
		backend string
		tls     bool
		want    []corev1.Capability
	}{
		{"", false, []corev1.Capability{"NET_RAW", "SYS_ADMIN", "SYS_PTRACE"}},
		{BackendAFPacket, false, []corev1.Capability{"NET_RAW", "SYS_ADMIN", "SYS_PTRACE"}},
		{BackendEBPF, false, []corev1.Capability{"NET_RAW", "SYS_ADMIN", "SYS_PTRACE", "BPF", "PERFMON", "NET_ADMIN"}},
		{BackendAuto, false, []corev1.Capability{"NET_RAW", "SYS_ADMIN", "SYS_PTRACE", "BPF", "PERFMON", "NET_ADMIN"}},
		{BackendAFPacket, true, []corev1.Capability{"NET_RAW", "SYS_ADMIN", "SYS_PTRACE", "BPF", "PERFMON", "NET_ADMIN"}},
	} {
		spec := testSpec()
		spec.Backend, spec.TLS = tc.backend, tc.tls
		pod, err := SnifferPod(spec, testTarget(), "abcde")
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tc.want, pod.Spec.Containers[0].SecurityContext.Capabilities.Add); d != "" {
			t.Errorf("backend %q tls %v: capabilities (-want +got):\n%s", tc.backend, tc.tls, d)
		}
	}
}

func TestSnifferPodInvariants(t *testing.T) {
	pod, err := SnifferPod(testSpec(), testTarget(), "abcde")
	if err != nil {
		t.Fatal(err)
	}
	s := pod.Spec
	if !s.HostPID || s.NodeName != "node-a" || *s.AutomountServiceAccountToken || *s.ActiveDeadlineSeconds != 3600 {
		t.Errorf("pod spec basics wrong: %+v", s)
	}
	c := s.Containers[0]
	if c.SecurityContext.Privileged != nil {
		t.Errorf("privileged set without --privileged")
	}
	if got := c.SecurityContext.Capabilities.Add; len(got) != 3 {
		t.Errorf("capabilities %v, want exactly NET_RAW, SYS_ADMIN, SYS_PTRACE", got)
	}
	if pod.Labels[LabelCapture] != "checkout-1" || pod.Labels[LabelManagedBy] != "kubectl-shark" {
		t.Errorf("labels %v", pod.Labels)
	}
	if _, err := SnifferPod(Spec{BufferSize: "lots"}, testTarget(), "x"); err == nil {
		t.Errorf("a bad buffer size was accepted")
	}
}

func TestSnifferName(t *testing.T) {
	long := SnifferName("a-capture-with-a-long-name", "a-pod-with-an-even-longer-generated-name-7d9f8b6c5d-x2x4z", "abcde")
	if len(long) > 63 {
		t.Errorf("%q is %d characters", long, len(long))
	}
	if got := SnifferName("c", "web-1", "abcde"); got != "shark-c-web-1-abcde" {
		t.Errorf("got %q", got)
	}
}
