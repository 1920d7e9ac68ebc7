// pastel-httpd's /metrics (Prometheus text format): the requests by method and the answers by
// class, then the store's metrics (server::StoreMetrics, shared with pastel-kv's INFO).

#include <string>

#include "http_protocol.h"
#include "pastel/prometheus.h"

namespace pastel::httpd {

std::string RenderMetrics(const server::Server& s) {
  const server::Totals t = server::Sum(s.counters);
  std::string out;
  out.reserve(8192);
  AppendPrometheusHelp(&out, "pastel_requests_total", "counter", "Requests parsed, by method.");
  static const char* kMethods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OTHER"};
  for (int m = 0; m < 6; ++m) {
    const std::string labels = std::string("{method=\"") + kMethods[m] + "\"}";
    AppendPrometheusSample(&out, "pastel_requests_total", labels, t.requests[m]);
  }
  AppendPrometheusHelp(&out, "pastel_responses_total", "counter", "Responses, by status class.");
  AppendPrometheusSample(&out, "pastel_responses_total", "{class=\"2xx\"}", t.responses_2xx);
  AppendPrometheusSample(&out, "pastel_responses_total", "{class=\"4xx\"}", t.responses_4xx);
  AppendPrometheusSample(&out, "pastel_responses_total", "{class=\"5xx\"}", t.responses_5xx);
  server::AppendPrometheus(server::StoreMetrics(s, t), &out);
  return out;
}

}  // namespace pastel::httpd
