package dcsa

import (
	"net/netip"
	"strings"
	"testing"
)

func prefixes(t *testing.T, s ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

// TestCallbackDenyDefaults: with no settings, callbacks may not reach
// loopback, link-local, private, unspecified, multicast or CGNAT
// addresses, in any of their IPv6 spellings (mapped, compatible, NAT64,
// zoned); public addresses pass.
func TestCallbackDenyDefaults(t *testing.T) {
	deny := CallbackDenyList(nil, nil)
	for _, a := range []string{
		"127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "100.127.255.254",
		"0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.250", "255.255.255.255",
		"::1", "::", "fe80::1", "fe80::1%eth0", "::1%lo", "fc00::1", "fd12:3456::1", "ff02::1", "ff05::2",
		"::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254", "::127.0.0.1", "::10.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1",
		"::ffff:0.0.0.0",
		"192.0.0.8", "192.0.2.1", "198.18.0.1", "198.19.255.254", "198.51.100.1", "203.0.113.5",
		"64:ff9b:1::a00:1", "::ffff:0:a00:1", "100::1", "2001:db8::1", "2002:7f00:1::1", "2002:a00:1::",
	} {
		if !DeniedAddr(netip.MustParseAddr(a), deny) {
			t.Errorf("%s is reachable by default", a)
		}
	}
	for _, a := range []string{"93.184.216.34", "8.8.8.8", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.34", "172.32.0.1", "100.128.0.1", "192.169.0.1", "198.20.0.1", "2002:5db8:d822::1"} {
		if DeniedAddr(netip.MustParseAddr(a), deny) {
			t.Errorf("%s is denied by default", a)
		}
	}
}

// TestCallbackAllowReopens: an allow list re-opens ranges (and only them);
// an explicit deny beats an allow.
func TestCallbackAllowReopens(t *testing.T) {
	deny := CallbackDenyList(nil, prefixes(t, "127.0.0.0/8", "::1/128", "10.1.0.0/16"))
	for a, want := range map[string]bool{
		"127.0.0.1": false, "127.9.9.9": false, "::1": false, "::1%lo": false, "::ffff:127.0.0.1": false, "10.1.2.3": false,
		"10.2.0.1": true, "10.0.0.1": true, "10.255.255.255": true, "192.168.1.1": true, "169.254.169.254": true, "fe80::1": true, "::": true,
	} {
		if got := DeniedAddr(netip.MustParseAddr(a), deny); got != want {
			t.Errorf("allow loopback and 10.1/16: %s denied %v, want %v", a, got, want)
		}
	}
	deny = CallbackDenyList(prefixes(t, "127.0.0.2/32", "93.184.216.0/24"), prefixes(t, "127.0.0.0/8", "0.0.0.0/0"))
	for a, want := range map[string]bool{"127.0.0.1": false, "127.0.0.2": true, "10.0.0.1": false, "93.184.216.34": true, "8.8.8.8": false, "::1": true} {
		if got := DeniedAddr(netip.MustParseAddr(a), deny); got != want {
			t.Errorf("deny 127.0.0.2 and 93.184.216/24, allow 127/8 and 0/0: %s denied %v, want %v", a, got, want)
		}
	}
}

// TestCheckCallbackURLNamesWhy: a literal address (or localhost) in a
// denied range is refused naming the kind of range; a zoned IPv6 literal
// is refused.
func TestCheckCallbackURLNamesWhy(t *testing.T) {
	deny := CallbackDenyList(nil, nil)
	for u, why := range map[string]string{
		"http://127.0.0.1:8080/hook":      "loopback",
		"http://localhost:8080/hook":      "loopback",
		"http://LocalHost./hook":          "loopback",
		"http://app.localhost/hook":       "loopback",
		"http://[::1]:8080/":              "loopback",
		"http://[::1%25lo]:8080/":         "zone",
		"http://[fe80::1%25eth0]/":        "zone",
		"http://169.254.169.254/latest/":  "link-local",
		"http://10.0.0.5/":                "private",
		"http://[fd00::5]/":               "private",
		"http://100.64.1.1/":              "carrier-grade NAT",
		"http://0.0.0.0:8080/":            "unspecified",
		"http://[::]:8080/":               "unspecified",
		"http://224.0.0.1/":               "multicast",
		"http://[::ffff:127.0.0.1]:8080/": "loopback",
		"http://[::ffff:7f00:1]:8080/":    "loopback",
		"https://[64:ff9b::a9fe:a9fe]/":   "link-local",
		"http://2130706433/":              "",
		"http://0x7f.1/":                  "",
	} {
		err := CheckCallbackURL(u, deny)
		if err == nil {
			t.Errorf("%s accepted", u)
			continue
		}
		if !strings.Contains(err.Error(), why) {
			t.Errorf("%s: %v, want the reason to name %q", u, err, why)
		}
	}
	if err := CheckCallbackURL("https://example.com/hook", deny); err != nil {
		t.Errorf("public name refused: %v", err)
	}
	if err := CheckCallbackURL("http://127.0.0.1:8080/hook", CallbackDenyList(nil, prefixes(t, "127.0.0.0/8"))); err != nil {
		t.Errorf("allowed loopback refused: %v", err)
	}
}
