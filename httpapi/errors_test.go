package httpapi

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"testing"

	"github.com/posgate/posgate"
	"github.com/posgate/posgate/protocol"
)

// TestEveryDomainErrorMapped checks that each domain error answers with
// its protocol code, or deliberately with -5000 (an error no caller can
// cause or act on), and that a new domain error cannot be added without
// deciding which.
func TestEveryDomainErrorMapped(t *testing.T) {
	want := map[error]protocol.Code{
		posgate.ErrDuplicateRequest:  protocol.CodeDuplicateRequest,
		posgate.ErrInvalid:           protocol.CodeInvalidField,
		posgate.ErrTradeNotFound:     protocol.CodeTradeNotFound,
		posgate.ErrAlreadyCancelled:  protocol.CodeAlreadyCancelled,
		posgate.ErrExpired:           protocol.CodeExpired,
		posgate.ErrNotCancellable:    protocol.CodeNotCancellable,
		posgate.ErrReversalInFlight:  protocol.CodeNotCancellable,
		posgate.ErrCleared:           protocol.CodeCleared,
		posgate.ErrCancelWindow:      protocol.CodeCancelWindow,
		posgate.ErrTerminalOffline:   protocol.CodeTerminalOffline,
		posgate.ErrTerminalBusy:      protocol.CodeTerminalBusy,
		posgate.ErrTerminalTimeout:   protocol.CodeTerminalTimeout,
		posgate.ErrTerminalDeclined:  protocol.CodeTerminalDeclined,
		posgate.ErrRefundNotAllowed:  protocol.CodeRefundNotAllowed,
		posgate.ErrCaptureNotAllowed: protocol.CodeCaptureRefused,
		posgate.ErrAlreadyCaptured:   protocol.CodeCaptureRefused,
		posgate.ErrAcquirerDeclined:  protocol.CodeAcquirerDeclined,
		posgate.ErrAcquirerUnknown:   protocol.CodeAcquirerUnknown,
		// Deliberately internal: the service turns the cases a caller can
		// cause into the errors above, so these reaching the API are faults.
		posgate.ErrNotFound:  protocol.CodeInternal,
		posgate.ErrConflict:  protocol.CodeInternal,
		posgate.ErrDuplicate: protocol.CodeInternal,
		posgate.ErrNoOutbox:  protocol.CodeInternal,
	}
	for err, code := range want {
		for _, e := range []error{err, fmt.Errorf("wrapped: %w", err), posgate.Refuse(err, "a rule's message")} {
			if got, _ := codeOf(e); got != code {
				t.Errorf("%v answers %s, want %s", e, got, code)
			}
		}
		if got, msg := codeOf(posgate.Refuse(err, "a rule's message")); got != protocol.CodeInternal && msg != "a rule's message" {
			t.Errorf("%v: the rule's message is lost: %q", err, msg)
		}
	}
	if n := countDomainErrors(t); n != len(want) {
		t.Errorf("errors.go declares %d domain errors and this test classifies %d: decide the code of the new one here", n, len(want))
	}
}

func countDomainErrors(t *testing.T) int {
	f, err := parser.ParseFile(token.NewFileSet(), "../errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, s := range g.Specs {
			for _, name := range s.(*ast.ValueSpec).Names {
				if name.IsExported() && len(name.Name) > 3 && name.Name[:3] == "Err" {
					n++
				}
			}
		}
	}
	return n
}
