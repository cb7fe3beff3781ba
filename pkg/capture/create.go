package capture

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// Clients bundles what the control plane needs to reach a cluster.
type Clients struct {
	Kube       kubernetes.Interface
	RESTConfig *rest.Config
}

// Progress receives human-readable progress lines (stderr of the CLI).
type Progress func(format string, args ...any)

// RandomSuffix returns 5 random lower-case alphanumerics, like generateName.
func RandomSuffix() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	var b [5]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

// Preflight checks, before anything is created, that the user may create, get, list,
// watch and delete pods and create pods/portforward in the sniffer namespace, and
// that Pod Security Admission admits a sniffer (server-side dry run). Errors name
// what is missing and what to do.
func Preflight(ctx context.Context, c Clients, ns string, sample *corev1.Pod) error {
	var missing []string
	for _, v := range []struct{ verb, res, sub string }{
		{"create", "pods", ""}, {"get", "pods", ""}, {"list", "pods", ""}, {"watch", "pods", ""},
		{"delete", "pods", ""}, {"create", "pods", "portforward"}, {"get", "pods", "log"},
	} {
		ssar := &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authv1.ResourceAttributes{Namespace: ns, Verb: v.verb, Resource: v.res, Subresource: v.sub},
		}}
		res, err := c.Kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, ssar, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("checking permissions: %w", err)
		}
		if !res.Status.Allowed {
			r := v.res
			if v.sub != "" {
				r += "/" + v.sub
			}
			missing = append(missing, v.verb+" "+r)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing permissions in namespace %q: %s (see the README's RBAC section for a ready-to-apply Role)", ns, strings.Join(missing, ", "))
	}
	if sample != nil {
		_, err := c.Kube.CoreV1().Pods(ns).Create(ctx, sample, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return explainCreateError(err, ns)
		}
	}
	return nil
}

// explainCreateError turns an admission rejection into advice.
func explainCreateError(err error, ns string) error {
	msg := err.Error()
	if apierrors.IsForbidden(err) && strings.Contains(msg, "violates PodSecurity") {
		return fmt.Errorf("namespace %q does not admit sniffer pods: %w\n"+
			"sniffers need hostPID and the NET_RAW, SYS_ADMIN and SYS_PTRACE capabilities. Either label the namespace:\n"+
			"  kubectl label namespace %s pod-security.kubernetes.io/enforce=privileged\n"+
			"or run the sniffers in a namespace that admits them: --sniffer-namespace NAMESPACE", ns, err, ns)
	}
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("creating sniffer pods in namespace %q: %w", ns, err)
	}
	return fmt.Errorf("creating sniffer pods in namespace %q: %w", ns, err)
}

// Create creates one sniffer per target and waits until every one is Ready
// (capturing). On error it deletes what it created. It returns the sniffer pods.
func Create(ctx context.Context, c Clients, spec Spec, targets []Target, suffix func() string, progress Progress) ([]*corev1.Pod, error) {
	if suffix == nil {
		suffix = RandomSuffix
	}
	if progress == nil {
		progress = func(string, ...any) {}
	}
	if err := checkRuntimes(ctx, c, targets); err != nil {
		return nil, err
	}
	var pods []*corev1.Pod
	for _, t := range targets {
		p, err := SnifferPod(spec, t, suffix())
		if err != nil {
			return nil, err
		}
		pods = append(pods, p)
	}
	if len(pods) == 0 {
		return nil, ErrNoTargets
	}
	if err := Preflight(ctx, c, spec.Namespace, pods[0]); err != nil {
		return nil, err
	}
	var created []*corev1.Pod
	cleanup := func() {
		del, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		for _, p := range created {
			c.Kube.CoreV1().Pods(p.Namespace).Delete(del, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))})
		}
	}
	for _, p := range pods {
		out, err := c.Kube.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			cleanup()
			return nil, explainCreateError(err, p.Namespace)
		}
		created = append(created, out)
		progress("created sniffer %s for %s on node %s", out.Name, out.Annotations[AnnotationTarget], out.Spec.NodeName)
	}
	if err := WaitReady(ctx, c, created, progress); err != nil {
		cleanup()
		return nil, err
	}
	return created, nil
}

// ErrSnifferFailed is wrapped when a sniffer cannot start.
var ErrSnifferFailed = errors.New("sniffer failed")

// WaitReady watches the sniffer pods until each is Ready, failing fast with the
// reason (image pull error, crash with its last log lines, unschedulable).
func WaitReady(ctx context.Context, c Clients, pods []*corev1.Pod, progress Progress) error {
	var wg sync.WaitGroup
	errs := make([]error, len(pods))
	for i, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = waitOne(ctx, c, p, progress)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func waitOne(ctx context.Context, c Clients, pod *corev1.Pod, progress Progress) error {
	ctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
	defer cancel()
	lw := podListWatch(c, pod.Namespace, fields.OneTermEqualSelector("metadata.name", pod.Name).String(), "")
	var failure error
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, nil, func(ev watch.Event) (bool, error) {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			return false, nil
		}
		if ev.Type == watch.Deleted {
			return false, fmt.Errorf("%w: sniffer %s was deleted while starting", ErrSnifferFailed, pod.Name)
		}
		if why := podFailure(p); why != "" {
			failure = fmt.Errorf("%w: %s: %s%s", ErrSnifferFailed, p.Name, why, lastLogs(ctx, c, p))
			return false, failure
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				progress("sniffer %s is capturing", p.Name)
				return true, nil
			}
		}
		return false, nil
	})
	if failure != nil {
		return failure
	}
	if err != nil {
		if wait.Interrupted(err) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("%w: %s is not capturing after %s%s", ErrSnifferFailed, pod.Name, ReadyTimeout, podEvents(context.WithoutCancel(ctx), c, pod))
		}
		return fmt.Errorf("waiting for sniffer %s: %w", pod.Name, err)
	}
	return nil
}

// ReadyTimeout bounds the wait for one sniffer to capture (image pull included).
var ReadyTimeout = 3 * time.Minute

// podEvents returns the pod's recent warning events, for error messages.
func podEvents(ctx context.Context, c Clients, pod *corev1.Pod) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	evs, err := c.Kube.CoreV1().Events(pod.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.Set{"involvedObject.name": pod.Name, "involvedObject.kind": "Pod"}.String(),
	})
	if err != nil || len(evs.Items) == 0 {
		return ""
	}
	var lines []string
	for _, e := range evs.Items {
		if e.Type == corev1.EventTypeWarning || len(lines) < 5 {
			lines = append(lines, e.Reason+": "+e.Message)
		}
	}
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return "\nevents of " + pod.Name + ":\n  " + strings.Join(lines, "\n  ")
}

// checkRuntimes refuses targets on nodes whose container runtime is not containerd:
// the sniffer finds its target through containerd's API and mounts its socket.
func checkRuntimes(ctx context.Context, c Clients, targets []Target) error {
	seen := map[string]bool{}
	for _, t := range targets {
		node := t.Pod.Spec.NodeName
		if seen[node] {
			continue
		}
		seen[node] = true
		n, err := c.Kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			continue // nodes may not be readable with namespaced RBAC; the sniffer reports it then
		}
		rt := n.Status.NodeInfo.ContainerRuntimeVersion
		if rt != "" && !strings.HasPrefix(rt, "containerd://") {
			return fmt.Errorf("pod %s runs on node %s whose container runtime is %s: kubectl-shark's sniffers need containerd (they find the target container through its API)", t.Pod.Name, node, rt)
		}
		if !strings.HasPrefix(t.ContainerID, "containerd://") {
			return fmt.Errorf("container %s of pod %s has ID %q: kubectl-shark's sniffers need containerd", t.Container, t.Pod.Name, t.ContainerID)
		}
	}
	return nil
}

// podFailure says why a sniffer cannot become ready, or "" while it still may.
func podFailure(p *corev1.Pod) string {
	if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
		return "pod " + strings.ToLower(string(p.Status.Phase)) + " " + p.Status.Message
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
			return "cannot be scheduled: " + cond.Message
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil {
			switch w.Reason {
			case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull":
				return fmt.Sprintf("cannot pull image %s (%s: %s); use --image to pick another, or --pull-secret for a private registry", cs.Image, w.Reason, w.Message)
			case "CreateContainerConfigError", "CreateContainerError", "RunContainerError":
				return w.Reason + ": " + w.Message
			case "CrashLoopBackOff":
				return "the sniffer keeps crashing"
			}
		}
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			return fmt.Sprintf("the sniffer exited with code %d: %s", t.ExitCode, strings.TrimSpace(t.Message))
		}
		if t := cs.LastTerminationState.Terminated; t != nil && t.ExitCode != 0 && cs.RestartCount > 0 {
			return fmt.Sprintf("the sniffer exited with code %d: %s", t.ExitCode, strings.TrimSpace(t.Message))
		}
	}
	return ""
}

// lastLogs returns the sniffer's last log lines, indented, for error messages.
func lastLogs(ctx context.Context, c Clients, p *corev1.Pod) string {
	lines := int64(10)
	for _, previous := range []bool{false, true} {
		req := c.Kube.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: SnifferContainerName, TailLines: &lines, Previous: previous})
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		rc, err := req.Stream(ctx)
		if err != nil {
			cancel()
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(rc, 16<<10))
		rc.Close()
		cancel()
		if s := strings.TrimSpace(string(b)); s != "" {
			return "\nlast log lines of " + p.Name + ":\n  " + strings.ReplaceAll(s, "\n", "\n  ")
		}
	}
	return ""
}

// Delete deletes the sniffers of a capture (every capture when name is "") in ns
// (every namespace when ns is "") and waits until they are gone.
func Delete(ctx context.Context, c Clients, ns, name string, progress Progress) (int, error) {
	sel := labels.Set{LabelManagedBy: ManagedByValue}
	if name != "" {
		sel[LabelCapture] = name
	}
	list, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return 0, fmt.Errorf("listing sniffers: %w", err)
	}
	for _, p := range list.Items {
		err := c.Kube.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(2))})
		if err != nil && !apierrors.IsNotFound(err) {
			return 0, fmt.Errorf("deleting sniffer %s/%s: %w", p.Namespace, p.Name, err)
		}
		if progress != nil {
			progress("deleted sniffer %s/%s", p.Namespace, p.Name)
		}
	}
	// Wait until they are gone, so "nothing left behind" is true when we return.
	for _, p := range list.Items {
		lw := podListWatch(c, p.Namespace, fields.OneTermEqualSelector("metadata.name", p.Name).String(), "")
		gone := func(store cache.Store) (bool, error) { return len(store.List()) == 0, nil }
		_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, gone, func(ev watch.Event) (bool, error) {
			return ev.Type == watch.Deleted, nil
		})
		if err != nil {
			return len(list.Items), fmt.Errorf("waiting for sniffer %s/%s to go away: %w", p.Namespace, p.Name, err)
		}
	}
	return len(list.Items), nil
}

// podListWatch lists and watches the pods of ns matching a field and a label selector.
func podListWatch(c Clients, ns, fieldSel, labelSel string) *cache.ListWatch {
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector, o.LabelSelector = fieldSel, labelSel
			return c.Kube.CoreV1().Pods(ns).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector, o.LabelSelector = fieldSel, labelSel
			return c.Kube.CoreV1().Pods(ns).Watch(ctx, o)
		},
	}
}
