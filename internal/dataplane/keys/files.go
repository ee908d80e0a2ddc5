package keys

import (
	"fmt"
	"os"

	"golang.org/x/crypto/ssh"
)

// Secret volume file names of a DR pod's SSH identity: the per-operation
// key, its certificate, and the pinned agent host keys.
const (
	OpKeyFile    = "op_ed25519"
	OpCertFile   = "op_ed25519-cert.pub"
	HostKeysFile = "ssh_host_ed25519_key.pub"
)

// LoadClientIdentity reads what a DR pod (mover, sshcheck) authenticates
// to agents with: the per-operation key and its certificate as one signer,
// and the host keys to pin.
func LoadClientIdentity(keyFile, certFile, hostKeysFile string) (ssh.Signer, []ssh.PublicKey, error) {
	pem, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("read operation key: %w", err)
	}
	cert, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, fmt.Errorf("read operation certificate: %w", err)
	}
	signer, err := CertSigner(pem, cert)
	if err != nil {
		return nil, nil, fmt.Errorf("operation key %s with certificate %s: %w", keyFile, certFile, err)
	}
	hostData, err := os.ReadFile(hostKeysFile)
	if err != nil {
		return nil, nil, fmt.Errorf("read agent host keys: %w", err)
	}
	hostKeys, err := ParseHostKeys(hostData)
	if err != nil {
		return nil, nil, fmt.Errorf("agent host keys %s: %w", hostKeysFile, err)
	}
	return signer, hostKeys, nil
}
