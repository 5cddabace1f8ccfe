package jt808

import "syscall"

// syscallEMFILE is "too many open files", a temporary accept error.
const syscallEMFILE = syscall.EMFILE
