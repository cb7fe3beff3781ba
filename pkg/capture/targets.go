package capture

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// ErrNoTargets is wrapped when a workload has no running pod to capture.
var ErrNoTargets = errors.New("no running pods to capture")

// ErrNotFound is wrapped when the named workload does not exist.
var ErrNotFound = errors.New("not found")

// kinds maps kubectl's names and short names to canonical kinds.
var kinds = map[string]string{
	"pod": "pod", "pods": "pod", "po": "pod",
	"deployment": "deployment", "deployments": "deployment", "deploy": "deployment",
	"replicaset": "replicaset", "replicasets": "replicaset", "rs": "replicaset",
	"statefulset": "statefulset", "statefulsets": "statefulset", "sts": "statefulset",
	"daemonset": "daemonset", "daemonsets": "daemonset", "ds": "daemonset",
	"job": "job", "jobs": "job",
}

// ParseWorkload splits "TYPE/NAME" (or TYPE and NAME given separately) into a
// canonical kind and a name.
func ParseWorkload(args []string) (kind, name string, err error) {
	var typ string
	switch len(args) {
	case 1:
		var ok bool
		typ, name, ok = strings.Cut(args[0], "/")
		if !ok {
			// kubectl treats a bare NAME as a pod only for some commands; be explicit.
			return "", "", fmt.Errorf("%q: give TYPE/NAME (e.g. deploy/%s or pod/%s), or -l SELECTOR", args[0], args[0], args[0])
		}
	case 2:
		typ, name = args[0], args[1]
	default:
		return "", "", fmt.Errorf("expected TYPE/NAME, TYPE NAME or -l SELECTOR")
	}
	kind, ok := kinds[strings.ToLower(typ)]
	if !ok {
		return "", "", fmt.Errorf("cannot capture a %q: use pod, deployment, replicaset, statefulset, daemonset or job", typ)
	}
	if name == "" {
		return "", "", fmt.Errorf("missing the %s name", kind)
	}
	return kind, name, nil
}

// WorkloadSelector returns the label selector of a workload's pods (for a pod: its
// labels plus its name, resolved by the caller).
func WorkloadSelector(ctx context.Context, kc kubernetes.Interface, ns, kind, name string) (labels.Selector, *corev1.Pod, error) {
	var sel *metav1.LabelSelector
	var err error
	switch kind {
	case "pod":
		pod, err := kc.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, nil, notFound(err, kind, name, ns)
		}
		return labels.Everything(), pod, nil
	case "deployment":
		d, e := kc.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		err = e
		if e == nil {
			sel = d.Spec.Selector
		}
	case "replicaset":
		r, e := kc.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
		err = e
		if e == nil {
			sel = r.Spec.Selector
		}
	case "statefulset":
		s, e := kc.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
		err = e
		if e == nil {
			sel = s.Spec.Selector
		}
	case "daemonset":
		d, e := kc.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		err = e
		if e == nil {
			sel = d.Spec.Selector
		}
	case "job":
		j, e := kc.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		err = e
		if e == nil {
			sel = j.Spec.Selector
		}
	default:
		return nil, nil, fmt.Errorf("unknown kind %q", kind)
	}
	if err != nil {
		return nil, nil, notFound(err, kind, name, ns)
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the selector of %s/%s: %w", kind, name, err)
	}
	if s.Empty() {
		return nil, nil, fmt.Errorf("%s/%s has an empty selector: refusing to capture every pod of namespace %s", kind, name, ns)
	}
	return s, nil, nil
}

func notFound(err error, kind, name, ns string) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%s %q %w in namespace %q (check the name, or pass -n NAMESPACE)", kind, name, ErrNotFound, ns)
	}
	return fmt.Errorf("getting %s %q in namespace %q: %w", kind, name, ns, err)
}

// DefaultContainer is the container to capture when none is named: the pod's
// kubectl.kubernetes.io/default-container annotation, else its first container.
func DefaultContainer(pod *corev1.Pod) string {
	if c := pod.Annotations["kubectl.kubernetes.io/default-container"]; c != "" {
		for _, ct := range pod.Spec.Containers {
			if ct.Name == c {
				return c
			}
		}
	}
	if len(pod.Spec.Containers) > 0 {
		return pod.Spec.Containers[0].Name
	}
	return ""
}

// TargetOf returns the capture target of a pod, or a reason it cannot be captured
// now (not running yet, container not started, ...).
func TargetOf(pod *corev1.Pod, container string) (Target, string) {
	if pod.DeletionTimestamp != nil {
		return Target{}, "terminating"
	}
	if pod.Status.Phase != corev1.PodRunning {
		return Target{}, "phase " + string(pod.Status.Phase)
	}
	if pod.Spec.HostNetwork {
		return Target{}, "uses the host network (capture the node instead)"
	}
	if container == "" {
		container = DefaultContainer(pod)
	}
	found := false
	for _, c := range pod.Spec.Containers {
		if c.Name == container {
			found = true
		}
	}
	if !found {
		var names []string
		for _, c := range pod.Spec.Containers {
			names = append(names, c.Name)
		}
		return Target{}, fmt.Sprintf("has no container %q (it has %s)", container, strings.Join(names, ", "))
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == container && cs.ContainerID != "" && cs.State.Running != nil {
			return Target{Pod: pod, Container: container, ContainerID: cs.ContainerID}, ""
		}
	}
	return Target{}, fmt.Sprintf("container %q is not running", container)
}

// ResolveTargets lists the pods matching sel in ns and returns the capturable ones,
// sorted by name, plus the reasons the others were skipped.
func ResolveTargets(ctx context.Context, kc kubernetes.Interface, ns string, sel labels.Selector, container string) ([]Target, []string, error) {
	list, err := kc.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, nil, fmt.Errorf("listing pods %q in namespace %q: %w", sel, ns, err)
	}
	var out []Target
	var skipped []string
	for i := range list.Items {
		pod := &list.Items[i]
		if pod.Labels[LabelManagedBy] == ManagedByValue {
			continue // never capture our own sniffers
		}
		t, why := TargetOf(pod, container)
		if why != "" {
			skipped = append(skipped, pod.Name+": "+why)
			continue
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pod.Name < out[j].Pod.Name })
	return out, skipped, nil
}
