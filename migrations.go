package posgate

import (
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

// Migrations compares the schema versions a binary embeds (its migration
// files) with those a database has applied. Both stores fill it from
// their own embedded files, so no version is written down twice.
type Migrations struct {
	Known   []int // the binary's, ascending
	Applied []int // the database's, ascending
}

// Pending are the known versions the database has not applied.
func (m Migrations) Pending() []int {
	var p []int
	for _, v := range m.Known {
		if !slices.Contains(m.Applied, v) {
			p = append(p, v)
		}
	}
	return p
}

// Unknown are the applied versions this binary does not know: a newer
// binary migrated the database.
func (m Migrations) Unknown() []int {
	var u []int
	for _, v := range m.Applied {
		if !slices.Contains(m.Known, v) {
			u = append(u, v)
		}
	}
	return u
}

// CheckNotNewer refuses a database whose schema this binary does not
// know: its queries could corrupt what a newer version wrote, so it must
// not start on it.
func (m Migrations) CheckNotNewer() error {
	if u := m.Unknown(); len(u) > 0 {
		return fmt.Errorf("the database's schema has migrations %s that this binary does not know (it knows %s): it was migrated by a newer posgate; run that version, or restore the backup taken before the upgrade",
			versionList(u), versionList(m.Known))
	}
	return nil
}

func versionList(vs []int) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprintf("%04d", v)
	}
	return strings.Join(s, ", ")
}

// MigrationFiles lists a store's migration files, the directory
// "migration" of its embedded files, in order, with their versions.
func MigrationFiles(fsys fs.FS) (names []string, versions []int, err error) {
	entries, err := fs.ReadDir(fsys, "migration") // sorted by name
	if err != nil {
		return nil, nil, err
	}
	prev := 0
	for _, e := range entries {
		v, err := MigrationVersion(e.Name(), prev)
		if err != nil {
			return nil, nil, err
		}
		prev = v
		names = append(names, e.Name())
		versions = append(versions, v)
	}
	return names, versions, nil
}

// MigrationVersion is the version a migration file's name starts with
// ("0003_notifications.sql": 3); names must ascend strictly after prev.
func MigrationVersion(name string, prev int) (int, error) {
	version, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
	if err != nil || version <= prev {
		return 0, fmt.Errorf("migration %s: name must start with a number above %d", name, prev)
	}
	return version, nil
}
