// Package customs decodes port.customs records into state.CustomsDoc: the
// China e-port cross-border e-commerce messages CEB311 (order), CEB411
// (payment), CEB511 (waybill), CEB621 (import inventory) and CEB622
// (inventory receipt), as XML in the CEB namespace
// (http://www.chinaport.gov.cn/ceb) declared UTF-8 or GB2312/GBK/GB18030, or
// as the equivalent JSON ("type": "CEB311", then the envelope's element names
// as keys), and container-level customs messages as JSON
// ("type": "container.<event>").
//
// Decoding is pure (no IO) and the Decoder is stateless, shared by every
// partition. Bad input returns a *decode.Error whose reason is one of the
// shared codes or malformed_xml, wrong_namespace, unknown_type,
// bad_encoding, bad_signature; dst is then left as it was.
//
// An XML-DSig Signature is kept (CustomsDoc.Signed) and verified only when
// Config.TrustedCerts is set: the signer certificate must be trusted (or
// signed by a trusted one) and SignatureValue must verify over SignedInfo as
// written in the message (see signature.go for what that covers).
//
// It imports state and ingest/decode; never ingest, query, bench or cmd.
package customs
