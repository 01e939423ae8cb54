package protocol

// Code is a result code as it appears on the wire: always a JSON string.
type Code string

// The seed's codes keep their meaning exactly; the others are posgate's own
// (docs: README "Error codes").
const (
	CodeOK               Code = "200"
	CodeAuthFailed       Code = "-1001"
	CodeTimeWindow       Code = "-1003"
	CodeUnknownMethod    Code = "-1004"
	CodeBadEnvelope      Code = "-1005"
	CodeRateLimited      Code = "-1006"
	CodeMissingField     Code = "-3001"
	CodeDuplicateRequest Code = "-3002"
	CodeInvalidField     Code = "-3003"
	CodeTIDMismatch      Code = "-3004"
	CodeCancelWindow     Code = "-4111"
	CodeCleared          Code = "-4112"
	CodeTradeNotFound    Code = "-4114"
	CodeNotCancellable   Code = "-4115"
	CodeAlreadyCancelled Code = "-4116"
	CodeExpired          Code = "-4117"
	CodeTerminalOffline  Code = "-4201"
	CodeTerminalBusy     Code = "-4202"
	CodeTerminalTimeout  Code = "-4203"
	CodeTerminalDeclined Code = "-4204"
	CodeRefundNotAllowed Code = "-4301"
	CodeCaptureRefused   Code = "-4302"
	CodeAcquirerDeclined Code = "-4303"
	CodeAcquirerUnknown  Code = "-4304"
	CodeInternal         Code = "-5000"
)

// codeMessages is the one table of codes and their default English text.
var codeMessages = map[Code]string{
	CodeOK:               "",
	CodeAuthFailed:       "Authentication failed",
	CodeTimeWindow:       "Request time is outside the allowed window",
	CodeUnknownMethod:    "Unknown method",
	CodeBadEnvelope:      "Body is not a valid request envelope",
	CodeRateLimited:      "Too many requests; retry after the seconds in the Retry-After header",
	CodeMissingField:     "Required field is missing",
	CodeDuplicateRequest: "duplicate request_id",
	CodeInvalidField:     "Invalid field value",
	CodeTIDMismatch:      "tid does not match user",
	CodeCancelWindow:     "Exceed cancel window",
	CodeCleared:          "The transaction has been cleared cannot be cancelled",
	CodeTradeNotFound:    "The trade_id does not exist",
	CodeNotCancellable:   "The transaction cannot be cancelled",
	CodeAlreadyCancelled: "The transaction has been cancelled",
	CodeExpired:          "The transaction has been Expired",
	CodeTerminalOffline:  "Terminal offline",
	CodeTerminalBusy:     "Terminal busy with another command",
	CodeTerminalTimeout:  "The terminal has not answered in time; the outcome will follow by notification and v3.QueryOrder",
	CodeTerminalDeclined: "Declined or aborted on the terminal",
	CodeRefundNotAllowed: "Refund not allowed",
	CodeCaptureRefused:   "Capture not allowed",
	CodeAcquirerDeclined: "Declined by the acquirer",
	CodeAcquirerUnknown:  "The acquirer's outcome is unknown; please contact support",
	CodeInternal:         "Internal error",
}

// Message returns the code's default English text.
func (c Code) Message() string { return codeMessages[c] }

// Known reports whether c is one of the codes posgate answers with.
func (c Code) Known() bool { _, ok := codeMessages[c]; return ok }

// Codes lists every code posgate answers with.
func Codes() []Code {
	out := make([]Code, 0, len(codeMessages))
	for c := range codeMessages {
		out = append(out, c)
	}
	return out
}
