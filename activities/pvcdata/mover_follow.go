package pvcdata

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// summaryTailLines bounds the log read for a summary. The summary is the
// mover's last stdout line; after it come only its closing log lines on
// stderr (a line or two), which share the container's log.
const summaryTailLines = 20

// claimsTailLines bounds the log read for one claim's summary in a mover
// that fills many: it writes every claim's summary again as its last lines
// (a batch has at most 100 claims, concurrentSyncs' maximum), and movers
// before 2026-12-08 wrote a "sync finished" line per claim after them.
const claimsTailLines = 1000

// moverRef is the mover container a Transfer follows: its own sync pod's,
// or a batch sync pod's (TransferInput.Follow).
type moverRef struct {
	namespace, pod, container string
	// followed: the Replication run made the pod, and only it could make
	// it again.
	followed bool
	// claim, when set, is the module whose lines are this claim's in a
	// mover that fills many (kube.BatchMoversContainer).
	claim string
}

// followedMover is the followed m as its pod runs it: the claim that m's
// container names (kube.BatchMoverContainer) is followed in the pod's one
// mover for all claims (kube.BatchMoversContainer) when the pod has one,
// and by its own container in a pod with a mover per claim. The pod's
// shape decides, not who asked: a sync of older code may follow a pod of
// one mover, and a worker of older code may make a pod of the older shape
// for a sync of newer code.
func followedMover(ctx context.Context, cs kubernetes.Interface, m moverRef) (moverRef, error) {
	index, ok := kube.BatchMoverIndex(m.container)
	if !ok {
		return m, nil
	}
	pod, err := cs.CoreV1().Pods(m.namespace).Get(ctx, m.pod, metav1.GetOptions{})
	if err != nil {
		return m, m.lost(err)
	}
	if !kube.HasContainer(pod, m.container) && kube.HasContainer(pod, kube.BatchMoversContainer) {
		m.container, m.claim = kube.BatchMoversContainer, kube.BatchModule(index)
	}
	return m, nil
}

// String names the container in errors; an own sync pod is named as it
// always was.
func (m moverRef) String() string {
	switch {
	case m.claim != "":
		return fmt.Sprintf("claim %s of container %s of sync pod %s/%s", m.claim, m.container, m.namespace, m.pod)
	case m.followed:
		return fmt.Sprintf("container %s of sync pod %s/%s", m.container, m.namespace, m.pod)
	}
	return fmt.Sprintf("sync pod %s/%s", m.namespace, m.pod)
}

// lost says that a followed pod is gone (err is NotFound) as a
// FollowedMoverLost error; any other error is returned as it is. An own
// sync pod that is gone stays retryable: the retry creates it again.
func (m moverRef) lost(err error) error {
	if m.isLost(err) {
		return activities.NonRetryable(contract.ErrTypeFollowedMoverLost, "%s is gone: %v", m, err)
	}
	return err
}

func (m moverRef) isLost(err error) bool { return m.followed && apierrors.IsNotFound(err) }

// followMover streams the mover's JSON progress lines until its container
// exits or prints its summary, heartbeating at most every heartbeatEvery and
// at least that often. seen says the summary came with the stream: it is
// the mover's last stdout line, printed once every byte moved, so the
// transfer need not wait the second or so the kubelet takes to notice the
// exit and end the stream or show the container terminated.
func followMover(ctx context.Context, cs kubernetes.Interface, m moverRef, heartbeat func(contract.TransferProgress)) (sum progress.Summary, seen bool, err error) {
	if err := waitContainerStarted(ctx, cs, m, heartbeat); err != nil {
		return progress.Summary{}, false, err
	}
	stream, err := cs.CoreV1().Pods(m.namespace).GetLogs(m.pod, &corev1.PodLogOptions{Container: m.container, Follow: true}).Stream(ctx)
	if err != nil {
		// A finished mover's logs may be gone with its node; its summary is
		// in the pod status, which is all the result needs.
		terminated, getErr := moverTerminated(ctx, cs, m)
		switch {
		case getErr == nil && terminated:
			return progress.Summary{}, false, nil
		case m.isLost(getErr):
			return progress.Summary{}, false, m.lost(getErr)
		}
		return progress.Summary{}, false, fmt.Errorf("follow logs of %s: %w", m, err)
	}
	defer stream.Close()
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	events := make(chan progress.Event)
	done := make(chan error, 1)
	go func() {
		err := readEvents(stream, m.claim, func(e progress.Event) bool {
			select {
			case events <- e:
				return true
			case <-readCtx.Done():
				return false
			}
		})
		done <- err
	}()
	current := contract.TransferProgress{Phase: contract.TransferTransferring}
	ticker := time.NewTicker(heartbeatEvery)
	defer ticker.Stop()
	for {
		select {
		case e := <-events:
			if e.Type == progress.TypeSummary {
				heartbeat(current)
				return *e.Summary, true, nil
			}
			current.Snapshot = *e.Progress
		case <-ticker.C:
			heartbeat(current)
		case err := <-done:
			heartbeat(current)
			if err != nil && !errors.Is(err, context.Canceled) {
				return progress.Summary{}, false, fmt.Errorf("read logs of %s: %w", m, err)
			}
			return progress.Summary{}, false, ctx.Err()
		case <-ctx.Done():
			return progress.Summary{}, false, ctx.Err()
		}
	}
}

// readEvents sends claim's progress and summary lines from a mover's log
// ("" for a mover that fills one volume) until the log ends or send says
// stop; it returns the read's error.
func readEvents(log io.Reader, claim string, send func(progress.Event) bool) error {
	scanner := bufio.NewScanner(log)
	scanner.Buffer(make([]byte, 64*1024), 1024*1024)
	for scanner.Scan() {
		e, err := progress.DecodeEvent(scanner.Bytes())
		if err != nil || e.Claim != claim || (e.Type == progress.TypeSummary && e.Summary.Outcome.Class == "") {
			continue // a log line, another claim's, or a summary cut short: the status has it
		}
		if !send(e) {
			return nil
		}
	}
	return scanner.Err()
}

// waitContainerStarted waits until the mover runs (or already ran), failing
// early on problems such as an image that cannot be pulled. A followed pod
// without the container ends the wait too: it will never start.
func waitContainerStarted(ctx context.Context, cs kubernetes.Interface, m moverRef, heartbeat func(contract.TransferProgress)) error {
	pod, err := activities.WaitPodWith(ctx, cs, m.namespace, m.pod, func(pod *corev1.Pod) bool {
		return kube.ContainerStarted(pod, m.container) || (m.followed && !kube.HasContainer(pod, m.container))
	}, func(_ *corev1.Pod, problem string) {
		phase := contract.TransferStarting
		if problem != "" {
			phase += ": " + problem
		}
		heartbeat(contract.TransferProgress{Phase: phase})
	})
	switch {
	case err != nil:
		return m.lost(err)
	case m.followed && !kube.HasContainer(pod, m.container):
		return activities.NonRetryable(contract.ErrTypeFollowedMoverLost, "sync pod %s/%s has no container %s", m.namespace, m.pod, m.container)
	}
	return nil
}

// moverSummary waits for the mover to terminate and reads its summary from
// the termination message or, when that does not parse, from the last
// lines of its log. The kubelet shares 12 KiB of termination message among
// all the containers of a pod, so a batch sync pod's summaries may be cut;
// the mover prints the same summary as its last stdout line.
func moverSummary(ctx context.Context, cs kubernetes.Interface, m moverRef, heartbeat func(contract.TransferProgress)) (progress.Summary, error) {
	t, err := activities.WaitPodTerminatedWith(ctx, cs, m.namespace, m.pod, m.container, func(*corev1.Pod, string) {
		heartbeat(contract.TransferProgress{Phase: contract.TransferFinishing})
	})
	if err != nil {
		return progress.Summary{}, m.lost(err)
	}
	// A mover that fills many volumes leaves only a note there: its
	// claims' summaries do not fit.
	if s, ok := parseSummary([]byte(strings.TrimSpace(t.Message))); ok && m.claim == "" {
		return s, nil
	}
	if s, ok := summaryFromLog(ctx, cs, m); ok {
		return s, nil
	}
	// Killed before it could write a summary (OOM, eviction, node loss):
	// a new sync pod retries it; a followed container would only be read
	// again, so its sync takes its own pods.
	err = fmt.Errorf("%s ended (%s, exit %d) without a summary: %s", m, t.Reason, t.ExitCode, t.Message)
	if m.followed {
		return progress.Summary{}, activities.NonRetryable(contract.ErrTypeFollowedMoverLost, "%v; it does not run again, so the sync retries with its own pods", err)
	}
	return progress.Summary{}, err
}

// summaryFromLog is the last summary line among the mover's last log lines;
// ok is false when there is none or the log cannot be read (its node is
// gone, say).
func summaryFromLog(ctx context.Context, cs kubernetes.Interface, m moverRef) (s progress.Summary, ok bool) {
	tail := int64(summaryTailLines)
	if m.claim != "" {
		tail = claimsTailLines
	}
	raw, err := cs.CoreV1().Pods(m.namespace).GetLogs(m.pod, &corev1.PodLogOptions{Container: m.container, TailLines: &tail}).DoRaw(ctx)
	if err != nil {
		return progress.Summary{}, false
	}
	return lastSummary(raw, m.claim)
}

// lastSummary is the last whole summary of claim ("" for a mover that
// fills one volume) among a mover's log lines.
func lastSummary(log []byte, claim string) (progress.Summary, bool) {
	lines := bytes.Split(log, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		e, err := progress.DecodeEvent(bytes.TrimSpace(lines[i]))
		if err == nil && e.Claim == claim && e.Type == progress.TypeSummary && e.Summary.Outcome.Class != "" {
			return *e.Summary, true
		}
	}
	return progress.Summary{}, false
}

// parseSummary decodes a termination message; one cut short, or written
// by no mover, is not a summary.
func parseSummary(message []byte) (progress.Summary, bool) {
	var s progress.Summary
	if err := json.Unmarshal(message, &s); err != nil || s.Outcome.Class == "" {
		return progress.Summary{}, false
	}
	return s, true
}

func moverTerminated(ctx context.Context, cs kubernetes.Interface, m moverRef) (bool, error) {
	pod, err := cs.CoreV1().Pods(m.namespace).Get(ctx, m.pod, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	return kube.ContainerTerminated(pod, m.container) != nil, nil
}
