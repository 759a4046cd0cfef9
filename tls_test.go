package phalanx_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx"
	"github.com/stretchr/testify/require"
)

// testCA issues certificates for tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "phalanx test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue writes a certificate for names (DNS names or IPs) and its key to
// dir, returning the two file paths.
func (ca *testCA) issue(t *testing.T, dir, file string, names ...string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certPath, keyPath := filepath.Join(dir, file+".crt"), filepath.Join(dir, file+".key")
	require.NoError(t, os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	require.NoError(t, os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return certPath, keyPath
}

// TestOnePortEveryProtocol serves HTTP/1.1, h2c with prior knowledge and
// TLS (HTTP/2 and HTTP/1.1 by ALPN, certificate by SNI) on one port.
func TestOnePortEveryProtocol(t *testing.T) {
	checkNoLeaks(t)
	be := newProtoBackend(t)
	ca := newTestCA(t)
	dir := t.TempDir()
	aCert, aKey := ca.issue(t, dir, "a", "a.example", "127.0.0.1")
	bCert, bKey := ca.issue(t, dir, "b", "*.b.example")
	url, srv := startProxy(t, phalanx.WithLogger(discard()),
		phalanx.WithCertificate(aCert, aKey),
		phalanx.WithCertificate(bCert, bKey),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks,
			Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}))
	addr := strings.TrimPrefix(url, "http://")

	tlsTransport := func(sni string, h2 bool) *http.Transport {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool, ServerName: sni}, Protocols: new(http.Protocols)}
		tr.Protocols.SetHTTP1(true)
		tr.Protocols.SetHTTP2(h2)
		t.Cleanup(tr.CloseIdleConnections)
		return tr
	}
	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(h2c.CloseIdleConnections)
	h1 := &http.Transport{}
	t.Cleanup(h1.CloseIdleConnections)

	tests := []struct {
		name      string
		rt        http.RoundTripper
		scheme    string
		wantProto string
		wantCert  string // a DNS name of the certificate the server must present
	}{
		{"http/1.1", h1, "http", "HTTP/1.1", ""},
		{"h2c prior knowledge", h2c, "http", "HTTP/2.0", ""},
		{"tls h2, SNI a.example", tlsTransport("a.example", true), "https", "HTTP/2.0", "a.example"},
		{"tls http/1.1, SNI x.b.example", tlsTransport("x.b.example", false), "https", "HTTP/1.1", "*.b.example"},
		{"tls without SNI gets the first certificate", tlsTransport("", true), "https", "HTTP/2.0", "a.example"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &http.Client{Transport: tc.rt, Timeout: 10 * time.Second}
			res, err := c.Get(tc.scheme + "://" + addr + "/x")
			require.NoError(t, err)
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || res.Proto != tc.wantProto {
				t.Fatalf("GET = %d %s, want 200 %s", res.StatusCode, res.Proto, tc.wantProto)
			}
			wantFwd := "http"
			if tc.scheme == "https" {
				wantFwd = "https"
			}
			if got := string(body); got != "proto="+wantFwd {
				t.Errorf("backend saw X-Forwarded-Proto %q, want %q", got, "proto="+wantFwd)
			}
			if tc.wantCert != "" {
				names := res.TLS.PeerCertificates[0].DNSNames
				if len(names) == 0 || names[0] != tc.wantCert {
					t.Errorf("certificate names = %v, want %s first", names, tc.wantCert)
				}
			}
		})
	}

	// The HTTP/1.1 engine serves HTTP/1.1 over TLS itself, and hands the
	// two TLS connections that chose h2 to net/http.
	if want := int64(2); phalanx.DefaultEngine() == phalanx.EnginePhalanx && phalanx.Handoffs(srv) != want {
		t.Errorf("connections handed to net/http = %d, want %d", phalanx.Handoffs(srv), want)
	}

	// An unknown protocol is closed without a byte written.
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	require.NoError(t, err)
	defer conn.Close()
	conn.Write([]byte("\x00\x01garbage\r\n"))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := conn.Read(make([]byte, 64))
	if n != 0 || err == nil || strings.Contains(err.Error(), "timeout") {
		t.Errorf("unknown protocol: read %d bytes, err %v; want the connection closed", n, err)
	}
}

// newProtoBackend answers with the X-Forwarded-Proto it saw.
func newProtoBackend(t *testing.T) *httptest.Server {
	return newHeaderEcho(t, "X-Forwarded-Proto", "proto=")
}

// TestReloadRereadsCertificates replaces a certificate file and reloads:
// new handshakes get the new certificate, and a connection opened before
// keeps serving requests.
func TestReloadRereadsCertificates(t *testing.T) {
	checkNoLeaks(t)
	be := namedBackend(t, "app")
	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.issue(t, dir, "site", "old.example", "127.0.0.1")
	opts := []phalanx.Option{
		phalanx.WithLogger(discard()),
		phalanx.WithCertificate(certFile, keyFile),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}),
	}
	url, srv := startProxy(t, opts...)
	addr := "https://" + strings.TrimPrefix(url, "http://") + "/"

	newClient := func() (*http.Client, *http.Transport) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool}, Protocols: new(http.Protocols)}
		tr.Protocols.SetHTTP2(true)
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}, tr
	}
	certName := func(c *http.Client) string {
		t.Helper()
		res, err := c.Get(addr)
		require.NoError(t, err)
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		require.Equal(t, 200, res.StatusCode)
		return res.TLS.PeerCertificates[0].DNSNames[0]
	}
	before, _ := newClient()
	if got := certName(before); got != "old.example" {
		t.Fatalf("certificate before reload = %s, want old.example", got)
	}

	// Issue a new certificate into the same files, then reload.
	newCert, newKey := ca.issue(t, dir, "next", "new.example", "127.0.0.1")
	for _, f := range [][2]string{{newCert, certFile}, {newKey, keyFile}} {
		b, err := os.ReadFile(f[0])
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(f[1], b, 0o600))
	}
	require.NoError(t, srv.Reload(opts...))

	after, _ := newClient()
	if got := certName(after); got != "new.example" {
		t.Errorf("certificate on a new connection after reload = %s, want new.example", got)
	}
	// The connection opened before the reload is still the same one and
	// still works: its certificate is the old one.
	if got := certName(before); got != "old.example" {
		t.Errorf("certificate on the pre-reload connection = %s, want old.example (connection kept)", got)
	}
}
