package customs

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/porttrack/porttrack/ingest/decode"
)

func selfSigned(t *testing.T, cn string) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

// signed returns the CEB311 sample with an enveloped XML-DSig Signature by
// key and cert; SignedInfo is signed in the canonical form the verifier
// checks (its own namespace declaration added).
func signed(t *testing.T, key *rsa.PrivateKey, cert *x509.Certificate) string {
	t.Helper()
	si := `<ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"></ds:CanonicalizationMethod>` +
		`<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"></ds:SignatureMethod>` +
		`<ds:Reference URI=""><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"></ds:DigestMethod><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo>`
	canon := strings.Replace(si, "<ds:SignedInfo>", `<ds:SignedInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">`, 1)
	d := sha256.Sum256([]byte(canon))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	el := `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">` + si +
		`<ds:SignatureValue>` + base64.StdEncoding.EncodeToString(sig) + `</ds:SignatureValue>` +
		`<ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + base64.StdEncoding.EncodeToString(cert.Raw) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>`
	doc := string(readFile(t, "ceb311.xml"))
	return strings.Replace(doc, "</ceb:CEB311Message>", el+"</ceb:CEB311Message>", 1)
}

// TestSignature: a signature is kept and never required; it is verified
// only with trusted certificates configured, and then an untrusted signer
// or a tampered SignedInfo is dead-lettered.
func TestSignature(t *testing.T) {
	key, cert := selfSigned(t, "e-port signer")
	_, other := selfSigned(t, "someone else")
	doc := signed(t, key, cert)

	d, err := NewDecoder(Config{}).Decode(nil, []byte(doc))
	if err != nil || !d[0].Signed || d[0].SignatureVerified {
		t.Fatalf("without trusted certs: %v %+v", err, d)
	}
	d, err = NewDecoder(Config{TrustedCerts: []*x509.Certificate{cert}}).Decode(nil, []byte(doc))
	if err != nil || !d[0].Signed || !d[0].SignatureVerified {
		t.Fatalf("trusted signer: %v %+v", err, d)
	}
	if d, err := NewDecoder(Config{TrustedCerts: []*x509.Certificate{cert}}).Decode(nil, readFile(t, "ceb311.xml")); err != nil || d[0].Signed {
		t.Fatalf("unsigned message with trusted certs configured: %v", err)
	}
	for name, tc := range map[string]struct {
		doc     string
		trusted *x509.Certificate
	}{
		"untrusted signer": {doc, other},
		"tampered":         {strings.Replace(doc, "AAAA</ds:DigestValue>", "AAAB</ds:DigestValue>", 1), cert},
	} {
		_, err := NewDecoder(Config{TrustedCerts: []*x509.Certificate{tc.trusted}}).Decode(nil, []byte(tc.doc))
		if decode.Reason(err) != ReasonBadSignature {
			t.Errorf("%s: %v, want %s", name, err, ReasonBadSignature)
		}
	}
}
