package bench

import (
	"os"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// schedAttr is struct sched_attr (SCHED_ATTR_SIZE_VER1).
type schedAttr struct {
	size, policy      uint32
	flags             uint64
	nice              int32
	priority          uint32
	runtime, deadline uint64
	period            uint64
	utilMin, utilMax  uint32
}

// shortSlices asks Linux for a time slice of d for every thread of this
// process (sched_setattr with SCHED_OTHER and sched_runtime: EEVDF, Linux
// 6.12 or later): a waking thread whose slice is shorter than the running
// thread's preempts it instead of waiting for the running one's slice to
// end. d = 0 restores the default slice. It returns how many threads took
// it: 0 on kernels without it.
func shortSlices(d time.Duration) int {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		a := schedAttr{size: uint32(unsafe.Sizeof(schedAttr{})), runtime: uint64(d)}
		if _, _, errno := unix.Syscall(unix.SYS_SCHED_SETATTR, uintptr(tid), uintptr(unsafe.Pointer(&a)), 0); errno == 0 {
			n++
		}
	}
	return n
}
