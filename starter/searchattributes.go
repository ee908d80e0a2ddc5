package starter

import (
	"context"
	"fmt"
	"sort"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"

	"github.com/dr-syncer/dr-syncer/contract"
)

// EnsureSearchAttributes registers dr-syncer's search attributes in the
// namespace, adding only the missing ones, and returns the names it added.
func (s *Starter) EnsureSearchAttributes(ctx context.Context) ([]string, error) {
	existing, err := s.Client.OperatorService().ListSearchAttributes(ctx,
		&operatorservice.ListSearchAttributesRequest{Namespace: s.Namespace})
	if err != nil {
		return nil, fmt.Errorf("list search attributes of namespace %q: %w", s.Namespace, err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range contract.SearchAttributeTypes() {
		if _, ok := existing.GetCustomAttributes()[name]; ok {
			continue
		}
		value, ok := enumspb.IndexedValueType_shorthandValue[typ]
		if !ok {
			return nil, fmt.Errorf("search attribute %s has unknown type %q", name, typ)
		}
		missing[name] = enumspb.IndexedValueType(value)
	}
	if len(missing) == 0 {
		return nil, nil
	}
	_, err = s.Client.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        s.Namespace,
		SearchAttributes: missing,
	})
	if err != nil {
		return nil, fmt.Errorf("add search attributes to namespace %q (needs Temporal admin rights; or run `temporal operator search-attribute create`): %w", s.Namespace, err)
	}
	added := make([]string, 0, len(missing))
	for name := range missing {
		added = append(added, name)
	}
	sort.Strings(added)
	return added, nil
}
