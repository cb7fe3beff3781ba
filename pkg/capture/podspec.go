package capture

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels and annotations on every sniffer pod. A capture is exactly the set of pods
// carrying LabelCapture=<name>; cleanup is one label selector.
const (
	LabelManagedBy       = "app.kubernetes.io/managed-by"
	ManagedByValue       = "kubectl-shark"
	LabelComponent       = "app.kubernetes.io/component"
	ComponentValue       = "sniffer"
	LabelCapture         = "kubectl-shark.io/capture"
	LabelTargetUID       = "kubectl-shark.io/target-uid"
	AnnotationTarget     = "kubectl-shark.io/target" // namespace/pod/container
	AnnotationContainer  = "kubectl-shark.io/container-id"
	AnnotationSpec       = "kubectl-shark.io/spec"       // JSON of Spec (the capture's definition)
	AnnotationTargetIP   = "kubectl-shark.io/target-ips" // comma-separated pod IPs at capture start
	SnifferContainerName = "sniffer"
	// APIPort is where the agent listens, on 127.0.0.1 of the sniffer pod.
	APIPort = 8899
)

// Spec is a capture's definition, stored as JSON in every sniffer's AnnotationSpec so
// that list, get and the follow-up of new pods can rebuild it.
type Spec struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"` // where the sniffers run
	// Workload says what is captured: "deployment/web" or a label selector; with
	// TargetNamespace.
	Workload        string `json:"workload,omitempty"`
	Selector        string `json:"selector"`
	TargetNamespace string `json:"targetNamespace"`
	Container       string `json:"container,omitempty"`

	Image      string `json:"image"`
	PullSecret string `json:"pullSecret,omitempty"`
	Privileged bool   `json:"privileged,omitempty"`
	Filter     string `json:"filter,omitempty"`
	// Backend is the capture backend: BackendAFPacket (default, ""), BackendEBPF or
	// BackendAuto.
	Backend string `json:"backend,omitempty"`
	// TLS attaches OpenSSL uprobes to recover TLS plaintext; TLSLibs names libssl
	// files (paths in the target container) to probe instead of searching.
	TLS        bool          `json:"tls,omitempty"`
	TLSLibs    []string      `json:"tlsLibs,omitempty"`
	BufferSize string        `json:"bufferSize"` // a quantity, e.g. "256Mi"
	TTL        time.Duration `json:"ttl"`
	// Heartbeat, when non-zero, makes sniffers exit when the plugin stops calling
	// (foreground captures: --follow without --keep).
	Heartbeat time.Duration `json:"heartbeat,omitempty"`
	// RuntimeSocket is the containerd socket on the nodes.
	RuntimeSocket string    `json:"runtimeSocket"`
	Created       time.Time `json:"created"`
}

// Capture backends (Spec.Backend, the sniffer's --backend).
const (
	BackendAFPacket = "af_packet"
	BackendEBPF     = "ebpf"
	BackendAuto     = "auto"
)

// Backends lists the valid Spec.Backend values.
var Backends = []string{BackendAFPacket, BackendEBPF, BackendAuto}

// NeedsEBPF reports whether the sniffers load eBPF programs (and so need CAP_BPF,
// CAP_PERFMON and CAP_NET_ADMIN).
func (s Spec) NeedsEBPF() bool {
	return s.TLS || (s.Backend != "" && s.Backend != BackendAFPacket)
}

// Target is one pod to capture.
type Target struct {
	Pod         *corev1.Pod
	Container   string // container name
	ContainerID string // "containerd://…" as in the pod status
}

// segmentSize picks the FIFO segment size for a buffer: 1/16 of it, between 1 MiB
// and 64 MiB.
func segmentSize(buffer int64) int64 {
	s := buffer / 16
	if s < 1<<20 {
		s = 1 << 20
	}
	if s > 64<<20 {
		s = 64 << 20
	}
	return s
}

// SnifferPod builds the sniffer pod for one target. It is a pure function: suffix
// is the random part of the name (injected so tests are reproducible).
//
// The pod runs on the target's node (nodeName, tolerating every taint), shares the
// host PID namespace to reach the target's network namespace, mounts no service
// account token, and has only the capabilities AF_PACKET capture inside another
// pod's netns needs: NET_RAW (the packet socket), SYS_ADMIN (setns), SYS_PTRACE
// (opening /proc/PID/ns/net of another pod's process). The eBPF backend and --tls
// add BPF (loading programs and maps), PERFMON (uprobes, kprobes, and the pointer
// reads of tracing programs) and NET_ADMIN (attaching to TC). Privileged only on
// request.
func SnifferPod(spec Spec, t Target, suffix string) (*corev1.Pod, error) {
	buf, err := resource.ParseQuantity(spec.BufferSize)
	if err != nil {
		return nil, fmt.Errorf("buffer size %q: %w", spec.BufferSize, err)
	}
	seg := segmentSize(buf.Value())
	// The emptyDir may exceed the buffer by one segment (the open one) plus the
	// sidecars' rounding; give it room so the kubelet never evicts a full FIFO.
	limit := resource.NewQuantity(buf.Value()+2*seg, resource.BinarySI)
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	pod := t.Pod
	var ips []string
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	if len(ips) == 0 && pod.Status.PodIP != "" {
		ips = append(ips, pod.Status.PodIP)
	}

	args := []string{
		"--container-id=" + t.ContainerID,
		"--runtime-socket=" + spec.RuntimeSocket,
		"--data-dir=/data",
		"--buffer-size=" + buf.String(),
		"--segment-size=" + resource.NewQuantity(seg, resource.BinarySI).String(),
		"--listen=127.0.0.1:" + strconv.Itoa(APIPort),
		"--ready-file=/tmp/ready",
		"--name=" + spec.Name,
		"--node=" + pod.Spec.NodeName,
		"--log-json",
	}
	if spec.Filter != "" {
		args = append(args, "--filter="+spec.Filter)
	}
	if spec.Heartbeat > 0 {
		args = append(args, "--heartbeat-timeout="+spec.Heartbeat.String())
	}
	if spec.Backend != "" && spec.Backend != BackendAFPacket {
		args = append(args, "--backend="+spec.Backend)
	}
	if spec.TLS {
		args = append(args, "--tls")
		for _, lib := range spec.TLSLibs {
			args = append(args, "--tls-lib="+lib)
		}
	}
	caps := []corev1.Capability{"NET_RAW", "SYS_ADMIN", "SYS_PTRACE"}
	if spec.NeedsEBPF() {
		caps = append(caps, "BPF", "PERFMON", "NET_ADMIN")
	}

	sc := &corev1.SecurityContext{
		RunAsUser:                ptr(int64(0)),
		RunAsNonRoot:             ptr(false),
		ReadOnlyRootFilesystem:   ptr(true),
		AllowPrivilegeEscalation: ptr(false),
		Capabilities: &corev1.Capabilities{
			Drop: []corev1.Capability{"ALL"},
			Add:  caps,
		},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if spec.Privileged {
		sc = &corev1.SecurityContext{Privileged: ptr(true), RunAsUser: ptr(int64(0)), ReadOnlyRootFilesystem: ptr(true)}
	}
	hostPathSocket := corev1.HostPathSocket
	ttl := int64(spec.TTL / time.Second)
	if ttl < 1 {
		ttl = 1
	}
	name := SnifferName(spec.Name, pod.Name, suffix)
	p := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: spec.Namespace,
			Labels: map[string]string{
				LabelManagedBy: ManagedByValue,
				LabelComponent: ComponentValue,
				LabelCapture:   spec.Name,
				LabelTargetUID: string(pod.UID),
			},
			Annotations: map[string]string{
				AnnotationTarget:    pod.Namespace + "/" + pod.Name + "/" + t.Container,
				AnnotationContainer: t.ContainerID,
				AnnotationSpec:      string(specJSON),
				AnnotationTargetIP:  strings.Join(ips, ","),
			},
		},
		Spec: corev1.PodSpec{
			NodeName:                      pod.Spec.NodeName,
			HostPID:                       true,
			AutomountServiceAccountToken:  ptr(false),
			EnableServiceLinks:            ptr(false),
			RestartPolicy:                 corev1.RestartPolicyOnFailure,
			ActiveDeadlineSeconds:         &ttl,
			TerminationGracePeriodSeconds: ptr(int64(10)),
			Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{{
				Name:            SnifferContainerName,
				Image:           spec.Image,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Args:            args,
				SecurityContext: sc,
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{
						corev1.ResourceCPU:    resource.MustParse("50m"),
						corev1.ResourceMemory: resource.MustParse("64Mi"),
					},
					Limits: corev1.ResourceList{
						corev1.ResourceMemory: resource.MustParse("512Mi"),
					},
				},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
						Command: []string{"/shark-sniffer", "--probe", "http://127.0.0.1:" + strconv.Itoa(APIPort) + "/readyz"},
					}},
					PeriodSeconds:    1,
					FailureThreshold: 3,
					TimeoutSeconds:   2,
				},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "data", MountPath: "/data"},
					{Name: "tmp", MountPath: "/tmp"},
					{Name: "runtime", MountPath: spec.RuntimeSocket},
				},
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
			}},
			Volumes: []corev1.Volume{
				{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: limit}}},
				{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: resource.NewQuantity(1<<20, resource.BinarySI)}}},
				{Name: "runtime", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: spec.RuntimeSocket, Type: &hostPathSocket}}},
			},
		},
	}
	if spec.PullSecret != "" {
		p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: spec.PullSecret}}
	}
	return p, nil
}

// SnifferName is "shark-<capture>-<pod>-<suffix>", shortened to a valid pod name.
func SnifferName(capture, pod, suffix string) string {
	base := "shark-" + capture + "-" + pod
	max := 63 - 1 - len(suffix) // keep it a valid label value too (for the hostname)
	if len(base) > max {
		base = strings.TrimRight(base[:max], "-.")
	}
	return base + "-" + suffix
}

func ptr[T any](v T) *T { return &v }
