package notify

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRefused(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		"127.0.0.1":          "a loopback address",
		"::1":                "a loopback address",
		"::ffff:127.0.0.1":   "a loopback address",
		"10.1.2.3":           "a private address",
		"172.16.0.1":         "a private address",
		"192.168.1.1":        "a private address",
		"fd12::1":            "a private address",
		"169.254.169.254":    "a cloud metadata address",
		"fd00:ec2::254":      "a cloud metadata address",
		"169.254.1.1":        "a link-local address",
		"fe80::1":            "a link-local address",
		"100.64.0.1":         "a carrier-grade NAT address",
		"0.0.0.0":            "an unspecified address",
		"0.1.2.3":            "an unspecified address",
		"::":                 "an unspecified address",
		"224.0.0.1":          "a link-local address",
		"239.1.2.3":          "a multicast address",
		"93.184.216.34":      "",
		"2606:2800:220:1::1": "",
		"100.128.0.1":        "",
	} {
		require.Equal(t, want, Refused(netip.MustParseAddr(addr)), addr)
	}
}
