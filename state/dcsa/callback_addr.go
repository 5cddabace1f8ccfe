package dcsa

import (
	"fmt"
	"net/netip"
	"strings"
)

// Where webhook callbacks may connect. A callback URL is chosen by a
// tenant, so without limits the deliverer would be a way into the port's
// own network (the cloud metadata service at 169.254.169.254, an admin
// page on localhost, a database on 10.x). Callbacks are therefore denied
// by default every range that is not the public Internet; an operator
// re-opens ranges with an allow list (webhooks.allow), and can deny more
// (webhooks.deny, which wins over allow). The list is applied to the
// literal address of a URL when a subscription is stored (query) and to
// the resolved address of every connection (deliver), so a host name that
// resolves, or is re-pointed, to a denied address is caught too.
//
// An IPv6 address that embeds an IPv4 one (IPv4-mapped ::ffff:a.b.c.d,
// IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::a.b.c.d) is denied when the
// IPv4 address is, and so is a 6to4 one (2002:aabb:ccdd::); a zone
// (fe80::1%eth0) is ignored for the check.

// defaultCallbackDeny are the ranges denied unless allowed.
var defaultCallbackDeny = []string{
	"0.0.0.0/8",       // "this network", 0.0.0.0 unspecified
	"10.0.0.0/8",      // private
	"100.64.0.0/10",   // carrier-grade NAT
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local (cloud metadata services)
	"172.16.0.0/12",   // private
	"192.168.0.0/16",  // private
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // documentation (TEST-NET-1)
	"198.18.0.0/15",   // benchmarking, often used inside networks
	"198.51.100.0/24", // documentation (TEST-NET-2)
	"203.0.113.0/24",  // documentation (TEST-NET-3)
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, broadcast
	"::/128",          // unspecified
	"::1/128",         // loopback
	"::ffff:0:0:0/96", // IPv4-translated (SIIT): reaches IPv4 through a local translator
	"64:ff9b:1::/48",  // local-use NAT64: reaches IPv4 through a local translator
	"100::/64",        // discard
	"2001:db8::/32",   // documentation
	"fc00::/7",        // unique local (private)
	"fe80::/10",       // link-local
	"fec0::/10",       // site-local (deprecated)
	"ff00::/8",        // multicast
}

// DefaultCallbackDeny returns the ranges webhook callbacks may not reach
// unless an allow list re-opens them.
func DefaultCallbackDeny() []netip.Prefix {
	out := make([]netip.Prefix, len(defaultCallbackDeny))
	for i, s := range defaultCallbackDeny {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// CallbackDenyList returns the ranges callbacks may not reach: the
// defaults less the allowed ranges, plus deny (an explicit deny wins over
// an allow). Pass the result to DeniedAddr, CheckCallbackURL and
// PutSubscription.
func CallbackDenyList(deny, allow []netip.Prefix) []netip.Prefix {
	out := DefaultCallbackDeny()
	for _, a := range allow {
		a = a.Masked()
		var next []netip.Prefix
		for _, d := range out {
			next = subtractPrefix(next, d, a)
		}
		out = next
	}
	for _, d := range deny {
		out = append(out, d.Masked())
	}
	return out
}

// subtractPrefix appends to dst the prefixes that cover d less a.
func subtractPrefix(dst []netip.Prefix, d, a netip.Prefix) []netip.Prefix {
	switch {
	case d.Addr().Is4() != a.Addr().Is4():
		return append(dst, d)
	case a.Bits() <= d.Bits() && a.Contains(d.Addr()):
		return dst // all of d is allowed
	case d.Bits() < a.Bits() && d.Contains(a.Addr()):
		// Walk from d down to a: at each level the half not leading to a
		// stays denied.
		for b := d.Bits(); b < a.Bits(); b++ {
			sib := flipBit(a.Addr(), b)
			p, _ := sib.Prefix(b + 1)
			dst = append(dst, p)
		}
		return dst
	default:
		return append(dst, d)
	}
}

// flipBit returns ip with bit i (0 the most significant) inverted.
func flipBit(ip netip.Addr, i int) netip.Addr {
	if ip.Is4() {
		b := ip.As4()
		b[i/8] ^= 0x80 >> (i % 8)
		return netip.AddrFrom4(b)
	}
	b := ip.As16()
	b[i/8] ^= 0x80 >> (i % 8)
	return netip.AddrFrom16(b)
}

var (
	compatV4 = netip.MustParsePrefix("::/96")
	nat64V4  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4   = netip.MustParsePrefix("2002::/16")
)

// embeddedV4 returns the IPv4 address an IPv4-compatible (::a.b.c.d, but
// not :: or ::1), NAT64 (64:ff9b::a.b.c.d) or 6to4 (2002:aabb:ccdd::)
// IPv6 address carries.
func embeddedV4(ip netip.Addr) (netip.Addr, bool) {
	if !ip.Is6() {
		return netip.Addr{}, false
	}
	b := ip.As16()
	if sixTo4.Contains(ip) {
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}
	if !compatV4.Contains(ip) && !nat64V4.Contains(ip) {
		return netip.Addr{}, false
	}
	v4 := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	if compatV4.Contains(ip) && (b[12]|b[13]|b[14]) == 0 && b[15] <= 1 {
		return netip.Addr{}, false // :: and ::1 are themselves
	}
	return v4, true
}

// DeniedAddr reports whether ip lies in one of the ranges, in any of its
// spellings: zone ignored, IPv4-mapped, IPv4-compatible and NAT64 forms
// checked as their IPv4 address too.
func DeniedAddr(ip netip.Addr, deny []netip.Prefix) bool {
	ip = ip.WithZone("").Unmap()
	in := func(a netip.Addr) bool {
		for _, p := range deny {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if v4, ok := embeddedV4(ip); ok && in(v4) {
		return true
	}
	return in(ip)
}

// addrKind names the kind of range ip lies in, for error messages.
func addrKind(ip netip.Addr) string {
	ip = ip.WithZone("").Unmap()
	if v4, ok := embeddedV4(ip); ok {
		ip = v4
	}
	switch {
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsUnspecified() || (ip.Is4() && ip.As4()[0] == 0):
		return "an unspecified address"
	case ip.IsLinkLocalUnicast():
		return "a link-local address"
	case ip.IsMulticast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast():
		return "a multicast address"
	case ip.IsPrivate():
		return "a private address"
	case netip.MustParsePrefix("100.64.0.0/10").Contains(ip):
		return "a carrier-grade NAT address"
	default:
		return "an address in a denied range"
	}
}

// checkCallbackHost checks the host of a callback URL that can be judged
// without resolving it: a literal address, a loopback name, a zone, or a
// numeric form other than a.b.c.d that resolvers read as an address.
func checkCallbackHost(host string, deny []netip.Prefix) error {
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return fmt.Errorf("callbackUrl: %s has a zone (%%%s): an interface of this host is not a callback target", host, ip.Zone())
		}
		if DeniedAddr(ip, deny) {
			return fmt.Errorf("callbackUrl: %s is %s, which callbacks may not reach (the operator may allow the range with webhooks.allow)", ip, addrKind(ip))
		}
		return nil
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		if lo := netip.MustParseAddr("127.0.0.1"); DeniedAddr(lo, deny) {
			return fmt.Errorf("callbackUrl: %s names a loopback address, which callbacks may not reach (the operator may allow the range with webhooks.allow)", host)
		}
		return nil
	}
	last := name[strings.LastIndexByte(name, '.')+1:]
	numeric := last != ""
	for i := 0; i < len(last); i++ {
		c := last[i]
		if !(c >= '0' && c <= '9' || c == 'x' || c >= 'a' && c <= 'f') {
			numeric = false
		}
	}
	if numeric && (last[0] >= '0' && last[0] <= '9') {
		return fmt.Errorf("callbackUrl: host %q is a numeric address in a form other than a.b.c.d; write the address as a.b.c.d or use a name", host)
	}
	return nil
}
