package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// interrupted is a SIGTERM or SIGINT that arrived before the exec.
type interrupted struct{ sig os.Signal }

func (e *interrupted) Error() string {
	return "interrupted by " + e.sig.String() + " before starting the command; nothing was left behind"
}

// errStopped is the cause of a watch that stopped without a signal.
var errStopped = errors.New("signal watch stopped")

// contextWithExitSignalWatch returns a context canceled by the first
// SIGTERM or SIGINT, with an *interrupted as its cause, and the function
// that stops the watch (tailscale's containerboot has the same helper).
// As PID 1 no signal has a default action, so the kernel would drop a
// SIGTERM that Go did not catch: envinit stops at once instead, with the
// exit code a default action would have given.
//
// stop hands the signals back to their default handling, COMMAND's from
// the exec on. A signal that arrived before stop returned, even one still
// in flight to the watch, is the context's cause when stop returns, so a
// check of interruption right after stop, immediately before the exec,
// misses none.
func contextWithExitSignalWatch(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, exitSignals()...)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		select {
		case sig := <-sigs:
			cancel(&interrupted{sig})
		case <-quit:
		}
	}()
	return ctx, sync.OnceFunc(func() {
		signal.Stop(sigs)
		close(quit)
		<-done
		select {
		case sig := <-sigs: // delivered, but the watch had quit
			cancel(&interrupted{sig})
		default:
		}
		cancel(errStopped) // a no-op when a signal came
	})
}

// exitSignals are the signals that stop envinit before the exec: SIGTERM,
// and SIGINT unless it was ignored when envinit started (a job a shell
// started in the background): the parent meant it not to stop the process.
// Go keeps an inherited SIG_IGN only for SIGHUP and SIGINT, so only
// SIGINT's can be told.
func exitSignals() []os.Signal {
	if signal.Ignored(syscall.SIGINT) {
		return []os.Signal{syscall.SIGTERM}
	}
	return []os.Signal{syscall.SIGTERM, syscall.SIGINT}
}

// interruption returns the *interrupted that canceled ctx, if a signal
// did.
func interruption(ctx context.Context) error {
	var intr *interrupted
	if errors.As(context.Cause(ctx), &intr) {
		return intr
	}
	return nil
}
