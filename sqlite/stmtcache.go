package sqlite

import (
	"context"
	"database/sql/driver"
	"reflect"
	"strings"

	msqlite "modernc.org/sqlite"
)

// The modernc driver prepares (parses and plans) every statement on every
// Exec and Query; profiles showed that parsing dominating the single
// connection. This connector keeps
// each connection's prepared statements by query text and reuses them.

// maxCached bounds a connection's statement cache; the queries are
// constants of this package, far fewer than this.
const maxCached = 512

type connector struct {
	dsn string
	drv *msqlite.Driver
}

func (c connector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &cachingConn{conn: conn, stmts: map[string]*cachedStmt{}}, nil
}

func (c connector) Driver() driver.Driver { return c.drv }

// underlying is what the modernc connection implements besides driver.Conn.
type underlying interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConn is used by one goroutine at a time, as database/sql
// guarantees for a driver connection.
type cachingConn struct {
	conn  driver.Conn
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	driver.Stmt
	open int // result sets still being read from it
}

func (c *cachingConn) u() underlying { return c.conn.(underlying) }

// cached returns the connection's prepared statement for query, or nil
// when query should not be cached (a multi-statement script) or the
// statement is busy with an open result set.
func (c *cachingConn) cached(ctx context.Context, query string) (*cachedStmt, error) {
	if s, ok := c.stmts[query]; ok {
		if s.open > 0 {
			return nil, nil
		}
		return s, nil
	}
	if script(query) || len(c.stmts) >= maxCached {
		return nil, nil
	}
	ds, err := c.u().PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s := &cachedStmt{Stmt: ds}
	c.stmts[query] = s
	return s, nil
}

// script reports whether query holds more than one statement: a ';'
// outside strings and comments followed by more than space and comments.
// The driver re-parses scripts on every run, so they are not cached.
func script(query string) bool {
	ended := false
	for i := 0; i < len(query); i++ {
		switch c := query[i]; {
		case c == '\'' || c == '"':
			j := strings.IndexByte(query[i+1:], c)
			if j < 0 {
				return ended
			}
			if ended {
				return true
			}
			i += j + 1
		case c == '-' && strings.HasPrefix(query[i:], "--"):
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				return false
			}
			i += j
		case c == '/' && strings.HasPrefix(query[i:], "/*"):
			j := strings.Index(query[i+2:], "*/")
			if j < 0 {
				return false
			}
			i += j + 3
		case c == ';':
			ended = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		default:
			if ended {
				return true
			}
		}
	}
	return false
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, err := c.cached(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.u().ExecContext(ctx, query, args)
	}
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, err := c.cached(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.u().QueryContext(ctx, query, args)
	}
	rows, err := s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	s.open++
	return &cachedRows{Rows: rows, stmt: s}, nil
}

// PrepareContext serves explicit prepares uncached: their owner closes them.
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.u().PrepareContext(ctx, query)
}

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) {
	return c.u().PrepareContext(context.Background(), query)
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.u().BeginTx(ctx, opts)
}

// Begin completes driver.Conn; database/sql calls BeginTx.
func (c *cachingConn) Begin() (driver.Tx, error) {
	return c.u().BeginTx(context.Background(), driver.TxOptions{})
}

func (c *cachingConn) Ping(ctx context.Context) error         { return c.u().Ping(ctx) }
func (c *cachingConn) ResetSession(ctx context.Context) error { return c.u().ResetSession(ctx) }
func (c *cachingConn) IsValid() bool                          { return c.u().IsValid() }

func (c *cachingConn) Close() error {
	for q, s := range c.stmts {
		s.Stmt.Close()
		delete(c.stmts, q)
	}
	return c.conn.Close()
}

// cachedRows releases its statement for reuse when closed, and passes the
// column type questions through.
type cachedRows struct {
	driver.Rows
	stmt *cachedStmt
}

func (r *cachedRows) Close() error {
	r.stmt.open--
	return r.Rows.Close()
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if x, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return x.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if x, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return x.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return x.ColumnTypeNullable(i)
	}
	return false, false
}
