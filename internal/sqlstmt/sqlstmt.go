// Package sqlstmt names SQL statements for error messages, so that a
// store error says which operation failed without quoting the query.
package sqlstmt

import "strings"

// Describe names what query does: "insert into commands", "update orders",
// "select from refunds".
func Describe(query string) string {
	f := strings.Fields(strings.ToLower(query))
	if len(f) == 0 {
		return "empty statement"
	}
	target := func(after string) string {
		for i, w := range f[:len(f)-1] {
			if w == after {
				return strings.Trim(f[i+1], "(\"")
			}
		}
		return "?"
	}
	switch f[0] {
	case "insert":
		return "insert into " + target("into")
	case "update":
		return "update " + target("update")
	case "delete":
		return "delete from " + target("from")
	case "select":
		return "select from " + target("from")
	case "with":
		// Named by the statements in its WITH clauses: "with update
		// orders", "with insert into requests, insert into reversals".
		var parts []string
		for i, w := range f {
			if w = strings.TrimLeft(w, "("); (w == "insert" || w == "update" || w == "delete") && i > 0 && f[i-1] == "as" {
				parts = append(parts, Describe(strings.Join(append([]string{w}, f[i+1:]...), " ")))
			}
		}
		if len(parts) > 0 {
			return "with " + strings.Join(parts, ", ")
		}
	}
	return f[0]
}
