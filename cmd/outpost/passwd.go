package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/outpost-iot/outpost/broker/auth"
)

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// runPasswd maintains the credentials file: add (or change a password),
// remove, token, list.
func runPasswd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New("passwd: want add, remove, token or list; see 'outpost help passwd'")}
	}
	sub, args := args[0], args[1:]
	fl := newFlagSet("passwd", stderr)
	file := fl.String("credentials", os.Getenv("OUTPOST_CREDENTIALS"), "credentials file to edit (env OUTPOST_CREDENTIALS)")
	admin := fl.Bool("admin", false, "add: make the user an admin (may use /admin/... and reach everything)")
	passwordStdin := fl.Bool("password-stdin", false, "add: read the password from the first line of standard input")
	name := fl.String("name", "", "token: a label for the token")
	var agents, topics listFlag
	fl.Var(&agents, "agent", "add: allow the agent class/name pattern (repeatable; %u is the user name); replaces the user's rules")
	fl.Var(&topics, "topic", "add: allow the MQTT topic filter, optionally FILTER:read|write|readwrite|deny (repeatable); replaces the user's rules")
	// Accept flags before and after the user name.
	if err := fl.Parse(args); err != nil {
		return usageError{err}
	}
	rest := fl.Args()
	var user string
	if len(rest) > 0 {
		user = rest[0]
		if err := fl.Parse(rest[1:]); err != nil {
			return usageError{err}
		}
		if fl.NArg() > 0 {
			return usageError{fmt.Errorf("passwd %s: unexpected argument %q", sub, fl.Arg(0))}
		}
	}
	if *file == "" {
		return usageError{errors.New("passwd: say which file with --credentials FILE (the same file 'outpost serve --credentials FILE' reads)")}
	}
	if sub != "list" && user == "" {
		return usageError{fmt.Errorf("passwd %s: missing USER", sub)}
	}

	f, err := auth.ReadFile(*file)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	switch sub {
	case "add":
		password, err := readPassword(stdin, stderr, *passwordStdin)
		if err != nil {
			return err
		}
		if err := f.SetPassword(user, password); err != nil {
			return usageError{err}
		}
		u := f.User(user)
		if *admin {
			u.Admin = true
		}
		if len(agents)+len(topics) > 0 {
			u.ACL = parseRules(agents, topics)
		}
	case "remove":
		if !f.Remove(user) {
			return fmt.Errorf("passwd remove: no user %q in %s", user, *file)
		}
	case "token":
		secret, err := f.AddToken(user, *name)
		if err != nil {
			return err
		}
		defer fmt.Fprintf(stdout, "%s\n", secret)
		fmt.Fprintf(stderr, "New API token for %s (shown once; only its digest is stored):\n", user)
	case "list":
		for _, u := range f.Users {
			role := "user"
			if u.Admin {
				role = "admin"
			}
			fmt.Fprintf(stdout, "%s\t%s\t%d tokens\t%d rules\n", u.Name, role, len(u.Tokens), len(u.ACL))
		}
		return nil
	default:
		return usageError{fmt.Errorf("passwd: unknown action %q; want add, remove, token or list", sub)}
	}
	// Validate the whole file the way the gateway will load it.
	if _, err := auth.NewStore(f, "agents"); err != nil {
		return err
	}
	if err := f.Save(*file); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "updated %s; a running gateway picks it up on SIGHUP (kill -HUP PID) or POST /admin/reload\n", *file)
	return nil
}

// parseRules turns --agent and --topic flags into rules; NewStore checks
// them before the file is saved.
func parseRules(agents, topics []string) []auth.Rule {
	var rules []auth.Rule
	for _, a := range agents {
		rules = append(rules, auth.Rule{Agent: a})
	}
	for _, t := range topics {
		filter, access := t, ""
		if i := strings.LastIndexByte(t, ':'); i > 0 {
			switch a := auth.Access(t[i+1:]); a {
			case auth.AccessRead, auth.AccessWrite, auth.AccessReadWrite, auth.AccessDeny:
				filter, access = t[:i], string(a)
			}
		}
		rules = append(rules, auth.Rule{Topic: filter, Access: auth.Access(access)})
	}
	return rules
}

// readPassword asks twice on a terminal, or reads one line from stdin.
func readPassword(stdin io.Reader, stderr io.Writer, fromStdin bool) (string, error) {
	if f, ok := stdin.(*os.File); ok && !fromStdin && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		p1, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(stderr, "Again: ")
		p2, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		if string(p1) != string(p2) {
			return "", errors.New("passwords do not match")
		}
		return string(p1), nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty password (pipe it in, e.g. echo secret | outpost passwd add USER --password-stdin --credentials FILE)")
	}
	return line, nil
}
