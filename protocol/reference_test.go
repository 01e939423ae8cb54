package protocol

import "testing"

// TestReferenceStringsToSign: the sign examples of the reference's
// capture, decrement and export pages (§4.8-4.10) come out byte for byte
// from their requests. Their signatures need YabandPay's unpublished test
// secret, so only the strings are checked.
func TestReferenceStringsToSign(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"user":"016683","sign":"8deca1b49314bfa8877e2c908ac7bbb95b4c4ec3629927177f7e86cf1cc7d6ea","method":"v3.TimePayOrder","time":1546588959,
			"data":{"start_time":"1569894340","end_time":"1573523141"}}`,
			"end_time=1573523141&method=v3.TimePayOrder&start_time=1569894340&time=1546588959&user=016683"},
		{`{"user":"016683","sign":"6aea50e6a1c79d38b3398d32524deb17a38e8f2c84ac08cdbf147b47a78e01d2","method":"v3.Capture","time":1720684254,
			"data":{"trade_id":"160899f3-f6d9-a8d8-ab5b-82eacdab9c5b","amount":"1","currency":"EUR","description":"test",
			"notify_url":"https://www.yabandpay.com/notify","request_id":"ca51f2fas3i0f8uiw7efj6oe4i2w1ghj"}}`,
			"amount=1&currency=EUR&description=test&method=v3.Capture&notify_url=https://www.yabandpay.com/notify&request_id=ca51f2fas3i0f8uiw7efj6oe4i2w1ghj&time=1720684254&trade_id=160899f3-f6d9-a8d8-ab5b-82eacdab9c5b&user=016683"},
		{`{"user":"016683","sign":"17e307c0230854e96e56a1e1ab7abf90582f50dc3a7186614dd4082ba8055650","method":"v3.PreauthDecrement","time":1774246236,
			"data":{"trade_id":"9222e0e1-6ef5-639f-3692-90f1e2a33e68","amount":"0.1","currency":"EUR","description":"test",
			"notify_url":"https://www.yabandpay.com/notify","request_id":"skc5vtsovtetqe09us0jdrqm1vjdeaki"}}`,
			"amount=0.1&currency=EUR&description=test&method=v3.PreauthDecrement&notify_url=https://www.yabandpay.com/notify&request_id=skc5vtsovtetqe09us0jdrqm1vjdeaki&time=1774246236&trade_id=9222e0e1-6ef5-639f-3692-90f1e2a33e68&user=016683"},
	} {
		r, err := DecodeRequest([]byte(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if got := r.StringToSign(); got != tc.want {
			t.Errorf("string to sign\n got %s\nwant %s", got, tc.want)
		}
	}
}
