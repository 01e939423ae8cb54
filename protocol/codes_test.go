package protocol

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strconv"
	"testing"
)

// declaredCodes reads the Code constants from the source, so a constant
// added without a table entry (or the reverse) fails the tests below.
func declaredCodes(t *testing.T) map[string]Code {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "codes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Code{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if typ, ok := vs.Type.(*ast.Ident); !ok || typ.Name != "Code" {
				continue
			}
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("%s: value is not a string literal", name.Name)
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				out[name.Name] = Code(v)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no Code constants found in codes.go")
	}
	return out
}

func TestCodeTable(t *testing.T) {
	declared := declaredCodes(t)
	shape := regexp.MustCompile(`^-[1-9][0-9]{3}$`)
	byValue := map[Code]string{}
	for name, c := range declared {
		if prev, dup := byValue[c]; dup {
			t.Errorf("%s and %s share code %s", prev, name, c)
		}
		byValue[c] = name
		if !c.Known() {
			t.Errorf("%s (%s) is not Known", name, c)
		}
		if c == CodeOK {
			if c.Message() != "" {
				t.Errorf("200 has message %q; success carries an empty message", c.Message())
			}
		} else if c.Message() == "" {
			t.Errorf("%s (%s) has no message", name, c)
		}
		if c != CodeOK && !shape.MatchString(string(c)) {
			t.Errorf("%s = %q: not a negative four-digit code", name, c)
		}
	}
	codes := Codes()
	if len(codes) != len(declared) {
		t.Errorf("Codes() has %d entries, codes.go declares %d", len(codes), len(declared))
	}
	for _, c := range codes {
		if _, ok := byValue[c]; !ok {
			t.Errorf("Codes() lists %s, which has no constant", c)
		}
	}
	for _, c := range []Code{"", "0", "-1002", "-9999", "200 "} {
		if c.Known() {
			t.Errorf("%q is Known", c)
		}
	}
}

// TestSeedCodeMessages pins the seed's texts, which merchants may match on.
func TestSeedCodeMessages(t *testing.T) {
	seed := map[Code]string{
		CodeMissingField:     "Required field is missing",
		CodeDuplicateRequest: "duplicate request_id",
		CodeCancelWindow:     "Exceed cancel window",
		CodeCleared:          "The transaction has been cleared cannot be cancelled",
		CodeTradeNotFound:    "The trade_id does not exist",
		CodeNotCancellable:   "The transaction cannot be cancelled",
		CodeAlreadyCancelled: "The transaction has been cancelled",
		CodeExpired:          "The transaction has been Expired",
	}
	for c, want := range seed {
		if got := c.Message(); got != want {
			t.Errorf("%s: message %q, want the seed's %q", c, got, want)
		}
	}
}

// TestREADMEListsCodes: the contract promises the codes are documented.
func TestREADMEListsCodes(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if os.IsNotExist(err) {
		t.Skip("README.md not written yet")
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Codes() {
		re := regexp.MustCompile(`(^|[^0-9-])` + regexp.QuoteMeta(string(c)) + `([^0-9]|$)`)
		if !re.Match(readme) {
			t.Errorf("README.md does not list code %s (%s)", c, c.Message())
		}
	}
}
