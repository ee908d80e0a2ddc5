// Package controller reconciles dr-syncer's custom resources into Temporal
// workflow starts and Schedules: observe, plan (pure), then act via starter.
package controller

// The controller's permissions in the cluster that holds the dr-syncer resources.
// controller-gen turns these into deploy/rbac/controller/role.yaml.
//
// +kubebuilder:rbac:groups=dr-syncer.io,resources=remoteclusters;clustermappings;replications,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=dr-syncer.io,resources=remoteclusters/status;clustermappings/status;replications/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=dr-syncer.io,resources=remoteclusters/finalizers;clustermappings/finalizers;replications/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
