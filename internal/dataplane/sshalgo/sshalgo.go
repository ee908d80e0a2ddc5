// Package sshalgo pins the SSH algorithms of the data path, shared by the
// agent (which offers only these) and the mover (which prefers them).
package sshalgo

import "golang.org/x/crypto/ssh"

// Ciphers are AES-GCM only. With AES-NI, x/crypto/ssh runs aes128-gcm at
// about 5.4 GB/s per CPU-second against 0.57 GB/s for chacha20-poly1305
// (no assembly there), so a client that picked ChaCha would double the
// bastion's CPU and halve throughput. aes128 first: same security margin
// for this purpose, fewer rounds.
var Ciphers = []string{ssh.CipherAES128GCM, ssh.CipherAES256GCM}

// KeyExchanges are the hybrid post-quantum and curve25519 exchanges, plus
// nistp256 for clients without curve25519.
var KeyExchanges = []string{
	ssh.KeyExchangeMLKEM768X25519,
	ssh.KeyExchangeCurve25519,
	ssh.KeyExchangeECDHP256,
}

// MACs matter only if a non-AEAD cipher were negotiated, which Ciphers
// prevents; they are still restricted to encrypt-then-MAC SHA-2.
var MACs = []string{ssh.HMACSHA256ETM, ssh.HMACSHA512ETM}

// Config returns the common part of client and server configs.
func Config() ssh.Config {
	return ssh.Config{
		Ciphers:      Ciphers,
		KeyExchanges: KeyExchanges,
		MACs:         MACs,
	}
}
