// Package vault seals terminal and cashier secrets at rest with AES-256-GCM
// under one master key, and creates and loads that key.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EnvKey names the environment variable that holds the master key (64 hex
// characters). When it is unset, the key lives in a file.
const EnvKey = "POSGATE_MASTER_KEY"

// KeyFileName is the key file created beside the SQLite database.
const KeyFileName = "posgate.key"

// Sealer encrypts and decrypts secrets.
type Sealer struct{ aead cipher.AEAD }

// New builds a Sealer from a 32-byte key.
func New(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("master key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext; the nonce is prepended. aad binds the sealed
// value to its owner (the user name), so a sealed secret copied onto
// another row does not open.
func (s *Sealer) Seal(plaintext, aad []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return s.aead.Seal(nonce, nonce, plaintext, aad)
}

// ErrOpen is returned when a sealed value does not decrypt: wrong master
// key, or tampered data. It never carries the data.
var ErrOpen = errors.New("vault: sealed value does not open with this master key")

// Open decrypts a value made by Seal with the same aad.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrOpen
	}
	out, err := s.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}

// NewSecret returns a new secret_key: 32 random bytes as lowercase hex.
func NewSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// LoadKey returns the master key from POSGATE_MASTER_KEY (via getenv) or,
// when that is unset, from keyFile, creating the file with a new random key
// (mode 0600) when it does not exist yet.
func LoadKey(getenv func(string) string, keyFile string) ([]byte, error) {
	if v := strings.TrimSpace(getenv(EnvKey)); v != "" {
		k, err := hex.DecodeString(v)
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("%s must be 64 hex characters (32 bytes)", EnvKey)
		}
		return k, nil
	}
	if b, err := os.ReadFile(keyFile); err == nil {
		k, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("key file %s does not hold 64 hex characters", keyFile)
		}
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(keyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) { // another process created it first
		return LoadKey(func(string) string { return "" }, keyFile)
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return k, f.Close()
}
