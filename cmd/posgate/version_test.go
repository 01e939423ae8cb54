package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestVersionUnstamped(t *testing.T) {
	out, stderr, err := runBin(t, nil, "version", "-o", "json")
	require.NoError(t, err, stderr)
	var info struct {
		Version   string `json:"version"`
		Revision  string `json:"revision"`
		GoVersion string `json:"go_version"`
		Modules   []struct {
			Path, Version, Replace string
		} `json:"modules"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &info))
	require.Equal(t, "unknown", info.Version, "a build inside the tree has no version to tell")
	require.NotEmpty(t, info.Revision)
	require.Equal(t, runtime.Version(), info.GoVersion)
	var protocol string
	for _, m := range info.Modules {
		if m.Path == "github.com/posgate/posgate/protocol" {
			protocol = m.Replace
		}
	}
	require.Equal(t, "./protocol", protocol, "the nested module is taken from the tree")

	_, stderr, err = runBin(t, nil, "version", "-o", "yaml")
	require.Error(t, err)
	require.Contains(t, stderr, "want text or json")
}

// TestVersionStamped builds the binary as the release does and checks that
// the stamped version reaches both the command and the gateway's metrics.
func TestVersionStamped(t *testing.T) {
	stamped := filepath.Join(t.TempDir(), "posgate")
	ldflags := "-X github.com/posgate/posgate/buildinfo.version=v9.8.7 -X github.com/posgate/posgate/buildinfo.revision=0123abc"
	out, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", stamped, ".").CombinedOutput()
	require.NoError(t, err, string(out))

	out, err = exec.Command(stamped, "version").Output()
	require.NoError(t, err)
	require.Regexp(t, `^version +v9\.8\.7\nrevision +0123abc\ngo +`+regexp.QuoteMeta(runtime.Version())+`\n`, string(out))
	require.Contains(t, string(out), "github.com/spf13/cobra v")

	dir := t.TempDir()
	env := []string{"POSGATE_ADMIN_TOKEN=secret-admin", "POSGATE_MASTER_KEY=" + strings.Repeat("11", 32)}
	m, _, _ := startedBin(t, stamped, regexp.MustCompile(`posgate serving" url=(http://\S+)`), env,
		"serve", "--acquirer", "simulated", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "posgate.db"))
	resp, err := http.Get(m[1] + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Contains(t, string(body), `posgate_build_info{goversion="`+runtime.Version()+`",revision="0123abc",version="v9.8.7"} 1`)
}
