package transport

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"time"
)

// Certificate returns a self-signed X.509 certificate whose public key is
// the validator key itself, as a validator presents it. Its validity
// period and names are never checked: peers are authenticated by the key
// alone.
func Certificate(key ed25519.PrivateKey) (tls.Certificate, error) {
	now := time.Now()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "strategos validator"},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.AddDate(100, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("transport: create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("transport: parse certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// PeerKey returns the ed25519 key of the peer's leaf certificate.
func PeerKey(cs tls.ConnectionState) (ed25519.PublicKey, error) {
	if len(cs.PeerCertificates) == 0 {
		return nil, errors.New("transport: peer sent no certificate")
	}
	key, ok := cs.PeerCertificates[0].PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("transport: peer key is %T, not ed25519", cs.PeerCertificates[0].PublicKey)
	}
	return key, nil
}

// serverConfig accepts any client whose key is that of a validator other
// than self. Chain verification is off (RequireAnyClientCert); the
// VerifyConnection callback is the check.
func (t *Transport) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{t.cert},
		ClientAuth:             tls.RequireAnyClientCert,
		SessionTicketsDisabled: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			key, err := PeerKey(cs)
			if err != nil {
				return err
			}
			if _, ok := t.byKey[string(key)]; !ok {
				return fmt.Errorf("transport: client key %x is not that of another validator", []byte(key))
			}
			return nil
		},
	}
}

// clientConfig accepts only a server whose key is want, the key of the
// validator being dialed. InsecureSkipVerify turns off chain and name
// verification only; VerifyConnection replaces them.
func (t *Transport) clientConfig(want ed25519.PublicKey) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{t.cert},
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			key, err := PeerKey(cs)
			if err != nil {
				return err
			}
			if !key.Equal(want) {
				return fmt.Errorf("transport: server key %x, want %x", []byte(key), []byte(want))
			}
			return nil
		},
	}
}
