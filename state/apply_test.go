package state

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestStagesValidated: a stage listed twice, or a nil one, is refused at
// Open with its name.
func TestStagesValidated(t *testing.T) {
	for _, c := range []struct {
		stages []Stage
		want   string
	}{
		{[]Stage{ContainerEventsStage, ContainerEventsStage}, `stage "container-events" listed twice`},
		{[]Stage{ContainerEventsStage, nil}, "stage 1 is nil"},
	} {
		_, err := Open(Options{Dir: "db", FS: vfs.NewMem(), Stages: c.stages})
		if err == nil || err.Error() != "state: "+c.want {
			t.Errorf("Open with stages %v: %v, want %q", c.stages, err, c.want)
		}
	}
}
