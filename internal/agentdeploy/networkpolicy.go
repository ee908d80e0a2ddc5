package agentdeploy

import (
	"fmt"
	"net/netip"
)

// WantsNetworkPolicy says whether the manifests include the NetworkPolicy
// that admits the agent's port only from AllowedSourceCIDRs.
func (v Values) WantsNetworkPolicy() bool { return len(v.AllowedSourceCIDRs) > 0 }

// PolicyName is the NetworkPolicy's name: the agent's.
func (v Values) PolicyName() string {
	if v.Name == "" {
		return Defaults().Name
	}
	return v.Name
}

// IngressPeers are the policy's "from" entries, one ipBlock per CIDR.
func (v Values) IngressPeers() []map[string]any {
	out := make([]map[string]any, 0, len(v.AllowedSourceCIDRs))
	for _, c := range v.AllowedSourceCIDRs {
		out = append(out, map[string]any{"ipBlock": map[string]string{"cidr": c}})
	}
	return out
}

// validateCIDRs refuses what the API server would refuse in an ipBlock
// (which would fail the whole rollout with a less helpful message), and a
// CIDR with host bits set, which usually means a mistyped prefix length.
func validateCIDRs(cidrs []string) error {
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return fmt.Errorf("agent manifests: allowedSourceCIDRs entry %q is not a CIDR such as 10.1.0.0/16 or 192.0.2.7/32", c)
		}
		if p.Masked() != p {
			return fmt.Errorf("agent manifests: allowedSourceCIDRs entry %q has host bits set; did you mean %s?", c, p.Masked())
		}
	}
	return nil
}
