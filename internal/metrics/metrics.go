// Package metrics exposes sealtag's counters to Prometheus: messages by
// encryption class, TLS, relay, thread state, action and rule; errors by
// kind; processing time; bytes scanned; open MTA sessions. Every name
// starts with sealtag_ (SPEC §4); sealtag_messages_total counts every
// message sealtag decided on.
package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"sealtag/milter"
)

// Metrics is a registry of sealtag's collectors. It implements
// milter.Observer. Labels are kept to small fixed sets (classes, actions,
// rule names of the configuration, provider ids): never an address.
type Metrics struct {
	Registry *prometheus.Registry

	messages   *prometheus.CounterVec
	encryption *prometheus.CounterVec
	tls        *prometheus.CounterVec
	relay      *prometheus.CounterVec
	thread     *prometheus.CounterVec
	errors     *prometheus.CounterVec
	reloads    *prometheus.CounterVec
	duration   prometheus.Histogram
	bytes      prometheus.Counter
	sessions   prometheus.Gauge
}

var _ milter.Observer = (*Metrics)(nil)

// New returns sealtag's metrics on a registry of their own, with Go runtime
// and process metrics beside them.
func New(version string) *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) prometheus.Collector { reg.MustRegister(c); return c }
	m := &Metrics{Registry: reg}
	m.messages = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sealtag_messages_total",
		Help: "Messages sealtag decided on, by the action the MTA was told, the action the policy decided (differs in monitor mode), the rule and the mode.",
	}, []string{"action", "decided", "rule", "mode"})).(*prometheus.CounterVec)
	m.encryption = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sealtag_messages_encryption_total",
		Help: "Classified messages by encryption class (first token of X-Sealtag-Encryption) and scope.",
	}, []string{"class", "scope"})).(*prometheus.CounterVec)
	m.tls = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sealtag_messages_tls_total",
		Help: "Classified messages by TLS version of the last hop (none, unknown, TLSv1.3, ...).",
	}, []string{"version"})).(*prometheus.CounterVec)
	m.relay = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sealtag_messages_relay_total",
		Help: "Classified messages by relay provider (none, a provider id, srs, batv).",
	}, []string{"provider"})).(*prometheus.CounterVec)
	m.thread = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sealtag_messages_thread_total",
		Help: "Classified messages by thread state (new, reply, broken).",
	}, []string{"state"})).(*prometheus.CounterVec)
	m.errors = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sealtag_errors_total",
		Help: "Internal errors by kind: message (a message ended in on_error), reply (answering the MTA failed).",
	}, []string{"kind"})).(*prometheus.CounterVec)
	m.reloads = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sealtag_config_reloads_total",
		Help: "Configuration reloads (SIGHUP) by result: ok, refused.",
	}, []string{"result"})).(*prometheus.CounterVec)
	m.duration = f(prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "sealtag_classification_seconds",
		Help:    "Time sealtag spent on a message (header, body and end of message callbacks), without the time waiting for the MTA.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	})).(prometheus.Histogram)
	m.bytes = f(prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sealtag_scanned_bytes_total",
		Help: "Header and body bytes passed through the classifier.",
	})).(prometheus.Counter)
	m.sessions = f(prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sealtag_sessions_open",
		Help: "MTA connections open now.",
	})).(prometheus.Gauge)
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "sealtag_build_info",
		Help:        "Always 1; the version label says which sealtag runs.",
		ConstLabels: prometheus.Labels{"version": version},
	}, func() float64 { return 1 }))
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Start the error series at zero so that rates and alerts see them.
	m.errors.WithLabelValues("message")
	m.errors.WithLabelValues("reply")
	return m
}

// Message counts one finished message.
func (m *Metrics) Message(r milter.Report) {
	mode := "enforce"
	if r.Verdict.Monitor {
		mode = "monitor"
	}
	m.messages.WithLabelValues(string(r.Verdict.Effective()), string(r.Verdict.Action), r.Verdict.Rule, mode).Inc()
	if r.Classified {
		res := r.Result
		scope := string(res.Encryption.Scope)
		if scope == "" {
			scope = "-"
		}
		m.encryption.WithLabelValues(string(res.Encryption.Class), scope).Inc()
		m.tls.WithLabelValues(res.TLS.Version).Inc()
		m.relay.WithLabelValues(res.Relay.Provider).Inc()
		m.thread.WithLabelValues(res.Thread.State).Inc()
	}
	if r.Err != nil {
		kind := "message"
		if r.Classified {
			kind = "reply"
		}
		m.errors.WithLabelValues(kind).Inc()
	}
	m.duration.Observe(r.Busy.Seconds())
	m.bytes.Add(float64(r.Bytes))
}

// SessionOpened counts an MTA connection.
func (m *Metrics) SessionOpened() { m.sessions.Inc() }

// SessionClosed counts an MTA connection that ended.
func (m *Metrics) SessionClosed() { m.sessions.Dec() }

// Reload counts a configuration reload.
func (m *Metrics) Reload(ok bool) {
	if ok {
		m.reloads.WithLabelValues("ok").Inc()
	} else {
		m.reloads.WithLabelValues("refused").Inc()
	}
}

// Serve serves /metrics on addr until ctx ends.
func (m *Metrics) Serve(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return m.ServeListener(ctx, ln)
}

// ServeListener serves /metrics on ln until ctx ends.
func (m *Metrics) ServeListener(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(c)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
