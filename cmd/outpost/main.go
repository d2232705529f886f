// Command outpost is the Outpost edge gateway: an MQTT broker and WebSocket
// endpoint in front of stateful agents and an LLM inference engine.
//
// main builds a context that the first SIGINT or SIGTERM cancels (a second
// one forces exit), calls run, and maps its error to an exit code: 0 for
// success, 2 for usage and configuration errors, 1 for everything else.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel()
		<-sigs
		fmt.Fprintln(os.Stderr, "outpost: second signal, exiting without a clean shutdown")
		os.Exit(130)
	}()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "outpost:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a mistake in the command line or configuration (exit 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// run dispatches a subcommand; "serve" is the default.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return runServe(ctx, args, stderr)
	case "config":
		return runConfig(args, stdout, stderr)
	case "passwd":
		return runPasswd(args, stdin, stdout, stderr)
	case "agents":
		return runAgents(ctx, args, stdin, stdout, stderr)
	case "model":
		return runModel(ctx, args, stdout, stderr)
	case "detect":
		return runDetect(ctx, args, stdout, stderr)
	case "sim":
		return runSim(ctx, args, stdout, stderr)
	case "version":
		return runVersion(stdout)
	case "help", "-h", "--help":
		return runHelp(args, stdout)
	}
	return usageError{fmt.Errorf("unknown command %q; run 'outpost help' for the list", cmd)}
}
