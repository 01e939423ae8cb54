package sqlite

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScriptDetection(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT 1":                                 false,
		"SELECT 1;":                                false,
		"SELECT 1; -- done\n":                      false,
		"SELECT ';' -- a; b\nFROM x /* c; d */":    false,
		"SELECT 1; SELECT 2":                       true,
		"CREATE TABLE a (x);\nCREATE TABLE b (y);": true,
		"SELECT 'it''s'; SELECT 2":                 true,
	} {
		require.Equal(t, want, script(q), q)
	}
}
