package openapitest

import "testing"

func TestDocumentLoads(t *testing.T) {
	if _, err := Load(); err != nil {
		t.Fatal(err)
	}
}
