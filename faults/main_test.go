package faults

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/posgate/posgate/internal/bintest"
)

var (
	fullFlag   = flag.Bool("faults.full", false, "run every cell of the fault matrix, -faults.trials times each (also POSGATE_FAULTS=full)")
	trialsFlag = flag.Int("faults.trials", 0, "trials per cell (default 1, 5 with -faults.full; also POSGATE_FAULTS_TRIALS)")
	outFlag    = flag.String("faults.out", "", "also write the matrix to this file")
)

// full reports whether the whole matrix runs rather than CI's bounded form.
func full() bool { return *fullFlag || os.Getenv("POSGATE_FAULTS") == "full" }

func trials() int {
	if *trialsFlag > 0 {
		return *trialsFlag
	}
	if n, err := strconv.Atoi(os.Getenv("POSGATE_FAULTS_TRIALS")); err == nil && n > 0 {
		return n
	}
	if full() {
		return 5
	}
	return 1
}

// bin is the posgate binary under test, built once.
var bin string

func TestMain(m *testing.M) { bintest.Main(m, &bin) }

// envTestDSN names the PostgreSQL database the suite uses, one fresh
// schema per trial (as postgres/postgres_test.go does).
const envTestDSN = "POSGATE_TEST_POSTGRES"

func schemaDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(envTestDSN)
	if base == "" {
		const how = envTestDSN + " is not set; run with " + envTestDSN + "=postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
		if os.Getenv("CI") != "" {
			t.Fatal(how)
		}
		t.Skip(how)
	}
	raw := make([]byte, 6)
	rand.Read(raw)
	schema := "faults_" + hex.EncodeToString(raw)
	ctx := context.Background()
	exec := func(sql string) {
		conn, err := pgx.Connect(ctx, base)
		mustf(t, err, "connect")
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		mustf(t, err, "%s", sql)
	}
	exec(`CREATE SCHEMA ` + schema)
	t.Cleanup(func() { exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema + "&pool_max_conns=4"
}
