//go:build e2e

package e2e

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
)

// TestLabTwoWorkersShareARun: two worker processes poll one task queue and
// a Replication of 20 PVCs runs on it. Temporal hands each activity to
// whichever worker polls first, so both must have run some of the run's
// activities (read from the history's started events, whose identity is
// the worker's "pid@host@"), and the run completes byte-identical. This is
// how a user scales out: start more workers on the same queue.
func TestLabTwoWorkersShareARun(t *testing.T) {
	e := setupPVCSync(t)
	bin := buildWorker(t)
	const n = 20
	f := newFanOut(t, e, n, 1, 5)
	queue := fmt.Sprintf("drs-two-workers-%06x", rand.IntN(1<<24))
	workers := map[string]int{}
	for range 2 {
		w := f.startWorker(t, bin, queue)
		workers[strconv.Itoa(w.Process.Pid)+"@"] = 0
	}
	res, elapsed, runErr, _ := f.run(t, queue, 10*time.Minute)
	ok := f.checkResult(t, res, runErr)
	t.Logf("two workers: %d/%d PVCs synced in %.1fs", ok, n, elapsed.Seconds())

	others := map[string]int{}
	for _, id := range f.childIDs() {
		for _, ev := range readHistory(t, e, id, "") {
			if ev.GetEventType() != enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED {
				continue
			}
			identity := ev.GetActivityTaskStartedEventAttributes().GetIdentity()
			counted := false
			for prefix := range workers {
				if strings.HasPrefix(identity, prefix) {
					workers[prefix]++
					counted = true
				}
			}
			if !counted {
				others[identity]++
			}
		}
	}
	var shares []string
	for prefix, count := range workers {
		shares = append(shares, fmt.Sprintf("%s%d", prefix, count))
	}
	sort.Strings(shares)
	t.Logf("activities run per worker (pid@: count): %v", shares)
	for prefix, count := range workers {
		if count == 0 {
			t.Errorf("worker %s ran none of the run's activities; the load was not shared (per worker: %v)", prefix, shares)
		}
	}
	if len(others) > 0 {
		t.Errorf("activities ran on workers the test did not start: %v", others)
	}
	f.checkSample(t)
	f.assertNothingLeft(t)
}
