package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// createPrivate creates the database file at path readable and writable
// by its owner only, before SQLite opens it: the database holds sealed
// secrets, orders and notify URLs that may carry merchants' tokens. SQLite
// creates the -wal and -shm files with the database file's mode, so they
// follow. The mode is set with chmod after the create so the process's
// umask cannot change it. An existing file keeps the mode its operator
// gave it.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	if err := errors.Join(f.Chmod(0o600), f.Close()); err != nil {
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	return nil
}
