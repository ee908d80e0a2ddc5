// Package telemetry builds the logger and the metrics scope every binary
// shares, with the adapters Temporal and controller-runtime expect.
package telemetry

import (
	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"go.temporal.io/sdk/log"
	"go.uber.org/zap"

	"github.com/dr-syncer/dr-syncer/internal/cliutil"
)

// LogOptions configure NewLogger: a level and a format (json or console).
type LogOptions = cliutil.LogFlags

// NewLogger returns a zap logger writing to stderr.
func NewLogger(opts LogOptions) (*zap.Logger, error) { return opts.Logger() }

// Logr adapts a zap logger to the logr interface controller-runtime uses.
func Logr(z *zap.Logger) logr.Logger { return zapr.NewLogger(z) }

// TemporalLogger adapts a zap logger to the Temporal SDK's logger, so workflow
// and activity logs carry the same fields as every other log line.
func TemporalLogger(z *zap.Logger) log.Logger {
	return temporalLogger{z.WithOptions(zap.AddCallerSkip(1)).Sugar()}
}

type temporalLogger struct{ s *zap.SugaredLogger }

func (l temporalLogger) Debug(msg string, keyvals ...any) { l.s.Debugw(msg, keyvals...) }
func (l temporalLogger) Info(msg string, keyvals ...any)  { l.s.Infow(msg, keyvals...) }
func (l temporalLogger) Warn(msg string, keyvals ...any)  { l.s.Warnw(msg, keyvals...) }
func (l temporalLogger) Error(msg string, keyvals ...any) { l.s.Errorw(msg, keyvals...) }

// With returns a logger that adds keyvals to every line; the SDK uses it for
// workflow and activity IDs.
func (l temporalLogger) With(keyvals ...any) log.Logger {
	return temporalLogger{l.s.With(keyvals...)}
}

var _ log.WithLogger = temporalLogger{}
