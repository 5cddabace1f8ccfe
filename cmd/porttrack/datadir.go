package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// openStoppedNode opens the state database in a node's data dir for a
// command that edits it offline (apikey). It refuses a directory that holds
// no porttrack state rather than creating one (a mistyped --data-dir would
// otherwise get keys the node never sees), and names a running node as
// such rather than as Pebble's lock error.
func openStoppedNode(dataDir string) (*portstate.State, error) {
	dir := filepath.Join(dataDir, "state")
	if !holdsState(dir) {
		return nil, usageError("invalid setting data_dir (flag --data-dir or PORTTRACK_DATA_DIR): %s holds no porttrack state (no database in %s): give the data dir of a node that has run (serve --data-dir)", dataDir, dir)
	}
	store, err := portstate.Open(state.Options{Dir: dir})
	if err != nil && lockedByOther(err) {
		return nil, &exitError{code: 1, err: fmt.Errorf("the data dir %s is in use by a running porttrack node: stop the node and run this again (Pebble allows one process per database); while it runs, give it an admin_key and use its API", dataDir)}
	}
	return store, err
}

// holdsState reports whether dir holds a Pebble database (its manifest).
func holdsState(dir string) bool {
	m, err := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
	if err != nil || len(m) == 0 {
		return false
	}
	st, err := os.Stat(m[0])
	return err == nil && st.Mode().IsRegular()
}

// lockedByOther reports whether Open failed on the database's lock: held by
// another process (EAGAIN, EACCES from fcntl) or by this one.
func lockedByOther(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) ||
		strings.Contains(err.Error(), "lock held by current process")
}
