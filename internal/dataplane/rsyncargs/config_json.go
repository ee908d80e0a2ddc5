package rsyncargs

import (
	"encoding/json"
	"fmt"
	"time"
)

// configJSON is Config's wire form: durations are Go duration strings
// ("1h30m"), as in the Replication's dataSyncConfig.
type configJSON struct {
	BandwidthLimitKiB int64            `json:"bandwidthLimit,omitempty"`
	ExcludePaths      []string         `json:"excludePaths,omitempty"`
	RsyncOptions      []string         `json:"rsyncOptions,omitempty"`
	VerificationMode  VerificationMode `json:"verificationMode,omitempty"`
	SamplePercent     int              `json:"samplePercent,omitempty"`
	ParallelStreams   int              `json:"parallelStreams,omitempty"`
	Timeout           string           `json:"timeout,omitempty"`
	IOTimeout         string           `json:"ioTimeout,omitempty"`
}

// MarshalJSON writes durations as strings.
func (c Config) MarshalJSON() ([]byte, error) {
	j := configJSON{
		BandwidthLimitKiB: c.BandwidthLimitKiB, ExcludePaths: c.ExcludePaths, RsyncOptions: c.RsyncOptions,
		VerificationMode: c.VerificationMode, SamplePercent: c.SamplePercent, ParallelStreams: c.ParallelStreams,
	}
	if c.Timeout != 0 {
		j.Timeout = c.Timeout.String()
	}
	if c.IOTimeout != 0 {
		j.IOTimeout = c.IOTimeout.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads durations as strings ("10m").
func (c *Config) UnmarshalJSON(b []byte) error {
	var j configJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("data sync config: %w", err)
	}
	out := Config{
		BandwidthLimitKiB: j.BandwidthLimitKiB, ExcludePaths: j.ExcludePaths, RsyncOptions: j.RsyncOptions,
		VerificationMode: j.VerificationMode, SamplePercent: j.SamplePercent, ParallelStreams: j.ParallelStreams,
	}
	var err error
	if j.Timeout != "" {
		if out.Timeout, err = time.ParseDuration(j.Timeout); err != nil {
			return fmt.Errorf("data sync config timeout: %w", err)
		}
	}
	if j.IOTimeout != "" {
		if out.IOTimeout, err = time.ParseDuration(j.IOTimeout); err != nil {
			return fmt.Errorf("data sync config ioTimeout: %w", err)
		}
	}
	*c = out
	return nil
}
