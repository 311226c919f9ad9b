package serve

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// metrics are the server's Prometheus metrics, in a registry of its own
// (no global state: two servers in one process count apart).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inFlight prometheus.Gauge
	rejected prometheus.Counter
	batch    prometheus.Histogram
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "promptgan_http_requests_total", Help: "HTTP requests answered, by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "promptgan_http_request_duration_seconds", Help: "Time to answer an HTTP request, by route.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16), // 1 ms … 33 s
		}, []string{"route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "promptgan_http_in_flight_requests", Help: "HTTP requests being served now.",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "promptgan_http_rejected_total", Help: "Requests answered 503 because the concurrency limit was reached.",
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "promptgan_decode_batch_size", Help: "Requests decoded together in one batch.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 8), // 1 … 128
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.inFlight, m.rejected, m.batch,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// inFlightValue reads the in-flight gauge.
func (m *metrics) inFlightValue() float64 {
	var d dto.Metric
	if err := m.inFlight.Write(&d); err != nil {
		return -1
	}
	return d.GetGauge().GetValue()
}
