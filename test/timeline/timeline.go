// Package timeline counts what overlaps in time, for tests that check a
// concurrency bound from recorded start and end times.
package timeline

import (
	"sort"
	"time"
)

// Interval is a span of time something ran: from Start to End.
type Interval struct{ Start, End time.Time }

// MostAtOnce is the largest number of intervals open at one moment. An
// interval ending when another starts does not overlap it.
func MostAtOnce(intervals []Interval) int {
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, iv := range intervals {
		edges = append(edges, edge{iv.Start, 1}, edge{iv.End, -1})
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at.Equal(edges[j].at) {
			return edges[i].delta < edges[j].delta // the end first
		}
		return edges[i].at.Before(edges[j].at)
	})
	open, most := 0, 0
	for _, e := range edges {
		open += e.delta
		most = max(most, open)
	}
	return most
}
