package vault

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestSealOpen(t *testing.T) {
	s, err := New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.Seal([]byte("secret"), []byte("T1"))
	if bytes.Contains(sealed, []byte("secret")) {
		t.Fatal("plaintext visible in sealed value")
	}
	got, err := s.Open(sealed, []byte("T1"))
	if err != nil || string(got) != "secret" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := s.Open(sealed, []byte("T2")); err != ErrOpen {
		t.Fatalf("open with other aad: %v", err)
	}
	other, _ := New(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open(sealed, []byte("T1")); err != ErrOpen {
		t.Fatalf("open with other key: %v", err)
	}
}

func TestLoadKeyCreatesFile0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), KeyFileName)
	noenv := func(string) string { return "" }
	k1, err := LoadKey(noenv, path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	k2, err := LoadKey(noenv, path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second load differs: %v", err)
	}
	env := func(string) string { return "zz" }
	if _, err := LoadKey(env, path); err == nil {
		t.Fatal("bad env key accepted")
	}
}
