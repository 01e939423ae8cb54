// Package termproto is the terminal link's wire format (version 1): JSON
// text frames over one WebSocket per terminal. docs/terminal-protocol.md
// is the vendor-facing description; this package is its reference. It
// depends on the standard library and the protocol package only.
package termproto

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/posgate/posgate/protocol"
)

// Version is the protocol version this package speaks.
const Version = 1

// Subprotocol is the WebSocket subprotocol name terminals ask for.
const Subprotocol = "posgate.terminal.v1"

// Path is the HTTP path of the terminal endpoint.
const Path = "/terminal/v1/connect"

// Frame types.
const (
	TypeHello        = "hello"         // terminal → cloud, first frame
	TypeWelcome      = "welcome"       // cloud → terminal, after a good hello
	TypeHeartbeat    = "heartbeat"     // terminal → cloud, every heartbeat interval
	TypeHeartbeatAck = "heartbeat_ack" // cloud → terminal
	TypeCommand      = "command"       // cloud → terminal
	TypeAbort        = "abort"         // cloud → terminal: stop a command in flight
	TypeProgress     = "progress"      // terminal → cloud
	TypeResult       = "result"        // terminal → cloud, one final result per command
	TypeAck          = "ack"           // cloud → terminal: result durably applied
	TypeError        = "error"         // cloud → terminal, before the cloud closes
	// TypeReconnect tells the terminal that the cloud (one gateway of
	// several, or one about to restart) closes the connection now and
	// wants it back after AfterMS, possibly on another gateway. The delay
	// spreads a gateway's terminals over time so that the others are not
	// stormed.
	TypeReconnect = "reconnect" // cloud → terminal, then close 4005
)

// Command kinds (cloud → terminal).
const (
	KindSale          = "sale"
	KindAuthorisation = "authorisation"
	KindReversal      = "reversal"
)

// Progress stages a terminal reports. A terminal may skip stages; the cloud
// records every one it receives.
const (
	StageReceived          = "received"           // command arrived
	StageOnScreen          = "on_screen"          // amount shown to the customer
	StageWaitingForCard    = "waiting_for_card"   // "tap, insert or swipe card"
	StageCardRead          = "card_read"          // card presented
	StageAuthorising       = "authorising"        // talking to the acquirer
	StageReversalRequested = "reversal_requested" // reversal shown to the operator
	StageProcessing        = "processing"         // reversal sent to the acquirer
	StageApproved          = "approved"
	StageDeclined          = "declined"
	StageCancelled         = "cancelled"
)

// Outcomes of a result frame.
const (
	OutcomeApproved  = "approved"
	OutcomeDeclined  = "declined"
	OutcomeFailed    = "failed"
	OutcomeCancelled = "cancelled"
	OutcomeExpired   = "expired"
	// OutcomeInterrupted: the terminal restarted before the acquirer
	// answered and did not charge the card. The cloud treats it like
	// failed.
	OutcomeInterrupted = "interrupted"
)

// Entry modes of a result's card_entry_mode.
const (
	EntryContactless = "contactless"
	EntryChip        = "chip"
	EntrySwipe       = "swipe"
)

// Abort reasons.
const (
	AbortCancelled = "cancelled" // v3.POSCancel or a silent cancel
	AbortExpired   = "expired"   // the order's timeout passed
)

// WebSocket close codes the cloud uses.
const (
	CloseAuthFailed = 4001 // bad hello: unknown TID, bad signature, stale time, reused nonce
	CloseReplaced   = 4002 // a newer connection for the same TID took over
	CloseTimeout    = 4003 // no frame within two heartbeat intervals
	CloseProtocol   = 4004 // malformed frame or wrong order
	CloseShutdown   = 4005 // the cloud is shutting down: reconnect
)

// Frame is every frame type in one struct; Type says which fields apply.
// Times are Unix milliseconds.
type Frame struct {
	Type string `json:"type"`

	// hello
	TID     string `json:"tid,omitempty"`
	Time    int64  `json:"time,omitempty"` // Unix seconds, signed
	Nonce   string `json:"nonce,omitempty"`
	Sign    string `json:"sign,omitempty"`
	Version int    `json:"version,omitempty"`
	Client  string `json:"client,omitempty"`

	// welcome
	HeartbeatMS int64 `json:"heartbeat_ms,omitempty"`
	ServerTime  int64 `json:"server_time,omitempty"`

	// heartbeat, heartbeat_ack
	Seq int64 `json:"seq,omitempty"`

	// command, abort, progress, result, ack
	ID string `json:"id,omitempty"`

	// command
	Kind        string `json:"kind,omitempty"`
	TradeID     string `json:"trade_id,omitempty"`
	OrderID     string `json:"order_id,omitempty"`
	Amount      string `json:"amount,omitempty"` // major units, the currency's minor digits
	TipAmount   string `json:"tip_amount,omitempty"`
	Currency    string `json:"currency,omitempty"`
	Description string `json:"description,omitempty"`
	// TimeoutMS is how long the terminal waits for a card before it gives
	// up on its own with outcome expired.
	TimeoutMS int64 `json:"timeout_ms,omitempty"`

	// abort
	Reason string `json:"reason,omitempty"`

	// progress
	Stage string `json:"stage,omitempty"`

	// result
	Outcome       string `json:"outcome,omitempty"`
	TransactionID string `json:"transaction_id,omitempty"`
	// Receipt data of a result, all optional (docs/terminal-protocol.md,
	// "Receipt data"): never a full card number.
	CardBrand     string `json:"card_brand,omitempty"`
	CardMaskedPAN string `json:"card_masked_pan,omitempty"`
	CardEntryMode string `json:"card_entry_mode,omitempty"`
	CardAuthCode  string `json:"card_auth_code,omitempty"`
	CardAID       string `json:"card_aid,omitempty"`

	// progress, result, error
	Message string `json:"message,omitempty"`
	At      int64  `json:"at,omitempty"`

	// error
	Code string `json:"code,omitempty"`

	// reconnect: how long to wait before dialling again, in milliseconds;
	// 0 (omitted) means at once.
	AfterMS int64 `json:"after_ms,omitempty"`
}

// MaxReconnectAfter bounds a reconnect frame's after_ms: a terminal told
// to stay away longer is more likely facing a broken cloud than a plan.
const MaxReconnectAfter = 10 * 60 * 1000

// MaxFrameBytes bounds a frame; larger ones close the connection.
const MaxFrameBytes = 16 << 10

// Codes of error frames, the API's codes for the same causes.
const (
	ErrorAuthFailed = "-1001" // hello refused; close 4001 follows
	ErrorProtocol   = "-1005" // malformed frame or wrong order; close 4004 follows
	ErrorInternal   = "-5000" // the cloud could not record what it got; close 1011 follows, reconnect and re-send
)

// CloseInternal is the standard WebSocket close code 1011 the cloud uses
// with ErrorInternal.
const CloseInternal = 1011

// CloseInvalidData is the standard WebSocket close code 1007 (RFC 6455
// section 7.4.1): a text message that is not valid UTF-8. The cloud sends
// it after an ErrorProtocol frame.
const CloseInvalidData = 1007

// CloseMessageTooBig is the standard WebSocket close code 1009: a message
// over MaxFrameBytes.
const CloseMessageTooBig = 1009

// Encode marshals a frame without HTML escaping (which would grow '<', '>'
// and '&' to six bytes each) and refuses one Decode would reject for size.
func Encode(f Frame) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	out := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	if len(out) > MaxFrameBytes {
		return nil, fmt.Errorf("frame of %d bytes exceeds %d", len(out), MaxFrameBytes)
	}
	return out, nil
}

// Decode parses and validates one frame: a JSON object with a known type
// and the fields that type requires.
func Decode(b []byte) (Frame, error) {
	var f Frame
	if len(b) > MaxFrameBytes {
		return f, fmt.Errorf("frame of %d bytes exceeds %d", len(b), MaxFrameBytes)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return Frame{}, fmt.Errorf("frame is not a JSON object of the frame shape: %w", err)
	}
	if f.Type == TypeResult || f.Type == TypeProgress {
		// Before Validate, whose errors quote field values: the error
		// must not carry the card number into the logs.
		if err := refusePAN(b); err != nil {
			return Frame{}, fmt.Errorf("%s frame refused: %w", f.Type, err)
		}
	}
	return f, f.Validate()
}

// Validate checks that f has the fields its type requires.
func (f Frame) Validate() error {
	need := func(name, v string) error {
		if v == "" {
			return fmt.Errorf("%s frame without %s", f.Type, name)
		}
		return nil
	}
	switch f.Type {
	case TypeHello:
		for _, p := range [][2]string{{"tid", f.TID}, {"nonce", f.Nonce}, {"sign", f.Sign}} {
			if err := need(p[0], p[1]); err != nil {
				return err
			}
		}
		if f.Time <= 0 {
			return fmt.Errorf("hello frame without time")
		}
		if len(f.Nonce) < 16 || len(f.Nonce) > 64 {
			return fmt.Errorf("hello nonce must be 16 to 64 characters")
		}
	case TypeWelcome, TypeHeartbeat, TypeHeartbeatAck:
	case TypeCommand:
		if err := need("id", f.ID); err != nil {
			return err
		}
		switch f.Kind {
		case KindSale, KindAuthorisation, KindReversal:
		default:
			return fmt.Errorf("command frame with unknown kind %q", f.Kind)
		}
	case TypeAbort, TypeAck:
		return need("id", f.ID)
	case TypeProgress:
		if err := need("id", f.ID); err != nil {
			return err
		}
		return need("stage", f.Stage)
	case TypeResult:
		if err := need("id", f.ID); err != nil {
			return err
		}
		switch f.Outcome {
		case OutcomeApproved, OutcomeDeclined, OutcomeFailed, OutcomeCancelled, OutcomeExpired, OutcomeInterrupted:
		default:
			return fmt.Errorf("result frame with unknown outcome %q", f.Outcome)
		}
		switch f.CardEntryMode {
		case "", EntryContactless, EntryChip, EntrySwipe:
		default:
			return fmt.Errorf("result frame with unknown card_entry_mode %q", f.CardEntryMode)
		}
		if f.CardAID != "" && !registeredAID(f.CardAID) {
			return fmt.Errorf("result frame with card_aid that is not hex starting with A or D")
		}
	case TypeError:
	case TypeReconnect:
		if f.AfterMS < 0 || f.AfterMS > MaxReconnectAfter {
			return fmt.Errorf("reconnect frame with after_ms %d outside 0 to %d", f.AfterMS, MaxReconnectAfter)
		}
	default:
		return fmt.Errorf("unknown frame type %q", f.Type)
	}
	return nil
}

// HelloStringToSign is what a hello's sign covers, by the API's rules:
// nonce, tid, time, type and version, sorted, joined with '&'.
func HelloStringToSign(tid string, unixTime int64, nonce string, version int) string {
	return protocol.StringToSign(map[string]string{
		"nonce":   nonce,
		"tid":     tid,
		"time":    strconv.FormatInt(unixTime, 10),
		"type":    TypeHello,
		"version": strconv.Itoa(version),
	})
}

// SignHello signs a hello with the terminal's secret_key (hex text).
func SignHello(secret, tid string, unixTime int64, nonce string, version int) string {
	return protocol.Sign(secret, HelloStringToSign(tid, unixTime, nonce, version))
}
