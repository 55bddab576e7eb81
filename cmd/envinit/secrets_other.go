//go:build !linux

package main

import (
	"io"
	"os"
)

// Outside Linux a value is read from stdin only.

func isTerminal(fd int) bool { return false }

func promptSecret(tty *os.File, w io.Writer, name string) (string, error) {
	return "", nil
}
