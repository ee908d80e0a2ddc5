package worker

// The worker's permissions in the cluster that holds the dr-syncer resources:
// it reads RemoteClusters and their kubeconfig and key Secrets, and records
// failovers and drills in a Replication's status. What it does in the source
// and DR clusters is governed by those kubeconfigs.
// controller-gen turns these into deploy/rbac/worker/role.yaml. Secrets are
// granted by a Role in the system namespace, and by a copy of it from
// hack/namespace-rbac in each namespace holding dr-syncer resources; the
// worker only Gets them, uncached.
//
// +kubebuilder:rbac:groups=dr-syncer.io,resources=remoteclusters;clustermappings;replications,verbs=get;list;watch
// +kubebuilder:rbac:groups=dr-syncer.io,resources=replications/status,verbs=get;patch
// +kubebuilder:rbac:groups="",namespace=dr-syncer-system,resources=secrets,verbs=get
