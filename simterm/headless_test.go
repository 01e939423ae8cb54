package simterm

import (
	"bufio"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posgate/posgate"
)

func TestFormatLine(t *testing.T) {
	assert.Equal(t, `screen=idle tid=T1`, FormatLine("T1", Screen{Name: ScreenIdle}))
	assert.Equal(t,
		`screen=approved tid=T1 cmd=c1 trade_id=ab-12 amount=12.50 currency=EUR message="Approved \"ok\""`,
		FormatLine("T1", Screen{Name: ScreenApproved, CommandID: "c1", TradeID: "ab-12", Amount: "12.50", Currency: "EUR", Message: `Approved "ok"`}))
	assert.Equal(t, `screen=amount tid=T1 cmd="a b"`, FormatLine("T1", Screen{Name: ScreenAmount, CommandID: "a b"}))
}

// TestReceiptFor: the simulated card and its receipt follow from the
// amount alone, and every one passes the gateway's receipt check.
func TestReceiptFor(t *testing.T) {
	for amount, want := range map[string]Receipt{
		"10.02": {Brand: "Visa", MaskedPAN: "411111******1111", EntryMode: "contactless", AID: "A0000000031010"},
		"10.00": {Brand: "Mastercard", MaskedPAN: "555555******4444", EntryMode: "chip", AID: "A0000000041010"},
		"12.50": {Brand: "American Express", MaskedPAN: "378282*****0005", EntryMode: "swipe"},
		"1250":  {Brand: "American Express", MaskedPAN: "378282*****0005", EntryMode: "swipe"}, // JPY
	} {
		got := receiptFor(amount, nil)
		assert.Equal(t, got, receiptFor(amount, nil), "deterministic")
		assert.Regexp(t, `^\d{6}$`, got.AuthCode)
		got.AuthCode = ""
		assert.Equal(t, want, got, amount)
		r := receiptFor(amount, nil)
		require.NoError(t, posgate.CheckReceipt(posgate.Receipt{CardBrand: r.Brand, MaskedPAN: r.MaskedPAN,
			EntryMode: posgate.EntryMode(r.EntryMode), AuthCode: r.AuthCode, AID: r.AID}), amount)
	}
	assert.NotEqual(t, receiptFor("10.00", nil).AuthCode, receiptFor("10.03", nil).AuthCode, "the code depends on the amount")
}

// TestReceiptForScriptedCard: the brand and entry mode the control API
// chose are the receipt's, still a valid one.
func TestReceiptForScriptedCard(t *testing.T) {
	for _, tc := range []struct {
		action Action
		want   Receipt
	}{
		{Action{Do: ActionTap, Brand: "amex", EntryMode: "chip"}, Receipt{Brand: "American Express", MaskedPAN: "378282*****0005", EntryMode: "chip", AID: "A000000025010801"}},
		{Action{Do: ActionTap, Brand: "visa", EntryMode: "swipe"}, Receipt{Brand: "Visa", MaskedPAN: "411111******1111", EntryMode: "swipe"}},
		{Action{Do: ActionTap, Brand: "mastercard"}, Receipt{Brand: "Mastercard", MaskedPAN: "555555******4444", EntryMode: "chip", AID: "A0000000041010"}},
		{Action{Do: ActionTap, Brand: "jcb"}, Receipt{Brand: "Jcb", MaskedPAN: "378282*****0005", EntryMode: "swipe"}},
		{Action{Do: ActionTap, EntryMode: "contactless"}, Receipt{Brand: "American Express", MaskedPAN: "378282*****0005", EntryMode: "contactless", AID: "A000000025010801"}},
	} {
		got := receiptFor("12.50", &tc.action)
		require.NoError(t, posgate.CheckReceipt(posgate.Receipt{CardBrand: got.Brand, MaskedPAN: got.MaskedPAN,
			EntryMode: posgate.EntryMode(got.EntryMode), AuthCode: got.AuthCode, AID: got.AID}), "%+v", tc.action)
		got.AuthCode = ""
		assert.Equal(t, tc.want, got, "%+v", tc.action)
	}
}

func TestRunHeadless(t *testing.T) {
	fc := newCloud(t)
	pr, pw := io.Pipe()
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunHeadless(ctx, Config{Server: fc.srv.URL, TID: testTID, Secret: testSecret, CardDelay: time.Millisecond}, pw)
		pw.Close()
	}()
	next := func(prefix string) string {
		t.Helper()
		timeout := time.After(wait)
		for {
			select {
			case l, ok := <-lines:
				require.True(t, ok, "output ended before %q", prefix)
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-timeout:
				t.Fatalf("no line starting with %q", prefix)
			}
		}
	}
	assert.Equal(t, "screen=offline tid="+testTID, next("screen=offline"))
	next("screen=idle")
	fc.next(t).send(t, sale("c1", "12.50"))
	assert.Equal(t, `screen=amount tid=T125119061 cmd=c1 trade_id=trade-c1 amount=12.50 currency=EUR message="Coffee"`, next("screen=amount"))
	next("screen=card_read")
	next("screen=authorising")
	assert.Equal(t, `screen=approved tid=T125119061 cmd=c1 trade_id=trade-c1 amount=12.50 currency=EUR card_brand="American Express" card_masked_pan=378282*****0005 card_entry_mode=swipe card_auth_code=`+
		receiptFor("12.50", nil).AuthCode+` message="Approved"`, next("screen=approved"))
	cancel()
	assert.Equal(t, "screen=offline tid="+testTID, next("screen=offline"))
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(wait):
		t.Fatal("RunHeadless did not return")
	}
}

func TestDocsListMagicAmounts(t *testing.T) {
	doc, err := os.ReadFile("../docs/simulator.md")
	require.NoError(t, err)
	rows := 0
	for _, line := range strings.Split(string(doc), "\n") {
		amount, rest, ok := strings.Cut(strings.TrimPrefix(line, "| `"), "` |")
		if m, known := magicAmounts[amount]; ok && strings.HasPrefix(line, "| `") && known {
			rows++
			assert.Contains(t, rest, m.described, amount)
			assert.Equal(t, m.payments, strings.Contains(rest, "sale, authorisation"), amount)
		}
	}
	assert.Equal(t, len(magicAmounts), rows, "one docs row per magic amount")
}
