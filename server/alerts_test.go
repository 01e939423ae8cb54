package server_test

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/posgate/posgate/server"
	"go.yaml.in/yaml/v3"
)

// metricName is a posgate series in a rule's expression or the docs.
var metricName = regexp.MustCompile(`\bposgate_[a-z_]+`)

// exposed is every metric family a fresh gateway's /metrics names.
func exposed(t *testing.T) map[string]bool {
	t.Helper()
	g, err := server.Open(context.Background(), server.Config{
		DB: filepath.Join(t.TempDir(), "posgate.db"),
		Getenv: func(k string) string {
			switch k {
			case "POSGATE_MASTER_KEY":
				return strings.Repeat("ab", 32)
			case server.EnvAdminToken:
				return "test-admin-token"
			}
			return ""
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	rec := httptest.NewRecorder()
	g.Handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) `).FindAllStringSubmatch(string(body), -1) {
		names[m[1]] = true
	}
	return names
}

// family is the metric a series belongs to: a histogram's buckets, sum
// and count are its own.
func family(series string, names map[string]bool) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(series, suffix); ok && names[base] {
			return base
		}
	}
	return series
}

// TestAlertRules: deploy/alerts.yml is valid YAML in Prometheus's rule
// file shape and names only metrics the gateway exposes; every posgate
// metric the gateway exposes is documented in docs/operations.md.
func TestAlertRules(t *testing.T) {
	names := exposed(t)
	raw, err := os.ReadFile("../deploy/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatal(err)
	}
	rules := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			rules++
			if r.Alert == "" || strings.TrimSpace(r.Expr) == "" {
				t.Errorf("group %s: a rule without alert or expr: %+v", g.Name, r)
			}
			for _, s := range metricName.FindAllString(r.Expr, -1) {
				if !names[family(s, names)] {
					t.Errorf("alert %s names %s, which the gateway does not expose", r.Alert, s)
				}
			}
		}
	}
	if rules < 5 {
		t.Fatalf("only %d rules parsed", rules)
	}
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range names {
		if strings.HasPrefix(name, "posgate_") && !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("%s is not documented in docs/operations.md", name)
		}
	}
}
