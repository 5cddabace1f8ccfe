package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/tenant"
)

const apikeyUsage = `Usage:
  porttrack apikey create --data-dir DIR --tenant T --role port|customs|logistics
                          [--booking REF]... [--transport-document REF]... [--party-code CODE]...
  porttrack apikey list   --data-dir DIR
  porttrack apikey revoke --data-dir DIR ID

Works on the state database of a stopped node (Pebble allows one process):
stop the node first. DIR is the node's data dir (serve --data-dir), which must
hold its state already. create prints the new key once: only its SHA-256 is
stored.
`

// apikeySubUsage is the first line of each subcommand's --help.
var apikeySubUsage = map[string]string{
	"create": "Usage: porttrack apikey create [flags]\n",
	"list":   "Usage: porttrack apikey list [flags]\n",
	"revoke": "Usage: porttrack apikey revoke [flags] ID\n",
}

// listFlag collects a repeatable flag (also comma-separated values).
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Type() string   { return "list" }
func (l *listFlag) Set(v string) error {
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			*l = append(*l, x)
		}
	}
	return nil
}

func runAPIKey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, apikeyUsage)
		return usageError("apikey: no subcommand given")
	}
	sub := args[0]
	switch sub {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, apikeyUsage)
		for _, s := range []string{"create", "list", "revoke"} {
			fmt.Fprintln(stdout)
			if err := runAPIKey(ctx, []string{s, "--help"}, getenv, stdout, stderr); err != nil {
				return err
			}
		}
		return nil
	}
	fs := flag.NewFlagSet("apikey "+sub, flag.ContinueOnError)
	dataDir := fs.String("data-dir", getenv("PORTTRACK_DATA_DIR"), "data directory of the node (env PORTTRACK_DATA_DIR)")
	var tenantName, role string
	var bookings, docs, parties listFlag
	if sub == "create" {
		fs.StringVar(&tenantName, "tenant", "", "tenant the key acts for")
		fs.StringVar(&role, "role", "", "port, customs or logistics")
		fs.Var(&bookings, "booking", "carrier booking reference a logistics tenant sees (repeatable)")
		fs.Var(&docs, "transport-document", "transport document reference (B/L) a logistics tenant sees (repeatable)")
		fs.Var(&parties, "party-code", "party code a logistics tenant sees (repeatable)")
	}
	switch sub {
	case "create", "list", "revoke":
	default:
		fmt.Fprint(stderr, apikeyUsage)
		return usageError("apikey: unknown subcommand %q", sub)
	}
	if err := parseFlags(fs, args[1:], apikeySubUsage[sub], stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *dataDir == "" {
		return usageError("invalid setting data_dir: the node's data directory is required (--data-dir or PORTTRACK_DATA_DIR)")
	}
	if sub == "revoke" && fs.NArg() != 1 || sub != "revoke" && fs.NArg() != 0 {
		return usageError("apikey %s: unexpected arguments %q", sub, fs.Args())
	}
	if sub == "create" {
		switch {
		case tenantName == "":
			return usageError("invalid setting tenant (flag --tenant): required")
		case role != state.RolePort && role != state.RoleCustoms && role != state.RoleLogistics:
			return usageError("invalid setting role (flag --role): %q is not port, customs or logistics", role)
		case role == state.RoleLogistics && len(bookings)+len(docs)+len(parties) == 0:
			return usageError("invalid setting role (flag --role): a logistics key needs at least one --booking, --transport-document or --party-code")
		}
	}
	store, err := openStoppedNode(*dataDir)
	if err != nil {
		return err
	}
	defer store.Close()
	switch sub {
	case "create":
		var raw [32]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return err
		}
		secret := "pt_" + base64.RawURLEncoding.EncodeToString(raw[:])
		k, err := store.Tenants.CreateAPIKey(secret, tenant.APIKey{Tenant: tenantName, Role: role,
			Scope: state.Scope{Bookings: bookings, TransportDocs: docs, Parties: parties}})
		if errors.Is(err, tenant.ErrTenantRole) || errors.Is(err, tenant.ErrReservedTenant) {
			// A tenant has one role; the admin key's tenant is its own.
			return usageError("invalid setting tenant (flag --tenant): %s", strings.TrimPrefix(err.Error(), "state: "))
		}
		if err != nil {
			return usageError("%v", err)
		}
		fmt.Fprintf(stdout, "%s\n", secret)
		fmt.Fprintf(stderr, "created key %s for tenant %s (role %s); it is shown only now\n", k.ID, k.Tenant, k.Role)
	case "list":
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTENANT\tROLE\tBOOKINGS\tTRANSPORT DOCUMENTS\tPARTIES\tCREATED")
		err := store.Tenants.APIKeys(func(k *tenant.APIKey) error {
			_, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Tenant, k.Role,
				strings.Join(k.Scope.Bookings, ","), strings.Join(k.Scope.TransportDocs, ","), strings.Join(k.Scope.Parties, ","),
				time.Unix(0, k.Created).UTC().Format(time.RFC3339))
			return err
		})
		if err != nil {
			return err
		}
		return tw.Flush()
	case "revoke":
		if err := store.Tenants.RevokeAPIKey(fs.Arg(0)); errors.Is(err, state.ErrNotFound) {
			return &exitError{code: 1, err: fmt.Errorf("apikey revoke: no key with id %q", fs.Arg(0))}
		} else if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", fs.Arg(0))
	}
	return nil
}
