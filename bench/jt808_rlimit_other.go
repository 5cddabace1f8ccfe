//go:build !unix

package bench

func raiseNoFile() {}
