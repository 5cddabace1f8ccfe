package query

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/state"
)

// Stream tokens. A browser's EventSource cannot send Authorization, and an
// API key in a URL ends up in logs and history. POST /v1/stream/token,
// authenticated like any request, returns a token that /v1/stream accepts
// as ?token= (and no other route does): the caller's key id and the
// token's expiry, signed with HMAC-SHA256 under a secret of this server.
// It carries no key, expires after StreamConfig.TokenTTL, and is checked
// again when used: a revoked key's tokens stop working.
//
//	token = base64url(payload) "." base64url(HMAC-SHA256(secret, "porttrack-stream\x00" payload))
//	payload = uint8 version (1) | int64 expiry (Unix s) | key id (the rest; "" on the open API)

const tokenPurpose = "porttrack-stream\x00"

var errToken = errors.New("stream token: malformed, forged or expired")

func (s *Server) signToken(keyID string, exp time.Time) string {
	p := make([]byte, 0, 9+len(keyID))
	p = append(p, 1)
	p = binary.BigEndian.AppendUint64(p, uint64(exp.Unix()))
	p = append(p, keyID...)
	m := hmac.New(sha256.New, s.tokenKey)
	m.Write([]byte(tokenPurpose))
	m.Write(p)
	return base64.RawURLEncoding.EncodeToString(p) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verifyToken returns the key id a token was issued for.
func (s *Server) verifyToken(tok string, now time.Time) (string, error) {
	if len(tok) > 256 {
		return "", errToken
	}
	ps, ms, ok := cut(tok, '.')
	if !ok {
		return "", errToken
	}
	p, err1 := base64.RawURLEncoding.DecodeString(ps)
	mac, err2 := base64.RawURLEncoding.DecodeString(ms)
	if err1 != nil || err2 != nil || len(p) < 9 || p[0] != 1 {
		return "", errToken
	}
	m := hmac.New(sha256.New, s.tokenKey)
	m.Write([]byte(tokenPurpose))
	m.Write(p)
	if !hmac.Equal(mac, m.Sum(nil)) {
		return "", errToken
	}
	if now.Unix() >= int64(binary.BigEndian.Uint64(p[1:9])) {
		return "", errToken
	}
	return string(p[9:]), nil
}

func cut(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// streamToken answers POST /v1/stream/token.
func (s *Server) streamToken(ctx *fasthttp.RequestCtx, r *request) {
	exp := time.Unix(0, s.now()).Add(s.cfg.Stream.TokenTTL)
	b := append(body(ctx), `{"token":`...)
	b = appendString(b, s.signToken(r.who.KeyID, exp))
	b = append(b, `,"expires":`...)
	b = appendTime(b, exp.UnixNano())
	b = append(b, `,"use":"GET /v1/stream?token=<token>"}`...)
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	setBody(ctx, b)
}

// tokenAuth returns the caller of a /v1/stream request with ?token=, or
// answers 401 (429 beyond the rate) and returns false.
func (s *Server) tokenAuth(ctx *fasthttp.RequestCtx, tok []byte) (Principal, bool) {
	keyID, err := s.verifyToken(string(tok), time.Unix(0, s.now()))
	if err != nil {
		if !s.rateAllow(ctx, rateID{addr: remoteAddr(ctx)}) {
			return Principal{}, false
		}
		s.unauthorized(ctx, "token: malformed, forged or expired; get a new one with POST /v1/stream/token")
		return Principal{}, false
	}
	var p Principal
	if keyID == "" {
		if !s.cfg.Open {
			s.unauthorized(ctx, "token: issued without a key, which this server does not accept")
			return Principal{}, false
		}
		p = openPrincipal
	} else {
		k, err := s.cfg.Store.Tenants.APIKeyByID(keyID)
		if errors.Is(err, state.ErrNotFound) {
			s.unauthorized(ctx, "token: its API key was revoked")
			return Principal{}, false
		}
		if err != nil {
			s.log.Error("API key lookup failed", "err", err)
			writeError(ctx, fasthttp.StatusInternalServerError, "internal", "state read failed")
			return Principal{}, false
		}
		p = keyPrincipal(&k)
	}
	if !s.rateAllow(ctx, rateIDOf(ctx, &p)) {
		return Principal{}, false
	}
	return p, true
}
