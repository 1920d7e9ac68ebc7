#pragma once
// Lines of the Prometheus text exposition format (version 0.0.4), for the servers' /metrics.

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace pastel {

// "# HELP name help" and "# TYPE name type" (counter or gauge).
inline void AppendPrometheusHelp(std::string* out, std::string_view name, std::string_view type,
                                 std::string_view help) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n");
  out->append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

// "name{labels} value"; `labels` is empty or "{key=\"value\",...}".
inline void AppendPrometheusSample(std::string* out, std::string_view name, std::string_view labels,
                                   uint64_t value) {
  char buf[32];
  const int n = std::snprintf(buf, sizeof(buf), " %llu\n", static_cast<unsigned long long>(value));
  out->append(name).append(labels).append(buf, static_cast<size_t>(n));
}

}  // namespace pastel
