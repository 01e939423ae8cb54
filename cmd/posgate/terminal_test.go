package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTerminalSecret runs the command in process: without --secret and
// POSGATE_SECRET it refuses to start, and its help names the variable
// without ever printing the secret it holds.
func TestTerminalSecret(t *testing.T) {
	t.Parallel()
	noEnv := func(string) string { return "" }
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"terminal", "--tid", "T1", "--headless"}, noEnv, strings.NewReader(""), &out, &errb)
	require.Equal(t, 1, code)
	require.Contains(t, errb.String(), "--secret (or POSGATE_SECRET) is required")

	secret := strings.Repeat("cd", 32)
	withEnv := func(k string) string {
		if k == "POSGATE_SECRET" {
			return secret
		}
		return ""
	}
	out.Reset()
	errb.Reset()
	code = run(context.Background(), []string{"terminal", "--help"}, withEnv, strings.NewReader(""), &out, &errb)
	require.Zero(t, code, errb.String())
	require.Contains(t, out.String(), "POSGATE_SECRET")
	require.NotContains(t, out.String()+errb.String(), secret)
}
