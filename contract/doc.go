// Package contract is what both sides of the Temporal boundary share: the
// workflow names, IDs, signals, queries and search attributes the controller
// and starter use to start and watch runs; the inputs and outputs of every
// workflow and activity; the typed error names workflows and the controller
// match on; and the naming of dr-syncer's Secrets and labels.
//
// Everything here is serialized into workflow histories. JSON names are
// part of the history format: renaming one breaks the replay of old runs,
// so add fields instead, and record a history when a type changes
// (see workflows/versions_test.go).
package contract
