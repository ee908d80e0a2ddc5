package v1alpha1

import corev1 "k8s.io/api/core/v1"

// SetReplicationDefaults fills what the API server's schema defaults leave
// out: defaults of nested structs the user did not write at all, and those
// that depend on other fields. The workflow then never has to ask "unset?".
func SetReplicationDefaults(s *ReplicationSpec) {
	if s.DestinationNamespace == "" {
		s.DestinationNamespace = s.SourceNamespace
	}
	if s.ReplicationMode == "" {
		s.ReplicationMode = ModeScheduled
	}
	if s.ScaleToZero == nil {
		s.ScaleToZero = ptr(true)
	}
	if s.NamespaceConfig == nil {
		s.NamespaceConfig = &NamespaceConfig{}
	}
	defaultBool(&s.NamespaceConfig.CreateNamespace, true)
	defaultBool(&s.NamespaceConfig.PreserveLabels, true)
	defaultBool(&s.NamespaceConfig.PreserveAnnotations, true)
	if s.IngressConfig == nil {
		s.IngressConfig = &IngressConfig{}
	}
	defaultBool(&s.IngressConfig.PreserveAnnotations, true)
	defaultBool(&s.IngressConfig.PreserveTLS, true)
	defaultBool(&s.IngressConfig.PreserveBackends, true)
	if s.ImmutableResourceConfig == nil {
		s.ImmutableResourceConfig = &ImmutableResourceConfig{}
	}
	irc := s.ImmutableResourceConfig
	defaultString(&irc.DefaultHandling, ImmutableNoChange)
	defaultString(&irc.DrainTimeout, "5m")
	defaultString(&irc.ForceDeleteTimeout, "2m")
	if s.PVCConfig == nil {
		s.PVCConfig = &PVCConfig{}
	}
	if s.PVCConfig.DataSyncConfig == nil {
		s.PVCConfig.DataSyncConfig = &DataSyncConfig{}
	}
	dsc := s.PVCConfig.DataSyncConfig
	defaultInt(&dsc.ConcurrentSyncs, 2)
	defaultInt(&dsc.ParallelStreams, 1)
	defaultString(&dsc.Timeout, "2h")
	defaultString(&dsc.VerificationMode, VerifyNone)
	if dsc.VerificationMode == VerifySample && dsc.SamplePercent == 0 {
		dsc.SamplePercent = 10
	}
	if h := dsc.Hooks; h != nil {
		for _, cmd := range []*HookCommand{h.Freeze, h.Thaw} {
			if cmd != nil {
				defaultString(&cmd.Timeout, DefaultHookTimeout)
			}
		}
	}
	if s.PVCConfig.RestorePoints == nil {
		s.PVCConfig.RestorePoints = &RestorePointsConfig{}
	}
	if s.RetryConfig == nil {
		s.RetryConfig = &RetryConfig{}
	}
	rc := s.RetryConfig
	if rc.MaxRetries == nil {
		rc.MaxRetries = ptr(int32(5))
	}
	defaultString(&rc.InitialBackoff, "5s")
	defaultString(&rc.MaxBackoff, "5m")
	defaultInt(&rc.BackoffMultiplier, 200)
	if s.FailureHandling == nil {
		s.FailureHandling = &FailureHandling{}
	}
	fh := s.FailureHandling
	defaultString(&fh.DefaultMode, FailureRetryAndWait)
	for _, mode := range []*FailureMode{&fh.ResourceNotFound, &fh.ValidationFailure, &fh.NetworkError, &fh.DataSyncFailure} {
		defaultString(mode, fh.DefaultMode)
	}
	if s.DeletionGuard == nil {
		s.DeletionGuard = &DeletionGuard{}
	}
	if s.DeletionGuard.MaxPercent == nil {
		s.DeletionGuard.MaxPercent = ptr(int32(50))
	}
	if s.DeletionGuard.MaxObjects == nil {
		s.DeletionGuard.MaxObjects = ptr(int32(10))
	}
	if s.Continuous == nil {
		s.Continuous = &ContinuousConfig{}
	}
	defaultBool(&s.Continuous.WatchResources, true)
	defaultString(&s.Continuous.BackgroundSyncInterval, "1h")
}

// DefaultHookTimeout bounds a freeze or thaw command that names no timeout.
const DefaultHookTimeout Duration = "30s"

func ptr[T any](v T) *T { return &v }

func defaultBool(p **bool, v bool) {
	if *p == nil {
		*p = ptr(v)
	}
}

func defaultString[T ~string](p *T, v T) {
	if *p == "" {
		*p = v
	}
}

func defaultInt(p *int32, v int32) {
	if *p == 0 {
		*p = v
	}
}

// Defaults of a RemoteCluster's pvcSync. The schema defaults the same
// values when a user writes the enclosing struct; these cover the structs
// left out entirely.
const (
	DefaultDataPlaneImage         = "dr-syncer/dataplane:dev"
	DefaultImageTag               = "latest"
	DefaultPullPolicy             = corev1.PullIfNotPresent
	DefaultAgentPort              = int32(2222)
	DefaultGlobalConcurrencyLimit = int32(10)
	// DefaultConnectivityTimeoutSeconds bounds a ClusterMapping's connectivity check.
	DefaultConnectivityTimeoutSeconds = int32(60)
	// DefaultKubeconfigKey is the Secret key of a RemoteCluster's kubeconfig.
	DefaultKubeconfigKey = "kubeconfig"
	// DefaultAgentMetricsPort serves the agent's /metrics; the schema's
	// default of pvcSync.metrics.port and its SSH-port rule say the same.
	DefaultAgentMetricsPort = int32(2223)
)

// ConnectivityTimeout is the mapping's check timeout, defaulted.
func (s *ClusterMappingSpec) ConnectivityTimeout() int32 {
	if s.ConnectivityTimeoutSeconds > 0 {
		return s.ConnectivityTimeoutSeconds
	}
	return DefaultConnectivityTimeoutSeconds
}
