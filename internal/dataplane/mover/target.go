package mover

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"
)

// DefaultTargetWait is as long as the workflow gives one attempt to start the
// mount pod (workflows.mountPodTimeout): a mover started together with it
// gives up no earlier.
const DefaultTargetWait = 5 * time.Minute

// waitForTarget opens (and closes) one channel to target until the agent
// forwards it. Until the mount pod has an IP the agent answers "not ready",
// and until its rsync daemon listens the dial fails; both are waited out. A
// refusal is final: the target is no running mount pod on that node, or the
// agent cannot resolve names at all.
//
// The retries back off from 50 ms to at most 250 ms: each is one channel
// open on a connection already made, which the agent answers from its
// watch, so polling that often costs little, and a mover whose mount pod
// was released just before it started (kube.RoleMountHeld) still waits
// at most a quarter second for the agent to serve it.
func waitForTarget(ctx context.Context, client *ssh.Client, target string, wait time.Duration, log *zap.Logger) error {
	if wait <= 0 {
		wait = DefaultTargetWait
	}
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return fmt.Errorf("target %q: %w", target, err)
	}
	_, ipErr := netip.ParseAddr(host)
	named := ipErr != nil
	deadline := time.Now().Add(wait)
	delay := 50 * time.Millisecond
	var lastReason string
	for {
		ch, err := client.Dial("tcp", target)
		if err == nil {
			_ = ch.Close()
			if lastReason != "" {
				log.Info("target reachable", zap.String("target", target))
			}
			return nil
		}
		var refused *ssh.OpenChannelError
		if !errors.As(err, &refused) {
			return fmt.Errorf("open channel to %s: %w", target, err)
		}
		if refused.Reason == ssh.ResourceShortage {
			return fmt.Errorf("agent refused %s: %w: too many channels on one connection; the agent's --max-channels must be at least %d", target, err, channelsPerConnection)
		}
		if refused.Reason != ssh.ConnectionFailed {
			if named {
				return fmt.Errorf("agent refused %s: %w; it is no running mount pod on the agent's node, or the agent does not resolve mount pod names (an agent older than this mover, or one with a file allow-list): roll the agent out again", target, err)
			}
			return fmt.Errorf("agent refused %s: %w", target, err)
		}
		if time.Now().Add(delay).After(deadline) {
			return fmt.Errorf("%s still not reachable through the agent after %s (last answer: %s); is the mount pod running on the agent's node?", target, wait, refused.Message)
		}
		if refused.Message != lastReason {
			lastReason = refused.Message
			log.Info("waiting for the mount pod", zap.String("target", target), zap.String("agent_says", refused.Message))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 250*time.Millisecond)
	}
}
