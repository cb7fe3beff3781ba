package target

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
)

// containerdPID asks containerd for the PID of the task of container id.
func containerdPID(ctx context.Context, socket, namespace, id string) (int, error) {
	where := fmt.Sprintf("containerd at %s, namespace %s", socket, namespace)
	if _, err := os.Stat(socket); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("runtime socket %s does not exist: %w (set --runtime-socket to the node's containerd socket)", socket, ErrRuntimeUnavailable)
		}
		return 0, fmt.Errorf("checking runtime socket %s: %w: %w", socket, ErrRuntimeUnavailable, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultRuntimeTimeout)
		defer cancel()
	}

	c, err := client.New(socket, client.WithDefaultNamespace(namespace))
	if err != nil {
		return 0, fmt.Errorf("connecting to %s: %w: %w", where, ErrRuntimeUnavailable, err)
	}
	defer c.Close()

	ctr, err := c.LoadContainer(ctx, id)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return 0, fmt.Errorf("no container %s in %s: %w", id, where, ErrContainerNotFound)
		}
		return 0, fmt.Errorf("loading container %s from %s: %w: %w", id, where, ErrRuntimeUnavailable, err)
	}
	task, err := ctr.Task(ctx, nil)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return 0, fmt.Errorf("container %s in %s has no task: %w", id, where, ErrContainerNotRunning)
		}
		return 0, fmt.Errorf("loading task of container %s from %s: %w: %w", id, where, ErrRuntimeUnavailable, err)
	}
	st, err := task.Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("getting task status of container %s from %s: %w: %w", id, where, ErrRuntimeUnavailable, err)
	}
	if st.Status != client.Running && st.Status != client.Paused && st.Status != client.Pausing {
		return 0, fmt.Errorf("task of container %s in %s is %s: %w", id, where, st.Status, ErrContainerNotRunning)
	}
	pid := int(task.Pid())
	if pid <= 0 {
		return 0, fmt.Errorf("task of container %s in %s has no pid: %w", id, where, ErrContainerNotRunning)
	}
	return pid, nil
}
