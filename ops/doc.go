// Package ops holds what operators need from every surface: the HTTP
// middleware that gives each request its IDs, logs it, counts it in
// Prometheus metrics, records writes in the audit trail and turns panics
// into CloudErrors; and the /healthz, /readyz and /metrics endpoints.
//
// It imports only the root package (and Prometheus).
package ops
