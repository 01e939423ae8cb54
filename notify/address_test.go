package notify

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
)

// TestRefused has one case per special-purpose range: an address inside,
// with the start of its reason, and where the range has a public
// neighbour, the address just outside it.
func TestRefused(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, inside, why, outside string
	}{
		// IPv4.
		{"this network", "0.1.2.3", "an unspecified address", ""},
		{"this host", "0.0.0.0", "an unspecified address", ""},
		{"private 10/8", "10.255.255.255", "a private address", "11.0.0.0"},
		{"shared address space", "100.64.0.1", "a carrier-grade NAT address", "100.128.0.0"},
		{"shared address space, low end", "100.127.255.255", "a carrier-grade NAT address", "100.63.255.255"},
		{"loopback", "127.0.0.1", "a loopback address", "128.0.0.0"},
		{"cloud metadata", "169.254.169.254", "a cloud metadata address", ""},
		{"link-local", "169.254.1.1", "a link-local address", "169.255.0.0"},
		{"private 172.16/12", "172.31.255.255", "a private address", "172.32.0.0"},
		{"IETF protocol assignments", "192.0.0.1", "an IETF protocol assignment", "192.0.1.0"},
		{"NAT64 discovery", "192.0.0.170", "an IETF protocol assignment", ""},
		{"TEST-NET-1", "192.0.2.1", "a documentation address", "192.0.3.0"},
		{"AS112-v4", "192.31.196.1", "an AS112 address", "192.31.197.0"},
		{"AMT", "192.52.193.1", "an AMT address", "192.52.194.0"},
		{"6to4 relay anycast", "192.88.99.1", "a 6to4 relay anycast address", "192.88.100.0"},
		{"private 192.168/16", "192.168.1.1", "a private address", "192.169.0.0"},
		{"AS112 direct delegation", "192.175.48.1", "an AS112 direct delegation address", "192.175.49.0"},
		{"benchmarking", "198.19.255.255", "a benchmarking address", "198.20.0.0"},
		{"benchmarking, low end", "198.18.0.0", "a benchmarking address", "198.17.255.255"},
		{"TEST-NET-2", "198.51.100.1", "a documentation address", "198.51.101.0"},
		{"TEST-NET-3", "203.0.113.1", "a documentation address", "203.0.114.0"},
		{"local network control multicast", "224.0.0.1", "a link-local address", ""},
		{"multicast", "239.1.2.3", "a multicast address", "223.255.255.255"},
		{"reserved", "240.0.0.1", "a reserved address", ""},
		{"limited broadcast", "255.255.255.255", "the limited broadcast address", ""},

		// IPv6.
		{"unspecified", "::", "an unspecified address", ""},
		{"loopback v6", "::1", "a loopback address", ""},
		{"IPv4-compatible", "::93.184.216.34", "an IPv4-compatible address", ""},
		{"IPv4-mapped loopback", "::ffff:127.0.0.1", "a loopback address", "::ffff:93.184.216.34"},
		{"IPv4-mapped benchmarking", "::ffff:198.18.0.1", "a benchmarking address", ""},
		{"NAT64 of a private address", "64:ff9b::a00:5", "a NAT64 address (RFC 6052) of 10.0.0.5, a private address", "64:ff9b::5db8:d822"},
		{"NAT64 of loopback", "64:ff9b::7f00:1", "a NAT64 address (RFC 6052) of 127.0.0.1, a loopback address", ""},
		{"NAT64 of reserved", "64:ff9b::f000:1", "a NAT64 address (RFC 6052) of 240.0.0.1, a reserved address", ""},
		{"local-use NAT64", "64:ff9b:1::5db8:d822", "a local-use NAT64 address", ""},
		{"discard-only", "100::1", "a discard-only address", ""},
		{"dummy prefix", "100:0:0:1::1", "a dummy address", ""},
		{"Teredo", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "a Teredo address", ""},
		{"PCP anycast", "2001:1::1", "an IETF protocol assignment", ""},
		{"benchmarking v6", "2001:2::1", "a benchmarking address", ""},
		{"AMT v6", "2001:3::1", "an AMT address", ""},
		{"AS112-v6", "2001:4:112::1", "an AS112 address", ""},
		{"ORCHID", "2001:10::1", "an ORCHID address", ""},
		{"ORCHIDv2", "2001:20::1", "an ORCHIDv2 address", ""},
		{"drone remote ID", "2001:30::1", "a drone remote ID address", ""},
		{"IETF protocol assignments v6", "2001:1ff::1", "an IETF protocol assignment", "2001:200::1"},
		{"documentation v6", "2001:db8::1", "a documentation address", "2001:db9::1"},
		{"6to4", "2002:a00:5::1", "a 6to4 address", "2003::1"},
		{"AS112 direct delegation v6", "2620:4f:8000::1", "an AS112 direct delegation address", "2620:4f:8001::1"},
		{"documentation v6 3fff", "3fff:fff::1", "a documentation address", "3fff:1000::1"},
		{"SRv6 SIDs", "5f00::1", "a segment routing address", ""},
		{"cloud metadata v6", "fd00:ec2::254", "a cloud metadata address", ""},
		{"unique-local", "fd12::1", "a private address", ""},
		{"unique-local, low end", "fc00::1", "a private address", ""},
		{"link-local v6", "fe80::1", "a link-local address", ""},
		{"link-local v6 with zone", "fe80::1%eth0", "a link-local address", ""},
		{"site-local", "fec0::1", "a site-local address", ""},
		{"reserved v6, below global unicast", "1fff::1", "a reserved address", "2000::1"},
		{"reserved v6, above global unicast", "4000::1", "a reserved address", "3fff:ffff::1"},
		{"multicast v6", "ff02::1", "a multicast address", ""},
	} {
		why := Refused(netip.MustParseAddr(c.inside))
		require.True(t, strings.HasPrefix(why, c.why), "%s: %s is %q, want %q", c.name, c.inside, why, c.why)
		if c.outside != "" {
			require.Empty(t, Refused(netip.MustParseAddr(c.outside)), "%s: %s is public", c.name, c.outside)
		}
	}
	for _, public := range []string{"93.184.216.34", "1.1.1.1", "2606:2800:220:1::1", "2a00:1450:4001:82a::200e"} {
		require.Empty(t, Refused(netip.MustParseAddr(public)), public)
	}
}

// TestRefusedAtDial sends to a name that resolves to loopback: the check
// runs on the address dialled, after resolution, so a name cannot smuggle
// an inner address past it (DNS rebinding) and the endpoint never sees a
// request.
func TestRefusedAtDial(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	n := posgate.Notification{ID: "n1", NotifyURL: "http://localhost:" + port + "/notify"}

	err = NewSender(false).Send(context.Background(), "secret", n, time.Now())
	require.ErrorContains(t, err, "is a loopback address")
	require.NotContains(t, err.Error(), "/notify", "the URL may carry a token")
	require.Zero(t, hits.Load())

	require.NoError(t, NewSender(true).Send(context.Background(), "secret", n, time.Now()), "AllowPrivate lifts the check")
	require.EqualValues(t, 1, hits.Load())
}
