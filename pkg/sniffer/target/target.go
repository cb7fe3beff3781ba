// Package target resolves what the sniffer captures: a container (through the
// containerd API, with a /proc/*/cgroup scan as fallback), a process, or a
// network namespace path, down to an open handle on its network namespace.
//
// The namespace is returned as an open file, so it stays valid for as long as
// the Target is open even if the process that was named exits (DESIGN.md
// decisions 3 and 5).
package target

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/netns"
)

// Defaults for Spec.
const (
	DefaultRuntimeSocket    = "/run/containerd/containerd.sock"
	DefaultRuntimeNamespace = "k8s.io"
	DefaultProcRoot         = "/proc"
	// DefaultRuntimeTimeout bounds the containerd lookup when ctx has no deadline.
	DefaultRuntimeTimeout = 10 * time.Second
)

// Errors returned (wrapped) by Resolve. Test them with errors.Is.
var (
	// ErrInvalidSpec: not exactly one of ContainerID, PID and NetnsPath was set.
	ErrInvalidSpec = errors.New("exactly one of container ID, PID and netns path must be set")
	// ErrContainerNotFound: neither the runtime nor the cgroup scan knows the container.
	ErrContainerNotFound = errors.New("container not found")
	// ErrContainerNotRunning: the runtime knows the container but it has no running task.
	ErrContainerNotRunning = errors.New("container is not running")
	// ErrRuntimeUnavailable: the runtime socket is missing or does not answer.
	ErrRuntimeUnavailable = errors.New("container runtime unavailable")
	// ErrProcessGone: the process does not exist (any more).
	ErrProcessGone = errors.New("process does not exist")
	// ErrNotNetns: the path is not a network namespace. It is netns.ErrNotNetns.
	ErrNotNetns = netns.ErrNotNetns
)

// Spec names one target. Exactly one of ContainerID, PID and NetnsPath must be
// set; the other fields have defaults.
type Spec struct {
	// ContainerID is a container ID, optionally with a "containerd://" style
	// prefix as in a pod's status.containerStatuses[].containerID. IDs of other
	// runtimes ("cri-o://…") skip the containerd lookup and use the cgroup scan.
	ContainerID string
	// RuntimeSocket is containerd's gRPC socket (DefaultRuntimeSocket).
	RuntimeSocket string
	// RuntimeNamespace is the containerd namespace (DefaultRuntimeNamespace).
	RuntimeNamespace string

	// PID is a process whose network namespace is the target.
	PID int

	// NetnsPath is a network namespace file such as /var/run/netns/NAME or
	// /proc/PID/ns/net.
	NetnsPath string

	// ProcRoot is where the PID namespace holding the target is mounted
	// (DefaultProcRoot). PIDs, including those from the runtime, are relative
	// to it.
	ProcRoot string
}

// Source says how a target was found.
type Source string

// Sources.
const (
	SourceContainerd Source = "containerd"
	SourceCgroup     Source = "cgroup"
	SourcePID        Source = "pid"
	SourceNetns      Source = "netns"
)

// Target is a resolved capture target. It owns Netns; Close releases it.
type Target struct {
	// Netns is an open handle on the target's network namespace: pass it to
	// netns.Do or afpacket.Open. It pins the namespace until Close.
	Netns *os.File
	// PID is the process the namespace was taken from, 0 for a NetnsPath target.
	PID int
	// RootFS is the process's root directory (ProcRoot/PID/root), "" if unknown.
	RootFS string
	// ContainerID is the bare container ID for container targets.
	ContainerID string
	// Source says how the target was found.
	Source Source
	// Description is a one-line human-readable summary for logs and status.
	Description string
}

// Close releases the namespace handle.
func (t *Target) Close() error {
	if t == nil || t.Netns == nil {
		return nil
	}
	err := t.Netns.Close()
	t.Netns = nil
	return err
}

// Resolve finds the target named by spec and opens its network namespace.
func Resolve(ctx context.Context, spec Spec) (*Target, error) {
	n := 0
	if spec.ContainerID != "" {
		n++
	}
	if spec.PID != 0 {
		n++
	}
	if spec.NetnsPath != "" {
		n++
	}
	if n != 1 {
		return nil, ErrInvalidSpec
	}
	if spec.RuntimeSocket == "" {
		spec.RuntimeSocket = DefaultRuntimeSocket
	}
	if spec.RuntimeNamespace == "" {
		spec.RuntimeNamespace = DefaultRuntimeNamespace
	}
	if spec.ProcRoot == "" {
		spec.ProcRoot = DefaultProcRoot
	}

	switch {
	case spec.PID != 0:
		if spec.PID < 0 {
			return nil, fmt.Errorf("resolving pid %d: %w", spec.PID, ErrProcessGone)
		}
		t, err := fromPID(spec.ProcRoot, spec.PID)
		if err != nil {
			return nil, err
		}
		t.Source = SourcePID
		t.Description = fmt.Sprintf("pid %d", spec.PID)
		return t, nil

	case spec.NetnsPath != "":
		f, err := netns.Open(spec.NetnsPath)
		if err != nil {
			return nil, err
		}
		return &Target{Netns: f, Source: SourceNetns, Description: "netns " + spec.NetnsPath}, nil

	default:
		return resolveContainer(ctx, spec)
	}
}

// fromPID opens the network namespace of pid.
func fromPID(procRoot string, pid int) (*Target, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	f, err := os.Open(filepath.Join(dir, "ns", "net"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("opening netns of pid %d: %w", pid, ErrProcessGone)
		}
		return nil, fmt.Errorf("opening netns of pid %d: %w (does the agent have CAP_SYS_PTRACE and hostPID?)", pid, err)
	}
	if err := netns.Check(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("opening netns of pid %d: %w", pid, err)
	}
	// The process may have exited between the open and now; the handle is
	// still valid (it pins the namespace), but a zombie's ns link cannot be
	// opened at all, so reaching here means we hold a real namespace.
	return &Target{Netns: f, PID: pid, RootFS: filepath.Join(dir, "root")}, nil
}

// splitContainerID turns "containerd://abc" into ("containerd", "abc").
func splitContainerID(id string) (scheme, bare string) {
	if i := strings.Index(id, "://"); i >= 0 {
		return id[:i], id[i+3:]
	}
	return "", id
}

func resolveContainer(ctx context.Context, spec Spec) (*Target, error) {
	scheme, id := splitContainerID(spec.ContainerID)
	if id == "" || strings.ContainsAny(id, "/\x00") {
		return nil, fmt.Errorf("resolving container %q: malformed container ID: %w", spec.ContainerID, ErrContainerNotFound)
	}

	var runtimeErr error
	if scheme == "" || scheme == "containerd" {
		pid, err := containerdPID(ctx, spec.RuntimeSocket, spec.RuntimeNamespace, id)
		if err == nil {
			t, err := fromPID(spec.ProcRoot, pid)
			if err != nil {
				return nil, fmt.Errorf("resolving container %s: %w", id, err)
			}
			t.ContainerID = id
			t.Source = SourceContainerd
			t.Description = fmt.Sprintf("container %s (containerd %s, namespace %s), pid %d", shortID(id), spec.RuntimeSocket, spec.RuntimeNamespace, pid)
			return t, nil
		}
		if errors.Is(err, ErrContainerNotRunning) || ctx.Err() != nil {
			return nil, fmt.Errorf("resolving container %s: %w", id, err)
		}
		runtimeErr = err
	} else {
		runtimeErr = fmt.Errorf("runtime %q has no API client here", scheme)
	}

	pid, scanErr := scanCgroups(spec.ProcRoot, id)
	if scanErr == nil {
		t, err := fromPID(spec.ProcRoot, pid)
		if err != nil {
			return nil, fmt.Errorf("resolving container %s by cgroup: %w", id, err)
		}
		t.ContainerID = id
		t.Source = SourceCgroup
		t.Description = fmt.Sprintf("container %s (found in %s/*/cgroup), pid %d", shortID(id), spec.ProcRoot, pid)
		return t, nil
	}
	return nil, fmt.Errorf("resolving container %s: %w; fallback: %w", id, runtimeErr, scanErr)
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
