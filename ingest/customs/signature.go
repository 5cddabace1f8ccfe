package customs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// XML-DSig verification, used only when trusted certificates are
// configured. The signer's certificate (KeyInfo/X509Data/X509Certificate)
// must be a trusted certificate or be signed by one, and SignatureValue
// must verify over the SignedInfo element as it appears in the message,
// with the xmldsig namespace declared on it (the exclusive canonical form
// of a SignedInfo that was written canonically, as signing clients write
// it). A message re-serialised in between fails with bad_signature.

var signedInfoRe = regexp.MustCompile(`(?s)<((?:[A-Za-z_][\w.-]*:)?)SignedInfo[\s>].*?</(?:[A-Za-z_][\w.-]*:)?SignedInfo>`)

const dsigNS = "http://www.w3.org/2000/09/xmldsig#"

func verifySignature(doc []byte, sig *signature, trusted []*x509.Certificate) error {
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(sig.Certificate)), ""))
	if err != nil || len(der) == 0 {
		return errors.New("signature without a readable X509Certificate")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("signer certificate: %v", err)
	}
	ok := false
	for _, t := range trusted {
		if bytes.Equal(t.Raw, cert.Raw) || cert.CheckSignatureFrom(t) == nil {
			ok = true
			break
		}
	}
	if !ok {
		return fmt.Errorf("signer certificate %q is not trusted", cert.Subject.CommonName)
	}
	m := signedInfoRe.FindSubmatchIndex(doc)
	if m == nil {
		return errors.New("signature without SignedInfo")
	}
	si := doc[m[0]:m[1]]
	prefix := string(doc[m[2]:m[3]])
	if !bytes.Contains(si[:bytes.IndexByte(si, '>')], []byte("xmlns")) {
		decl := ` xmlns="` + dsigNS + `"`
		if prefix != "" {
			decl = ` xmlns:` + strings.TrimSuffix(prefix, ":") + `="` + dsigNS + `"`
		}
		at := 1 + len(prefix) + len("SignedInfo")
		si = append(append(append([]byte{}, si[:at]...), decl...), si[at:]...)
	}
	value, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(sig.SignatureValue)), ""))
	if err != nil {
		return errors.New("SignatureValue is not base64")
	}
	var h crypto.Hash
	alg := sig.SignatureMethod.Algorithm
	switch {
	case strings.HasSuffix(alg, "rsa-sha1"):
		h = crypto.SHA1
	case strings.HasSuffix(alg, "rsa-sha256"), strings.HasSuffix(alg, "ecdsa-sha256"):
		h = crypto.SHA256
	default:
		return fmt.Errorf("signature algorithm %q not supported", alg)
	}
	var digest []byte
	if h == crypto.SHA1 {
		d := sha1.Sum(si)
		digest = d[:]
	} else {
		d := sha256.Sum256(si)
		digest = d[:]
	}
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(pub, h, digest, value); err != nil {
			return errors.New("signature does not verify")
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest, value) {
			return errors.New("signature does not verify")
		}
	default:
		return fmt.Errorf("signer key type %T not supported", pub)
	}
	return nil
}
