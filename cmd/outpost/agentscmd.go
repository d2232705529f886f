package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/outpost-iot/outpost/agenthost"
)

// runAgents is `outpost agents list|inspect|destroy`: a client of a running
// gateway's admin API.
func runAgents(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("agents", stderr)
	gateway := fs.String("gateway", envOr("OUTPOST_GATEWAY", "http://127.0.0.1:8080"), "the gateway's HTTP address (env OUTPOST_GATEWAY)")
	user := fs.String("user", "", "admin user name (with --password-stdin)")
	passwordStdin := fs.Bool("password-stdin", false, "read the admin password from the first line of standard input")
	token := fs.String("token", os.Getenv("OUTPOST_TOKEN"), "admin API token (env OUTPOST_TOKEN)")
	asJSON := fs.Bool("json", false, "list: print JSON")
	if len(args) == 0 {
		fs.Usage()
		return usageError{errors.New("agents: want list, inspect or destroy")}
	}
	verb, rest := args[0], args[1:]
	// Flags may come before and after the CLASS/NAME argument.
	var pos []string
	for {
		if err := fs.Parse(rest); err != nil {
			return usageError{err}
		}
		if fs.NArg() == 0 {
			break
		}
		pos, rest = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	var password string
	if *passwordStdin {
		p, err := readPassword(stdin, stderr, true)
		if err != nil {
			return err
		}
		password = p
	}
	c := adminClient{base: strings.TrimRight(*gateway, "/"), user: *user, password: password, token: *token}
	agentPath := func() (string, error) {
		if len(pos) != 1 || !strings.Contains(pos[0], "/") {
			return "", usageError{fmt.Errorf("agents %s: want one CLASS/NAME", verb)}
		}
		class, name, _ := strings.Cut(pos[0], "/")
		return "/admin/agents/" + url.PathEscape(class) + "/" + url.PathEscape(name), nil
	}
	switch verb {
	case "list":
		if len(pos) != 0 {
			return usageError{errors.New("agents list: no arguments")}
		}
		var list []agenthost.AgentInfo
		raw, err := c.do(ctx, http.MethodGet, "/admin/agents", &list)
		if err != nil {
			return err
		}
		if *asJSON {
			_, err := stdout.Write(raw)
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLASS\tNAME\tAWAKE\tDB\tCONNECTIONS")
		for _, a := range list {
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%d\n", a.Class, a.Name, a.Awake, humanBytes(a.DBBytes), len(a.Connections))
		}
		return tw.Flush()
	case "inspect":
		p, err := agentPath()
		if err != nil {
			return err
		}
		raw, err := c.do(ctx, http.MethodGet, p, nil)
		if err != nil {
			return err
		}
		_, err = stdout.Write(raw)
		return err
	case "destroy":
		p, err := agentPath()
		if err != nil {
			return err
		}
		if _, err := c.do(ctx, http.MethodDelete, p, nil); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "destroyed %s\n", pos[0])
		return nil
	}
	return usageError{fmt.Errorf("agents: unknown verb %q; want list, inspect or destroy", verb)}
}

type adminClient struct {
	base, user, password, token string
}

// do makes one admin request and decodes the JSON answer into v when not
// nil; it returns the raw body.
func (c adminClient) do(ctx context.Context, method, path string, v any) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return nil, usageError{fmt.Errorf("--gateway: %w", err)}
	}
	switch {
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	case c.user != "":
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach the gateway at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(body))
		}
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, e.Error)
	}
	if v != nil {
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(v); err != nil {
			return nil, fmt.Errorf("decode answer: %w", err)
		}
	}
	return body, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// humanBytes writes n as 137.2KiB, 4.0MiB, ...
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	v, suffix := float64(n)/unit, "KiB"
	for _, s := range []string{"MiB", "GiB", "TiB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	return fmt.Sprintf("%.1f%s", v, suffix)
}
