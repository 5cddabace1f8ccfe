// Package deliver sends DCSA Track & Trace 2.2 events to the callback URLs
// of event subscriptions (webhooks).
//
// It tails the store's DCSA event log (state/dcsa), which Apply writes
// in the same batch as the state that produced each event, so nothing can
// be derived without being offered to every subscription. Each
// subscription has its own goroutine and its own durable delivery state
// (the next log sequence number, failures, the retry time): a slow or dead
// receiver delays only its own subscription, never ingest (which never
// waits for delivery) nor other subscribers. One watcher looks at the end of
// the log and at the subscriptions' version (dcsa.DCSA.SubscriptionsVersion)
// every Poll and wakes the subscriptions when either moved: an idle
// subscription holds no timer and reads nothing.
//
// A subscription delivers only while the API key that owns it exists
// (dcsa.DCSA.SubscriptionOwnerLive): once that key is revoked it is paused —
// kept, with its position, delivering nothing, counted in
// porttrack_webhook_paused_subscriptions — until a key of its tenant
// updates it and becomes its owner. The owner is checked before the log is
// read, and a paused subscription is woken only when the subscriptions
// change (and every 25 rounds of the watcher, for keys that change without
// them), never by new events: it costs no log read however many arrive.
//
// Delivery is at least once and in log order per subscription: a batch is
// a JSON array of the matching events after the subscription's position,
// POSTed with Subscription-ID, API-Version and Notification-Signature
// (sha256=<hex HMAC-SHA256 of the exact body bytes, keyed with the
// subscription's secret>); the position advances only when the receiver
// answers 2xx. Failures back off exponentially (BackoffMin·2^n up to
// BackoffMax) or wait as long as Retry-After says; after MaxFailures
// attempts the batch goes to the subscription's dead letters and delivery
// moves on. Every attempt is logged (the newest 1000 per subscription). A
// redelivery request (state.RequestRedelivery) rewinds the position to the
// first event created at or after a time. Receivers deduplicate on
// eventID.
//
// Callback connections are checked against the denied address ranges
// (every non-public range by default, less Config.Allow, plus Config.Deny:
// state/dcsa/callback_addr.go) on the resolved address of each connection (so a
// host name cannot route around it, nor a zoned or IPv4-mapped spelling);
// a failed attempt is logged for the tenant as a classified reason
// (refused, timeout, tls, dns, denied, connection, http_<code>: Reason),
// the error itself only in the operator's log (addrpolicy.go). Bodies
// are bounded (MaxBatch events, MaxBodyBytes) and so is each POST
// (Timeout); redirects are not followed.
//
// deliver imports state only; only cmd/porttrack imports it.
package deliver
