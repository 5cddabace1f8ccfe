package deliver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"

	"github.com/porttrack/porttrack/state/dcsa"
)

// Where callbacks may connect, and what a tenant is told when they fail.
//
// The ranges are dcsa.CallbackDenyList(Config.Deny, Config.Allow): every
// non-public range unless allowed (state/dcsa/callback_addr.go). They are
// checked in the dialer's Control hook, on the address of each connection
// after resolution, so a name that resolves (or is re-pointed, DNS
// rebinding) to a denied address is refused as a literal one is, whatever
// its spelling (zoned, IPv4-mapped, ...).
//
// A failed attempt is recorded for the tenant (the deliveries log, the
// dead letters) as a reason from a fixed set, not as the error's text:
// resolver and network errors name internal addresses and servers, which
// a tenant probing the network through callback URLs must not learn. The
// operator's log keeps the error itself.

// deniedError is a connection the address policy refused.
type deniedError struct{ addr netip.Addr }

func (e *deniedError) Error() string {
	return fmt.Sprintf("callback address %s is in a denied range", e.addr)
}

// dialControl returns the dialer's Control hook that refuses denied
// addresses.
func dialControl(deny []netip.Prefix) func(network, address string, c syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return err
		}
		if dcsa.DeniedAddr(ap.Addr(), deny) {
			return &deniedError{addr: ap.Addr()}
		}
		return nil
	}
}

// Reasons a delivery attempt failed, as the deliveries log and dead
// letters show them to the tenant.
const (
	ReasonDenied     = "denied"     // the callback's address is in a denied range
	ReasonDNS        = "dns"        // the host name did not resolve
	ReasonRefused    = "refused"    // the connection was refused
	ReasonTimeout    = "timeout"    // no answer within Config.Timeout
	ReasonTLS        = "tls"        // the TLS handshake failed (certificate, protocol)
	ReasonConnection = "connection" // any other failure to connect or exchange
)

// Reason classifies the outcome of a POST that failed: http_<code> for an
// answer that is not 2xx, else one of the Reason constants.
func Reason(status int, err error) string {
	if status != 0 {
		return "http_" + strconv.Itoa(status)
	}
	var denied *deniedError
	var dnsErr *net.DNSError
	var netErr net.Error
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &denied):
		return ReasonDenied
	case errors.As(err, &dnsErr):
		return ReasonDNS
	case errors.As(err, &certErr) || errors.As(err, &recErr) || errors.As(err, &alert) ||
		errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalid):
		return ReasonTLS
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return ReasonTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonRefused
	default:
		return ReasonConnection
	}
}
