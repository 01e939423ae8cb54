package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/posgate/posgate/server"
	"github.com/stretchr/testify/require"
)

// selfSigned writes a certificate for 127.0.0.1 and its key as PEM files.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "posgate test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return certFile, keyFile, pool
}

func TestServesTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	g, err := server.Open(context.Background(), server.Config{
		DB: filepath.Join(t.TempDir(), "posgate.db"),
		Getenv: func(k string) string {
			return map[string]string{"POSGATE_MASTER_KEY": masterKey, server.EnvAdminToken: "x"}[k]
		},
	})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, ln, certFile, keyFile) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + ln.Addr().String() + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotNil(t, resp.TLS)
}

// Under TLS the console's cookies are Secure; with an admin listener it
// serves TLS too, and the main listener has no console.
func TestConsoleSecureCookieUnderTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	g, err := server.Open(context.Background(), server.Config{
		DB:            filepath.Join(t.TempDir(), "posgate.db"),
		SeparateAdmin: true,
		Getenv: func(k string) string {
			return map[string]string{"POSGATE_MASTER_KEY": masterKey, server.EnvAdminToken: "test-admin-token"}[k]
		},
	})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.ServeWithAdmin(ctx, ln, adminLn, certFile, keyFile) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	c := consoleClient(t)
	c.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	resp, _ := fetch(t, c, "GET", "https://"+ln.Addr().String()+"/console/login", nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "the console is on the admin listener only")
	base := "https://" + adminLn.Addr().String()
	resp, page := fetch(t, c, "GET", base+"/console/login", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, ck := range resp.Cookies() {
		require.True(t, ck.Secure, "%s is Secure under TLS", ck.Name)
	}
	resp, _ = fetch(t, c, "POST", base+"/console/login", url.Values{"csrf": {csrfField.FindStringSubmatch(page)[1]}, "token": {"test-admin-token"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "posgate_console" {
			session = ck
		}
	}
	require.NotNil(t, session)
	require.True(t, session.Secure)
	require.True(t, session.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, session.SameSite)
}
