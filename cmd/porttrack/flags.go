package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// Every command parses its flags with parseFlags: -h and --help print the
// command's usage and its flags (type and default of each) to stdout and
// exit 0; a bad flag is a usage error (exit 2) that points at --help.

// typedValue is a flag.Value that names its type for the help text
// (flag.UnquoteUsage says "value" for any Value it does not know).
type typedValue interface {
	flag.Value
	Type() string
}

// parseFlags parses args into fs. usage is printed above the flags for
// --help. It returns flag.ErrHelp after printing the help to stdout.
func parseFlags(fs *flag.FlagSet, args []string, usage string, stdout io.Writer) error {
	fs.SetOutput(io.Discard) // the errors are returned, not printed twice
	fs.Usage = func() {}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		writeHelp(stdout, fs, usage)
		return err
	}
	if err != nil {
		return usageError("%v (see 'porttrack %s --help')", err, fs.Name())
	}
	return nil
}

// writeHelp prints usage and then every flag of fs with its type, help and
// default.
func writeHelp(w io.Writer, fs *flag.FlagSet, usage string) {
	if usage == "" {
		usage = "Usage: porttrack " + fs.Name() + " [flags]\n"
	}
	fmt.Fprint(w, usage)
	if !strings.HasSuffix(usage, "\n") {
		fmt.Fprintln(w)
	}
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	if !strings.Contains(usage, "Flags:") {
		fmt.Fprint(w, "\nFlags:\n")
	}
	fs.VisitAll(func(f *flag.Flag) {
		typ, help := flagType(f)
		if f.DefValue != "" || !strings.Contains(help, "default:") { // else the help says it
			help += " (default " + flagDefault(f, typ) + ")"
		}
		fmt.Fprintf(w, "  --%s %s\n    \t%s\n", f.Name, typ, strings.ReplaceAll(help, "\n", "\n    \t"))
	})
	fmt.Fprintln(w, "  -h, --help\n    \tprint this help and exit")
}

// flagType returns the type name of f's value ("bool", "int", "float",
// "duration", "string" or a typedValue's own) and its help text.
func flagType(f *flag.Flag) (typ, help string) {
	typ, help = flag.UnquoteUsage(f)
	if tv, ok := f.Value.(typedValue); ok {
		return tv.Type(), help
	}
	if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
		return "bool", help
	}
	if typ == "" || typ == "value" {
		typ = "string"
	}
	return typ, help
}

// flagDefault formats f's default for the help: strings quoted, an empty
// non-string default as "none".
func flagDefault(f *flag.Flag, typ string) string {
	switch {
	case typ == "string":
		return fmt.Sprintf("%q", f.DefValue)
	case f.DefValue == "":
		return "none"
	case typ == "duration":
		if d, err := time.ParseDuration(f.DefValue); err == nil {
			return shortDuration(d)
		}
	}
	return f.DefValue
}
