package notify

import "net/netip"

// special is one range a notification may not reach.
type special struct {
	prefix netip.Prefix
	why    string // completes "<address> is ..."
}

func refuse(prefix, why string) special {
	return special{netip.MustParsePrefix(prefix), why}
}

// specialRanges holds every entry of the IANA IPv4 and IPv6 Special-Purpose
// Address Registries (RFC 6890), plus multicast and the deprecated forms
// the registries dropped but stacks still route. Ranges the registry marks
// "globally reachable" (AS112, AMT, the anycast services) are refused too:
// none is a merchant's web server, so a URL naming one is a probe.
//
// Narrower entries come before the ranges that hold them, so the reason
// given is the most precise one.
var specialRanges = []special{
	// IPv4 (iana.org/assignments/iana-ipv4-special-registry).
	refuse("0.0.0.0/8", `an unspecified address ("this network", RFC 791 and RFC 1122)`),
	refuse("10.0.0.0/8", "a private address (RFC 1918)"),
	refuse("100.64.0.0/10", "a carrier-grade NAT address (shared address space, RFC 6598)"),
	refuse("127.0.0.0/8", "a loopback address (RFC 1122)"),
	refuse("169.254.169.254/32", "a cloud metadata address (link-local, RFC 3927)"),
	refuse("169.254.0.0/16", "a link-local address (RFC 3927)"),
	refuse("172.16.0.0/12", "a private address (RFC 1918)"),
	// 192.0.0.0/24 holds DS-Lite (192.0.0.0/29, RFC 7335), the dummy
	// address (192.0.0.8, RFC 7600), PCP and TURN anycast (192.0.0.9 and
	// .10, RFC 7723 and RFC 8155) and NAT64 discovery (192.0.0.170 and
	// .171, RFC 8880).
	refuse("192.0.0.0/24", "an IETF protocol assignment (RFC 6890)"),
	refuse("192.0.2.0/24", "a documentation address (TEST-NET-1, RFC 5737)"),
	refuse("192.31.196.0/24", "an AS112 address (RFC 7535)"),
	refuse("192.52.193.0/24", "an AMT address (RFC 7450)"),
	refuse("192.88.99.0/24", "a 6to4 relay anycast address (deprecated, RFC 7526)"),
	refuse("192.168.0.0/16", "a private address (RFC 1918)"),
	refuse("192.175.48.0/24", "an AS112 direct delegation address (RFC 7534)"),
	refuse("198.18.0.0/15", "a benchmarking address (RFC 2544)"),
	refuse("198.51.100.0/24", "a documentation address (TEST-NET-2, RFC 5737)"),
	refuse("203.0.113.0/24", "a documentation address (TEST-NET-3, RFC 5737)"),
	refuse("224.0.0.0/24", "a link-local address (local network control multicast, RFC 5771)"),
	refuse("224.0.0.0/4", "a multicast address (RFC 5771)"),
	refuse("255.255.255.255/32", "the limited broadcast address (RFC 8190, RFC 919)"),
	refuse("240.0.0.0/4", "a reserved address (RFC 1112)"),

	// IPv6 (iana.org/assignments/iana-ipv6-special-registry).
	refuse("::/128", "an unspecified address (RFC 4291)"),
	refuse("::1/128", "a loopback address (RFC 4291)"),
	// IPv4-compatible addresses are deprecated (RFC 4291 section 2.5.5.1)
	// and routed as the IPv4 they embed where still supported.
	refuse("::/96", "an IPv4-compatible address (deprecated, RFC 4291)"),
	refuse("64:ff9b:1::/48", "a local-use NAT64 address (RFC 8215)"),
	refuse("100::/64", "a discard-only address (RFC 6666)"),
	refuse("100:0:0:1::/64", "a dummy address (RFC 9780)"),
	refuse("2001::/32", "a Teredo address (RFC 4380)"),
	refuse("2001:2::/48", "a benchmarking address (RFC 5180)"),
	refuse("2001:3::/32", "an AMT address (RFC 7450)"),
	refuse("2001:4:112::/48", "an AS112 address (RFC 7535)"),
	refuse("2001:10::/28", "an ORCHID address (deprecated, RFC 4843)"),
	refuse("2001:20::/28", "an ORCHIDv2 address (RFC 7343)"),
	refuse("2001:30::/28", "a drone remote ID address (RFC 9374)"),
	refuse("2001::/23", "an IETF protocol assignment (RFC 2928)"),
	refuse("2001:db8::/32", "a documentation address (RFC 3849)"),
	refuse("2002::/16", "a 6to4 address (RFC 3056)"),
	refuse("2620:4f:8000::/48", "an AS112 direct delegation address (RFC 7534)"),
	refuse("3fff::/20", "a documentation address (RFC 9637)"),
	refuse("5f00::/16", "a segment routing address (SRv6 SIDs, RFC 9602)"),
	refuse("fd00:ec2::254/128", "a cloud metadata address (unique-local, RFC 4193)"),
	refuse("fc00::/7", "a private address (unique-local, RFC 4193)"),
	refuse("fe80::/10", "a link-local address (RFC 4291)"),
	// Site-local was deprecated (RFC 3879) but old stacks still route it
	// inside the site.
	refuse("fec0::/10", "a site-local address (deprecated, RFC 3879)"),
	refuse("ff00::/8", "a multicast address (RFC 4291)"),
}

// nat64 is the well-known NAT64 prefix (RFC 6052): a translator sends
// 64:ff9b::a.b.c.d to the IPv4 address a.b.c.d, and DNS64 synthesises
// such addresses for merchants that have only an IPv4 address. So the
// embedded IPv4 is checked rather than the whole prefix refused: an
// IPv6-only gateway still reaches those merchants, and 64:ff9b::a00:5
// (10.0.0.5) is refused as the private address it reaches.
//
// The other forms that embed IPv4 are refused whole: 64:ff9b:1::/48 puts
// the IPv4 at a position only the local network knows, and 6to4, Teredo
// and IPv4-compatible addresses are deprecated transition mechanisms that
// no merchant endpoint needs.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// globalUnicast is the only IPv6 space IANA allocates for global unicast
// (RFC 4291 section 2.4, the IANA IPv6 Address Space registry); the rest is
// reserved, and nothing there is a merchant's web server.
var globalUnicast = netip.MustParsePrefix("2000::/3")

// Refused says why a notification may not go to addr ("" when it may):
// every special-purpose address (specialRanges) and IPv6 outside global
// unicast. An IPv4-mapped address
// (::ffff:0:0/96, RFC 4291) is sent by the kernel as IPv4, so it is
// checked as the IPv4 address it maps.
func Refused(addr netip.Addr) string {
	addr = addr.WithZone("").Unmap()
	if nat64.Contains(addr) {
		b := addr.As16()
		v4 := netip.AddrFrom4([4]byte(b[12:]))
		if why := Refused(v4); why != "" {
			return "a NAT64 address (RFC 6052) of " + v4.String() + ", " + why
		}
		return ""
	}
	for _, s := range specialRanges {
		if s.prefix.Contains(addr) {
			return s.why
		}
	}
	if addr.Is6() && !globalUnicast.Contains(addr) {
		return "a reserved address (outside global unicast 2000::/3, RFC 4291)"
	}
	return ""
}
