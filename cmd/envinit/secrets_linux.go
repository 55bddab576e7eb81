//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether fd is a terminal.
func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// promptSecret asks for name's value on the terminal tty, twice, with echo
// off, prompting on w. The terminal is restored whatever happens; a
// SIGINT or SIGTERM while it waits (the terminal still sends ^C) restores
// it and stops with the signal's exit code.
func promptSecret(tty *os.File, w io.Writer, name string) (string, error) {
	fd := int(tty.Fd())
	saved, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", fmt.Errorf("cannot read the terminal's settings to turn echo off: %w; pipe the value on stdin instead", err)
	}
	quiet := *saved
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG | unix.ECHONL // line editing, ^C, and the newline still shown
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return "", fmt.Errorf("cannot turn the terminal's echo off: %w; pipe the value on stdin instead", err)
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, saved)

	ask := func(prompt string) (string, error) {
		fmt.Fprint(w, prompt)
		line := make(chan readResult, 1)
		go func() { line <- readLine(tty) }()
		select {
		case sig := <-sigs:
			return "", &interrupted{sig}
		case r := <-line:
			return r.line, r.err
		}
	}
	first, err := ask(fmt.Sprintf("value of %s (not echoed): ", name))
	if err != nil {
		return "", err
	}
	if first == "" {
		return "", nil // readValue says what an empty value means
	}
	again, err := ask("again, to confirm: ")
	if err != nil {
		return "", err
	}
	if again != first {
		return "", errors.New("the two entries differ: nothing was written; run the command again")
	}
	return first, nil
}

type readResult struct {
	line string
	err  error
}

// readLine reads one line from a terminal in canonical mode, where each
// read returns at most one line, without its line ending.
func readLine(tty *os.File) readResult {
	var b bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := tty.Read(buf)
		b.Write(buf[:n])
		if i := bytes.IndexByte(b.Bytes(), '\n'); i >= 0 {
			return readResult{line: string(bytes.TrimSuffix(b.Bytes()[:i], []byte("\r")))}
		}
		if errors.Is(err, io.EOF) || n == 0 && err == nil {
			return readResult{line: b.String()}
		}
		if err != nil {
			return readResult{err: fmt.Errorf("reading the value from the terminal: %w", err)}
		}
	}
}
