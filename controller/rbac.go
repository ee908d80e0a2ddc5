// Package controller reconciles dr-syncer's custom resources into Temporal
// workflow starts and Schedules: observe, plan (pure), then act via starter.
package controller

// The controller's permissions in the cluster that holds the dr-syncer resources.
// controller-gen turns these into deploy/rbac/controller/role.yaml: a
// ClusterRole for the dr-syncer resources and events, and a Role in the
// system namespace for Secrets and the leader-election lease.
//
// Secrets are never granted cluster-wide: the controller reads kubeconfig
// and key Secrets, and writes the key Secrets it generates, only in the
// system namespace and in the namespaces that hold dr-syncer resources
// (references cannot point elsewhere, drv1.ForeignReferenceProblem). It
// reads them with uncached Gets, so it needs neither list nor watch. Each
// further namespace gets a copy of the Role from hack/namespace-rbac.
//
// +kubebuilder:rbac:groups=dr-syncer.io,resources=remoteclusters;clustermappings;replications,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=dr-syncer.io,resources=remoteclusters/status;clustermappings/status;replications/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=dr-syncer.io,resources=remoteclusters/finalizers;clustermappings/finalizers;replications/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",namespace=dr-syncer-system,resources=secrets,verbs=get;create;update;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=dr-syncer-system,resources=leases,verbs=get;list;watch;create;update;patch;delete
