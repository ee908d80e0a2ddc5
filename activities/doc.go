// Package activities holds the steps workflows run: each method does one
// Kubernetes or data-plane action and knows nothing of reconciling CRs.
//
// The activities are split by what they act on:
//
//   - activities (this package): PlanActivities (ResolveReplication), and
//     what every capability shares: error classification (Classify,
//     InvalidSpec, NonRetryable), ClusterResolver, pod helpers (pods.go),
//     CreateNamespace and the SSH key Secrets of DR pods (secrets.go).
//   - activities/pvcdata: PVC data sync (PVCActivities) and the permits of
//     the per-cluster semaphore (PermitActivities).
//   - activities/objects: Kubernetes object replication (ResourceActivities).
//   - activities/agent: the agent's rollout and removal (AgentActivities).
//   - activities/connectivity: the DR-to-agent check (ConnectivityActivities).
//   - activities/recovery: the steps of failover, failback and DR drills
//     (RecoveryActivities).
//
// The subpackages import this one, never each other, and this one imports
// none of them. An activity's Temporal name is its Go method name, so a
// method keeps its name wherever its struct lives: histories replay
// against it.
package activities
