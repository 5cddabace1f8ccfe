package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/porttrack/porttrack/geo"
	"github.com/porttrack/porttrack/geo/portmodel"
	"github.com/porttrack/porttrack/ingest"
	"github.com/porttrack/porttrack/ingest/customs"
	"github.com/porttrack/porttrack/ingest/deliver"
	"github.com/porttrack/porttrack/query"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/dcsa"
	"github.com/porttrack/porttrack/state/portstate"
	"github.com/porttrack/porttrack/state/tenant"
)

// node is one running engine: state, ingest and the HTTP API.
type node struct {
	store  *portstate.State
	engine *ingest.Engine
	api    *query.Server
	hooks  *deliver.Deliverer
	ln     net.Listener
	log    *slog.Logger
}

func newNode(cfg *Config, log *slog.Logger) (*node, error) {
	dir := filepath.Join(cfg.DataDir, "state")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	pm, readers, err := loadPortModel(cfg.PortModel)
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("invalid setting port_model: %w", err)}
	}
	certs, err := loadTrustedCerts(cfg.Customs.TrustedCerts)
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("invalid setting customs.trusted_certs: %w", err)}
	}
	store, err := portstate.Open(state.Options{Dir: dir, NoSync: cfg.NoSync, Logger: log, PortModel: pm, TrackRetention: cfg.TrackRetention,
		Customs:   cfg.customsConfig(),
		PortCalls: state.PortCallConfig{EventTopic: cfg.Topics.Events, MinDwell: cfg.PortCallMinDwell},
		Fences:    state.FenceConfig{MinDwell: cfg.FenceMinDwell, MaxPerTenant: cfg.MaxFences, AlertTopic: cfg.Topics.Alerts, Readers: readers},
		Guard: state.GuardConfig{AlertTopic: cfg.Topics.Alerts, Discharge: cfg.Guard.Discharge, HoldClear: cfg.Guard.HoldClear,
			CustomsClear: cfg.Guard.CustomsClear, Transfer: cfg.Guard.Transfer, Load: cfg.Guard.Load},
		MaxSubscriptions: cfg.MaxSubscriptions})
	if err != nil {
		return nil, err
	}
	// The admin key is the one key of tenant admin: a new admin_key
	// replaces the old one, and none is left without the setting.
	removed, err := store.Tenants.SetAdminKey(cfg.AdminKey)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("admin_key: %w", err)
	}
	if len(removed) > 0 {
		paused := 0
		store.DCSA.Subscriptions("", func(sub *dcsa.Subscription) bool {
			if slices.Contains(removed, sub.KeyID) {
				paused++
			}
			return true
		})
		log.Warn("removed the previous admin key: it no longer works (admin_key changed or unset)", "key_ids", removed,
			"paused_subscriptions", paused, "resume", "PUT /v2/event-subscriptions/{id} with the new admin key")
	}
	warnMixedRoles(store, log)
	engine, err := ingest.New(ingest.Config{
		Brokers:             cfg.Brokers,
		GroupID:             cfg.Group,
		Topics:              ingest.Topics{RFID: cfg.Topics.RFID, AIS: cfg.Topics.AIS, Transport: cfg.Topics.Transport, Customs: cfg.Topics.Customs, DLQ: cfg.Topics.DLQ},
		Customs:             customs.Config{TrustedCerts: certs},
		MaxRecordBytes:      cfg.MaxRecordBytes,
		DeadLetterMaxBytes:  cfg.DeadLetterMaxBytes,
		MaxBatchBytes:       cfg.MaxBatchBytes,
		OutboxDegradedAfter: cfg.OutboxDegradedAfter,
		Readers:             cfg.Readers,
		SessionTimeout:      cfg.SessionTimeout,
		RebalanceTimeout:    cfg.SessionTimeout,
		HeartbeatInterval:   cfg.Heartbeat,
		Deadlines:           store.Customs,
		Logger:              log,
	}, store.Store)
	if err != nil {
		store.Close()
		return nil, &exitError{code: 2, err: err}
	}
	deny, _ := cfg.Webhooks.denyPrefixes() // checked by validate
	allow, _ := cfg.Webhooks.allowPrefixes()
	hooks, err := deliver.New(deliver.Config{Log: store.DCSA, Links: store.Tenants, Timeout: cfg.Webhooks.Timeout, MaxFailures: cfg.Webhooks.MaxFailures,
		MaxBatch: cfg.Webhooks.MaxBatch, BackoffMax: cfg.Webhooks.BackoffMax, Deny: deny, Allow: allow, Logger: log, Open: cfg.openAPI})
	if err != nil {
		store.Close()
		return nil, &exitError{code: 2, err: err}
	}
	api, err := query.New(query.Config{
		Store:         store,
		Ready:         engine.Ready,
		ReadyReason:   engine.NotReadyReason,
		Degraded:      engine.Degraded,
		Metrics:       []func(io.Writer){engine.WritePrometheus, query.FenceMetrics(store), query.PlanMetrics(store), hooks.WritePrometheus},
		Logger:        log,
		Open:          cfg.openAPI,
		CallbackDeny:  deny,
		CallbackAllow: allow,
		CORSOrigins:   cfg.CORSOrigins,
		RateLimit:     cfg.RateLimit,
		RateBurst:     cfg.RateBurst,
		Stream:        cfg.Stream.query(),
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("http_addr: %w", err)
	}
	return &node{store: store, engine: engine, api: api, hooks: hooks, ln: ln, log: log}, nil
}

// run serves until ctx ends, then shuts down in order: HTTP, ingest, state.
func (n *node) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := n.hooks.Run(ctx); err != nil {
			errc <- fmt.Errorf("webhooks: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := n.api.Serve(n.ln); err != nil {
			errc <- fmt.Errorf("http: %w", err)
			cancel()
		}
	}()
	go func() {
		defer wg.Done()
		if err := n.engine.Run(ctx); err != nil {
			errc <- fmt.Errorf("ingest: %w", err)
		}
		cancel()
	}()
	<-ctx.Done()
	n.log.Info("shutting down")
	if err := n.api.Shutdown(); err != nil {
		n.log.Warn("http shutdown", "err", err)
	}
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	if err := n.store.Close(); err != nil {
		errs = append(errs, err)
	}
	n.log.Info("stopped")
	return errors.Join(errs...)
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	log := newLogger(&cfg, stderr)
	n, err := newNode(&cfg, log)
	if err != nil {
		return err
	}
	log.Info("porttrack serving", "http", n.ln.Addr().String(), "brokers", cfg.Brokers, "group", cfg.Group, "data_dir", cfg.DataDir)
	return n.run(ctx)
}

// warnMixedRoles logs the tenants with keys of more than one role, which
// versions before one role per tenant let be created: such a name shares
// its geofences between the roles (subscriptions are kept apart by role).
func warnMixedRoles(store *portstate.State, log *slog.Logger) {
	roles := map[string]map[string]bool{}
	err := store.Tenants.APIKeys(func(k *tenant.APIKey) error {
		if roles[k.Tenant] == nil {
			roles[k.Tenant] = map[string]bool{}
		}
		roles[k.Tenant][k.Role] = true
		return nil
	})
	if err != nil {
		log.Warn("listing API keys failed", "err", err)
		return
	}
	for tenant, r := range roles {
		if len(r) > 1 {
			log.Warn("tenant has API keys of more than one role (created by an older version): revoke the keys of the wrong role (porttrack apikey list)",
				"tenant", tenant, "roles", slices.Sorted(maps.Keys(r)))
		}
	}
}

// loadPortModel reads the port model GeoJSON at path, or the built-in
// Ningbo-Zhoushan model when path is empty: its fences and the positions
// of its RFID readers.
func loadPortModel(path string) (*state.PortModel, map[string]geo.LatLng, error) {
	data := portmodel.GeoJSON()
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, nil, err
		}
	}
	features, err := geo.ParseFeatureCollection(bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	readers, err := state.ReaderPositions(data)
	if err != nil {
		return nil, nil, err
	}
	pm, err := state.NewPortModel(features, "CNNGB")
	return pm, readers, err
}
