package phalanx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// certSpec is one WithCertificate.
type certSpec struct {
	certFile, keyFile string
	names             []string
}

// certStore picks a certificate by SNI. It is part of a snapshot, so a
// reload re-reads the files and new handshakes get the new certificates
// while established connections go on.
type certStore struct {
	exact    map[string]*tls.Certificate
	wildcard map[string]*tls.Certificate // ".example.com" -> cert
	def      *tls.Certificate            // the first certificate: no or unknown SNI
}

func loadCerts(specs []certSpec) (*certStore, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	cs := &certStore{exact: map[string]*tls.Certificate{}, wildcard: map[string]*tls.Certificate{}}
	for _, sp := range specs {
		cert, err := tls.LoadX509KeyPair(sp.certFile, sp.keyFile)
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", sp.certFile, err)
		}
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", sp.certFile, err)
		}
		cert.Leaf = leaf
		names := sp.names
		if len(names) == 0 {
			names = leaf.DNSNames
			for _, ip := range leaf.IPAddresses {
				names = append(names, ip.String())
			}
		}
		for _, n := range names {
			n = strings.ToLower(strings.TrimSuffix(n, "."))
			if suffix, ok := strings.CutPrefix(n, "*."); ok {
				if _, dup := cs.wildcard["."+suffix]; !dup {
					cs.wildcard["."+suffix] = &cert
				}
			} else if _, dup := cs.exact[n]; !dup {
				cs.exact[n] = &cert
			}
		}
		if cs.def == nil {
			cs.def = &cert
		}
	}
	return cs, nil
}

// pick returns the certificate for an SNI name: an exact name, else the
// longest matching wildcard, else the default.
func (cs *certStore) pick(sni string) *tls.Certificate {
	sni = strings.ToLower(strings.TrimSuffix(sni, "."))
	if c, ok := cs.exact[sni]; ok {
		return c
	}
	for i := strings.IndexByte(sni, '.'); i >= 0; {
		if c, ok := cs.wildcard[sni[i:]]; ok {
			return c
		}
		j := strings.IndexByte(sni[i+1:], '.')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return cs.def
}

var errNoCertificate = errors.New("phalanx: no TLS certificate configured")

// tlsConfig is the listeners' TLS configuration: TLS 1.2 or later, ALPN
// h2 then http/1.1, the certificate chosen per handshake from the live
// snapshot.
func (s *Server) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			cs := s.state.Load().certs
			if cs == nil {
				return nil, errNoCertificate
			}
			return cs.pick(hello.ServerName), nil
		},
	}
}
