package resources

import "fmt"

// IsVolume reports whether k holds data: PVCs and PVs are never deleted by a
// run, whatever happens to their source (see AnnotationDeleteCopy).
func IsVolume(k Kind) bool {
	return k.Group == "" && (k.Kind == "PersistentVolumeClaim" || k.Kind == PersistentVolume.Kind)
}

// DeletionCheck is what the deletion guard weighs for one run.
type DeletionCheck struct {
	// Deletions is how many owned DR objects have no source any more.
	Deletions int `json:"deletions"`
	// Owned is how many DR objects this Replication owns.
	Owned int `json:"owned"`
	// Limit is how many deletions one run may make (DeletionGuard.DeletionLimit).
	Limit int `json:"limit"`
	// SourceNamespaceTerminating: the source namespace is being deleted.
	SourceNamespaceTerminating bool `json:"sourceNamespaceTerminating,omitempty"`
	// Accepted is the accept-changes value this run took, if any.
	Accepted string `json:"accepted,omitempty"`
}

// Verdict decides whether the run may make its deletions; reason says why
// not, with the counts and what to do. A person's acceptance lets any
// deletion through; without it, a vanishing source namespace or more
// deletions than the limit hold them all.
func (c DeletionCheck) Verdict(replication, sourceNamespace string) (allowed bool, reason string) {
	accept := fmt.Sprintf("if that is intended, annotate Replication %s with dr-syncer.io/accept-changes=<a new value> to let the next run delete them",
		replication)
	switch {
	case c.Deletions == 0 || c.Accepted != "":
		return true, ""
	case c.SourceNamespaceTerminating:
		return false, fmt.Sprintf("source namespace %s is being deleted: none of the %d DR objects whose source is gone was deleted; %s",
			sourceNamespace, c.Deletions, accept)
	case c.Deletions > c.Limit:
		return false, fmt.Sprintf("this run would delete %d of the %d objects this Replication owns in DR, more than its limit of %d (deletionGuard): nothing was deleted; %s",
			c.Deletions, c.Owned, c.Limit, accept)
	}
	return true, ""
}
