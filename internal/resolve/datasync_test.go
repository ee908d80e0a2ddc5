package resolve

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
)

// full sets every field of the API type, so a field added to it fails
// TestDataSyncMapsEveryField until it is mapped (or said not to be).
func full() drv1.DataSyncConfig {
	return drv1.DataSyncConfig{
		ConcurrentSyncs:  3,
		ExcludePaths:     []string{"cache", "logs/*.log"},
		RsyncOptions:     []string{"--whole-file", "--compress-level=3"},
		BandwidthLimit:   2048,
		Timeout:          "1h30m",
		VerificationMode: drv1.VerifySample,
		SamplePercent:    7,
		ParallelStreams:  4,
		// Not the data plane's: they say what the sync reads (Settings).
		CopyMethod:              drv1.CopySnapshot,
		VolumeSnapshotClassName: "csi-hostpath",
		Hooks: &drv1.ConsistencyHooks{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Freeze: &drv1.HookCommand{Command: []string{"fsfreeze", "-f", "/data"}, Timeout: "10s"}},
	}
}

func TestDataSyncMapsEveryField(t *testing.T) {
	spec := full()
	v := reflect.ValueOf(spec)
	for i := range v.NumField() {
		require.False(t, v.Field(i).IsZero(), "full() leaves %s unset", v.Type().Field(i).Name)
	}
	got, err := DataSync(&spec)
	require.NoError(t, err)
	want := rsyncargs.Config{
		BandwidthLimitKiB: 2048,
		ExcludePaths:      []string{"cache", "logs/*.log"},
		RsyncOptions:      []string{"--whole-file", "--compress-level=3"},
		VerificationMode:  rsyncargs.VerifySample,
		SamplePercent:     7,
		ParallelStreams:   4,
		Timeout:           rsyncargs.Duration(90 * time.Minute),
	}
	assert.Equal(t, want, got)
	// Every data-plane field comes from the spec, except rsync's I/O
	// timeout, which the API does not expose (0 is rsyncargs' default).
	g := reflect.ValueOf(got)
	for i := range g.NumField() {
		if name := g.Type().Field(i).Name; name != "IOTimeout" {
			assert.False(t, g.Field(i).IsZero(), "%s is not mapped", name)
		}
	}

	spec.ExcludePaths[0] = "changed"
	assert.Equal(t, "cache", got.ExcludePaths[0], "the config does not share the spec's slices")
}

func TestDataSyncMapsEveryVerificationMode(t *testing.T) {
	for api, dp := range map[drv1.VerificationMode]rsyncargs.VerificationMode{
		"": "", drv1.VerifyNone: rsyncargs.VerifyNone, drv1.VerifyFull: rsyncargs.VerifyFull, drv1.VerifySample: rsyncargs.VerifySample,
	} {
		got, err := DataSync(&drv1.DataSyncConfig{VerificationMode: api, SamplePercent: 10})
		require.NoError(t, err, api)
		assert.Equal(t, dp, got.VerificationMode)
	}
}

func TestDataSyncOfDefaults(t *testing.T) {
	got, err := DataSync(nil)
	require.NoError(t, err)
	assert.Equal(t, rsyncargs.Config{}, got)

	spec := drv1.ReplicationSpec{}
	drv1.SetReplicationDefaults(&spec)
	got, err = DataSync(spec.PVCConfig.DataSyncConfig)
	require.NoError(t, err)
	assert.Equal(t, rsyncargs.Config{VerificationMode: rsyncargs.VerifyNone, ParallelStreams: 1, Timeout: rsyncargs.Duration(2 * time.Hour)}, got)
}

// Workflow histories from before the config was resolved carry the API's
// JSON where rsyncargs.Config now travels: the JSON names must agree.
func TestAPIJSONDecodesIntoTheDataPlaneConfig(t *testing.T) {
	spec := full()
	b, err := json.Marshal(spec)
	require.NoError(t, err)
	var decoded rsyncargs.Config
	require.NoError(t, json.Unmarshal(b, &decoded))
	want, err := DataSync(&spec)
	require.NoError(t, err)
	assert.Equal(t, want, decoded)

	// And the config the plan now carries writes the same names back.
	b, err = json.Marshal(want)
	require.NoError(t, err)
	var api drv1.DataSyncConfig
	require.NoError(t, json.Unmarshal(b, &api))
	spec.ConcurrentSyncs = 0
	spec.Timeout = "1h30m0s"
	spec.CopyMethod, spec.VolumeSnapshotClassName, spec.Hooks = "", "", nil // not the data plane's
	assert.Equal(t, spec, api)
}

func TestDataSyncRejectsWithTheFieldAndTheFix(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec drv1.DataSyncConfig
		want []string
	}{
		{"negative bandwidth", drv1.DataSyncConfig{BandwidthLimit: -1}, []string{"bandwidthLimit -1: must not be negative"}},
		{"exclude escapes the volume", drv1.DataSyncConfig{ExcludePaths: []string{"../etc"}}, []string{"excludePaths", `"../etc"`, "escape the volume"}},
		{"absolute exclude", drv1.DataSyncConfig{ExcludePaths: []string{"/cache"}}, []string{"excludePaths", "relative to the volume root"}},
		{"disallowed option", drv1.DataSyncConfig{RsyncOptions: []string{"--rsh=sh"}}, []string{"rsyncOptions", `"--rsh=sh"`, "runs an arbitrary program"}},
		{"bwlimit as option", drv1.DataSyncConfig{RsyncOptions: []string{"--bwlimit=10"}}, []string{"rsyncOptions", "use bandwidthLimit"}},
		{"unknown mode", drv1.DataSyncConfig{VerificationMode: "paranoid"}, []string{`verificationMode "paranoid": must be none, sample or full`}},
		{"sample without percent", drv1.DataSyncConfig{VerificationMode: drv1.VerifySample}, []string{"samplePercent 0: must be 1-100 in sample mode"}},
		{"too many streams", drv1.DataSyncConfig{ParallelStreams: 17}, []string{"parallelStreams 17: must be 0-16"}},
		{"timeout in days", drv1.DataSyncConfig{Timeout: "2d"}, []string{`timeout "2d": write a Go duration such as 90s, 30m or 2h`}},
		{"negative timeout", drv1.DataSyncConfig{Timeout: "-5m"}, []string{"timeout -5m0s: must not be negative"}},
		{"every problem at once", drv1.DataSyncConfig{Timeout: "soon", BandwidthLimit: -1, RsyncOptions: []string{"--daemon"}},
			[]string{"timeout", "bandwidthLimit", "rsyncOptions"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DataSync(&tc.spec)
			require.Error(t, err)
			assert.Equal(t, rsyncargs.Config{}, got)
			assert.Contains(t, err.Error(), "spec.pvcConfig.dataSyncConfig: ")
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			if tc.spec.Timeout != "2d" && tc.spec.Timeout != "soon" {
				assert.True(t, errors.Is(err, rsyncargs.ErrInvalidConfig), "wraps rsyncargs.ErrInvalidConfig")
			}
		})
	}
}

func TestPointInTimeSettings(t *testing.T) {
	dsc := full()
	spec := drv1.ReplicationSpec{PVCConfig: &drv1.PVCConfig{SyncData: true, DataSyncConfig: &dsc,
		RestorePoints: &drv1.RestorePointsConfig{Keep: 3}}}
	dsc.Hooks.Thaw = &drv1.HookCommand{Command: []string{"fsfreeze", "-u", "/data"}} // timeout defaulted
	got := Settings(spec).PVCConfig
	assert.Equal(t, contract.CopySnapshot, got.DataSyncConfig.CopyMethod)
	assert.Equal(t, "csi-hostpath", got.DataSyncConfig.VolumeSnapshotClassName)
	require.NotNil(t, got.DataSyncConfig.Hooks)
	assert.Equal(t, map[string]string{"app": "db"}, got.DataSyncConfig.Hooks.Selector.MatchLabels)
	assert.Equal(t, contract.Duration("10s"), got.DataSyncConfig.Hooks.Freeze.Timeout)
	assert.Equal(t, contract.Duration(drv1.DefaultHookTimeout), got.DataSyncConfig.Hooks.Thaw.Timeout)
	assert.Equal(t, contract.RestorePoints{Keep: 3}, got.RestorePoints)
}

func TestHooksNeedSnapshotAndSayWhatToFix(t *testing.T) {
	for name, tc := range map[string]struct {
		change func(*drv1.DataSyncConfig)
		says   string
	}{
		"clone":        {func(d *drv1.DataSyncConfig) { d.CopyMethod = drv1.CopyClone }, "hooks need copyMethod Snapshot (or unset), not Clone"},
		"direct":       {func(d *drv1.DataSyncConfig) { d.CopyMethod = drv1.CopyDirect }, "not Direct"},
		"no commands":  {func(d *drv1.DataSyncConfig) { d.Hooks.Freeze = nil }, "set freeze, thaw or both"},
		"bad timeout":  {func(d *drv1.DataSyncConfig) { d.Hooks.Freeze.Timeout = "soon" }, `hooks.freeze.timeout "soon"`},
		"bad selector": {func(d *drv1.DataSyncConfig) { d.Hooks.Selector.MatchLabels = map[string]string{"a b": "c"} }, "hooks.selector"},
	} {
		t.Run(name, func(t *testing.T) {
			dsc := full()
			tc.change(&dsc)
			_, err := DataSync(&dsc)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.says)
			assert.Contains(t, err.Error(), "spec.pvcConfig.dataSyncConfig")
		})
	}
	dsc := full()
	dsc.CopyMethod = ""
	_, err := DataSync(&dsc)
	assert.NoError(t, err, "hooks with copyMethod unset: the sync insists on a snapshot")
}
