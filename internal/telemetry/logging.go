// Package telemetry builds the logger and the metrics scope every binary
// shares, with the adapters Temporal and controller-runtime expect.
package telemetry

import (
	"fmt"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"go.temporal.io/sdk/log"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// LogOptions configure NewLogger.
type LogOptions struct {
	// Level is debug, info, warn or error.
	Level string
	// Format is json (for machines) or console (for people).
	Format string
}

// NewLogger returns a zap logger writing to stderr.
func NewLogger(opts LogOptions) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(opts.Level)
	if err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", opts.Level)
	}
	var cfg zap.Config
	switch opts.Format {
	case "json", "":
		cfg = zap.NewProductionConfig()
	case "console":
		cfg = zap.NewDevelopmentConfig()
	default:
		return nil, fmt.Errorf("log format %q: want json or console", opts.Format)
	}
	cfg.Level = zap.NewAtomicLevelAt(level)
	cfg.EncoderConfig.TimeKey = "time"
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	return cfg.Build()
}

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
