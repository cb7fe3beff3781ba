package capture

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	watchtools "k8s.io/client-go/tools/watch"
)

// SpecOf reads the capture definition stored on a sniffer pod.
func SpecOf(p *corev1.Pod) (Spec, error) {
	var s Spec
	if err := json.Unmarshal([]byte(p.Annotations[AnnotationSpec]), &s); err != nil {
		return s, fmt.Errorf("reading the capture definition on %s: %w", p.Name, err)
	}
	return s, nil
}

// Reconcile gives every running pod of the capture's workload a sniffer: pods
// created since the capture started (scale-up, rollout) get theirs now. It returns
// the sniffers it created (already Ready).
func Reconcile(ctx context.Context, c Clients, ns, name string, progress Progress) ([]*corev1.Pod, error) {
	pods, err := Sniffers(ctx, c, ns, name)
	if err != nil {
		return nil, err
	}
	spec, err := SpecOf(&pods[0])
	if err != nil {
		return nil, err
	}
	if spec.Selector == "" {
		return nil, nil // a single pod: nothing ever joins
	}
	have := map[string]bool{}
	for _, p := range pods {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded {
			have[p.Labels[LabelTargetUID]] = true
		}
	}
	sel, err := labels.Parse(spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("capture %q has a bad selector %q: %w", name, spec.Selector, err)
	}
	targets, _, err := ResolveTargets(ctx, c.Kube, spec.TargetNamespace, sel, spec.Container)
	if err != nil {
		return nil, err
	}
	var missing []Target
	for _, t := range targets {
		if !have[string(t.Pod.UID)] {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return nil, nil
	}
	if progress != nil {
		progress("%d new pod(s) of %s: starting sniffers", len(missing), spec.Selector)
	}
	created, err := Create(ctx, c, spec, missing, nil, progress)
	if err != nil {
		return nil, err
	}
	StoreContext(ctx, c, created, Identities(ctx, c, nil), nil)
	return created, nil
}

// StoreContext sends the identity snapshot to each sniffer (POST /context), so
// entries of pods that are gone later still resolve as they were.
func StoreContext(ctx context.Context, c Clients, pods []*corev1.Pod, ids any, warn Progress) {
	body, _ := json.Marshal(ids)
	var wg sync.WaitGroup
	for _, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t, err := Open(ctx, c, p)
			if err != nil {
				if warn != nil {
					warn("storing the identity snapshot on %s: %v", p.Name, err)
				}
				return
			}
			defer t.Close()
			resp, err := t.Do(ctx, http.MethodPost, "/context", nil, bytes.NewReader(body))
			if err != nil {
				if warn != nil {
					warn("storing the identity snapshot on %s: %v", p.Name, err)
				}
				return
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
}

// Heartbeat calls POST /heartbeat on every ready sniffer of a capture every period
// until ctx ends: the sniffers' dead-man switch for foreground captures.
func Heartbeat(ctx context.Context, c Clients, ns, name string, period time.Duration) {
	tunnels := map[string]*Tunnel{}
	defer func() {
		for _, t := range tunnels {
			t.Close()
		}
	}()
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		pods, err := Sniffers(ctx, c, ns, name)
		if err == nil {
			for i := range pods {
				p := &pods[i]
				if !podReady(p) {
					continue
				}
				t, ok := tunnels[p.Name]
				if !ok {
					if t, err = Open(ctx, c, p); err != nil {
						continue
					}
					tunnels[p.Name] = t
				}
				hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				resp, err := t.Do(hctx, http.MethodPost, "/heartbeat", nil, nil)
				cancel()
				if err != nil {
					t.Close()
					delete(tunnels, p.Name)
					continue
				}
				resp.Body.Close()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// WatchTargets watches the capture's workload and calls Reconcile whenever a pod
// becomes ready, until ctx ends.
func WatchTargets(ctx context.Context, c Clients, spec Spec, onNew func([]*corev1.Pod), progress Progress) error {
	if spec.Selector == "" {
		return nil
	}
	lw := podListWatch(c, spec.TargetNamespace, "", spec.Selector)
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, nil, func(ev watch.Event) (bool, error) {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok || ev.Type == watch.Deleted {
			return false, nil
		}
		if _, why := TargetOf(p, spec.Container); why != "" {
			return false, nil
		}
		created, err := Reconcile(ctx, c, spec.Namespace, spec.Name, progress)
		if err != nil && ctx.Err() == nil && progress != nil {
			progress("starting a sniffer for %s: %v", p.Name, err)
		}
		if len(created) > 0 && onNew != nil {
			onNew(created)
		}
		return false, nil
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}
