package workflows

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
)

// changeRunPermits is the GetVersion change ID of a Replication run that
// holds its source cluster's permits for its PVC syncs and passes each
// from a closed sync to the next. Before it, every sync asked the
// cluster's semaphore for its own permit and gave it back: an activity, a
// grant and a release per PVC, about 27 history events across the sync and
// the semaphore, and five workflow tasks.
const changeRunPermits = "2026-12-07-run-permits"

// permitLease is how long after its grant a run passes a permit from a
// closed sync to its next one. After it, the permit goes back when its
// sync closes, and the run queues again behind the syncs and runs waiting
// at the semaphore: a run keeps another from the cluster for at most this
// long plus one PVC sync. (Before run permits, a waiting sync had the next
// permit any sync gave back.) It decides which commands a run issues:
// changing it needs a change ID of its own. A variable only so that tests
// can shorten it.
var permitLease = 5 * time.Minute

// runPermits are the cluster-wide permits one run holds for its PVC syncs.
// A sync is started only with one of them (PVCSyncInput.PermitHeld) and
// holds it until it closes, after its cleanup, as a sync holding its own
// permit did; so the bound on the cluster's syncs is the same.
type runPermits struct {
	semaphore   contract.AcquireInput // semaphore, limit and type; no requests
	owner       contract.PermitRequest
	cluster     contract.ClusterRef
	replication contract.ObjectRef
	selector    workflow.Selector
	numbered    int
	asked       map[string]askedAt   // keys asked for, not granted yet
	grantedAt   map[string]time.Time // key → when it was granted; held
	free        []string             // held keys no sync holds
	bySync      map[string]string    // PVC → the key its sync holds
	rechecking  bool                 // a timer will ask again for lost grants
	grants      workflow.ReceiveChannel
	asks        []workflow.Future
	releases    []workflow.Future
}

// askedAt is when a key was first asked for, and last.
type askedAt struct{ first, last time.Time }

// newRunPermits takes the grants of the run's permits through the selector.
func newRunPermits(ctx workflow.Context, plan contract.ReplicationPlan, selector workflow.Selector) *runPermits {
	run := workflow.GetInfo(ctx).WorkflowExecution
	p := &runPermits{
		semaphore: contract.AcquireInput{
			SemaphoreID:   contract.ClusterSemaphoreID(plan.Source),
			Limit:         int(plan.DataPlane.GlobalConcurrencyLimit),
			SemaphoreType: contract.ClusterSemaphoreName,
			InitialState:  contract.SemaphoreState{Limit: int(plan.DataPlane.GlobalConcurrencyLimit)},
		},
		owner:   contract.PermitRequest{Owner: run.ID, RunID: run.RunID},
		cluster: plan.Source, replication: plan.Replication, selector: selector,
		asked: map[string]askedAt{}, grantedAt: map[string]time.Time{}, bySync: map[string]string{},
	}
	p.grants = workflow.GetSignalChannel(ctx, contract.SignalPermit)
	selector.AddReceive(p.grants, func(c workflow.ReceiveChannel, _ bool) {
		var key string
		c.Receive(ctx, &key)
		p.granted(ctx, key)
	})
	return p
}

// take gives pvc's sync a free permit, if the run holds one. A run without
// permits to keep (nil) needs none, and neither does a cancelled run,
// whose syncs are never started.
func (p *runPermits) take(ctx workflow.Context, pvc string) bool {
	if p == nil || ctx.Err() != nil {
		return true
	}
	p.releaseExpired(ctx)
	if len(p.free) == 0 {
		return false
	}
	p.bySync[pvc], p.free = p.free[0], p.free[1:]
	return true
}

// releaseExpired gives back the free permits whose lease ended, even while
// no sync could take them; a fresh one waits for the run's next sync.
func (p *runPermits) releaseExpired(ctx workflow.Context) {
	p.free = slices.DeleteFunc(p.free, func(key string) bool {
		if p.leased(ctx, key) {
			return false
		}
		p.release(ctx, key)
		return true
	})
}

// leased says the run may still pass key on.
func (p *runPermits) leased(ctx workflow.Context, key string) bool {
	return workflow.Now(ctx).Sub(p.grantedAt[key]) < permitLease
}

// giveBack takes back the permit of pvc's closed sync: the next sync gets
// it while its lease lasts, the semaphore after.
func (p *runPermits) giveBack(ctx workflow.Context, pvc string) {
	if p == nil {
		return
	}
	key, ok := p.bySync[pvc]
	if !ok {
		return
	}
	delete(p.bySync, pvc)
	if p.leased(ctx, key) {
		p.free = append(p.free, key)
		return
	}
	p.release(ctx, key)
}

// settle asks for the permits the run could use now (want: the syncs it
// would start) and gives back those it has no sync left to give to.
func (p *runPermits) settle(ctx workflow.Context, want, left int) {
	if p == nil || ctx.Err() != nil {
		return
	}
	p.releaseExpired(ctx)
	for len(p.free) > left {
		p.release(ctx, p.free[0])
		p.free = p.free[1:]
	}
	now := workflow.Now(ctx)
	// Asking again for a request still queued changes nothing; a grant lost
	// on the way (the semaphore was terminated and started afresh) comes again.
	p.ask(ctx, slices.DeleteFunc(p.askedKeys(), func(key string) bool { return now.Sub(p.asked[key].last) < permitRerequestAfter }))
	// Never more than the limit at once, held and asked: a request the
	// semaphore cannot grant until this run gives one back would stand in
	// the queue ahead of other runs' requests.
	var more []string
	for range min(want-len(p.free), p.semaphore.Limit-len(p.grantedAt)) - len(p.asked) {
		p.numbered++
		// A later run of the same workflow ID never meets this run's keys.
		more = append(more, fmt.Sprintf("%s/%s/permit-%d", p.owner.Owner, p.owner.RunID, p.numbered))
	}
	p.ask(ctx, more)
	if len(p.asked) > 0 && !p.rechecking {
		p.rechecking = true
		p.selector.AddFuture(newTimer(ctx, permitRerequestAfter, "ask for the sync slots again if none came"), func(workflow.Future) {
			p.rechecking = false
		})
	}
}

// askedKeys are the keys asked for and not granted, in a fixed order, as
// the commands they lead to must be on replay.
func (p *runPermits) askedKeys() []string {
	keys := slices.Collect(maps.Keys(p.asked))
	slices.Sort(keys)
	return keys
}

// ask queues the keys at the semaphore in one activity.
func (p *runPermits) ask(ctx workflow.Context, keys []string) {
	if len(keys) == 0 {
		return
	}
	in := p.semaphore
	for _, key := range keys {
		at := askedAt{first: workflow.Now(ctx), last: workflow.Now(ctx)}
		if before, again := p.asked[key]; again {
			at.first = before.first
		}
		p.asked[key] = at
		req := p.owner
		req.WorkflowID = key
		in.Requests = append(in.Requests, req)
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second},
		// A cancelled run's ask ends only with the attempt under way, so
		// releaseAll's release cannot overtake the request it undoes.
		WaitForCancellation: true,
	})
	var permits *pvcdata.PermitActivities
	summary := fmt.Sprintf("ask for %d sync slots of cluster %s", len(keys), p.cluster.Name)
	asking := workflow.ExecuteActivity(step(actx, summary), permits.RequestPermits, in)
	p.asks = append(pending(p.asks), asking)
	p.selector.AddFuture(asking, func(f workflow.Future) {
		if err := f.Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("asking for sync slots failed; asking again later", "cluster", p.cluster.Name, "error", err)
		}
	})
}

// granted takes the semaphore's grant of key. A grant of a key the run gave
// back (its release overtook a retried request) goes back again.
func (p *runPermits) granted(ctx workflow.Context, key string) {
	if at, ok := p.asked[key]; ok {
		delete(p.asked, key)
		recordPermitWait(ctx, p.cluster, p.replication, at.first)
		p.grantedAt[key] = workflow.Now(ctx)
		p.free = append(p.free, key)
		return
	}
	if _, held := p.grantedAt[key]; !held {
		p.release(ctx, key)
	}
}

// release gives key back to the semaphore, or takes it out of its queue.
func (p *runPermits) release(ctx workflow.Context, key string) {
	delete(p.grantedAt, key)
	delete(p.asked, key)
	p.releases = append(pending(p.releases), workflow.SignalExternalWorkflow(ctx, p.semaphore.SemaphoreID, "", contract.SignalRelease, key))
}

// pending drops the futures that are done, so a long run keeps few.
func pending(futures []workflow.Future) []workflow.Future {
	return slices.DeleteFunc(futures, func(f workflow.Future) bool { return f.IsReady() })
}

// releaseAll gives back every permit the run holds or asked for, once its
// syncs have closed, and waits until the semaphore has them. It waits for
// its requests first, so no release overtakes the request it undoes.
func (p *runPermits) releaseAll(ctx workflow.Context) {
	if p == nil {
		return
	}
	for _, f := range p.asks {
		_ = f.Get(ctx, nil)
	}
	for _, key := range p.free {
		p.release(ctx, key)
	}
	p.free = nil
	for _, key := range p.askedKeys() {
		p.release(ctx, key)
	}
	for _, f := range p.releases {
		_ = f.Get(ctx, nil)
	}
	// Grants that came meanwhile are of keys given back just now.
	var key string
	for p.grants.ReceiveAsync(&key) {
	}
}
