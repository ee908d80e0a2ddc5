// Package e2e holds the end-to-end tests that run against the local lab (hack/lab).
// They are behind the build tag e2e: `make test-lab` brings the lab up and runs them;
// `make test-lab-down` (tags e2e,labdown) tears it down and checks the host is clean.
package e2e
