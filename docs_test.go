package posgate_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// markdownLink is an inline link [text](target), the target without spaces
// (none of ours has a title).
var markdownLink = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)\)`)

// TestDocLinks checks that every relative link in README.md and docs/
// names a file or folder of this repository, so moving or renaming a file
// breaks the build instead of the docs.
func TestDocLinks(t *testing.T) {
	pages, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, "README.md")
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	links := 0
	for _, page := range pages {
		raw, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		fenced := false
		for n, line := range strings.Split(string(raw), "\n") {
			// Code blocks hold Go and shell, where [x](y) is not a link.
			if strings.HasPrefix(line, "```") {
				fenced = !fenced
			}
			if fenced {
				continue
			}
			for _, m := range markdownLink.FindAllStringSubmatch(line, -1) {
				target, _, _ := strings.Cut(m[1], "#")
				if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				links++
				path, err := filepath.Abs(filepath.Join(filepath.Dir(page), target))
				if err != nil {
					t.Fatal(err)
				}
				if path != root && !strings.HasPrefix(path, root+string(filepath.Separator)) {
					t.Errorf("%s:%d: %s points outside the repository", page, n+1, m[1])
					continue
				}
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s:%d: %s does not exist", page, n+1, m[1])
				}
			}
		}
	}
	if links == 0 {
		t.Fatal("no relative links found: the pattern no longer matches the docs")
	}
}
