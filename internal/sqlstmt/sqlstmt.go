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
	}
	return f[0]
}
