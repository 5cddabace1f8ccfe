package state_test

import (
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

func init() {
	state.OpenWithDomains = func(opts state.Options) (*state.Store, error) {
		st, err := portstate.Open(opts)
		if err != nil {
			return nil, err
		}
		return st.Store, nil
	}
}
