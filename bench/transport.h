// Mutual TLS beside plaintext in the reports: bench/run runs some
// scenarios twice, back to back, the second time with --plaintext, and
// each result names its transport ("mtls" or "plaintext").
#pragma once

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace domian::bench {

// Mutual TLS costs at most this factor of plaintext (the issue: "within
// 10%"), judged on the p50 of detection, the routed call and failover.
inline constexpr double kGoalTlsOverPlaintext = 1.10;

// A result of a --plaintext run. Serf's results, and domian's from before
// the transport was recorded, say nothing: neither is plaintext.
inline bool Plaintext(const nlohmann::json& r) { return r.value("transport", "") == "plaintext"; }
inline std::string TransportLabel(const nlohmann::json& r) {
  return Plaintext(r) ? " (plaintext)" : "";
}

// The mutual TLS row a plaintext result `results[at]` is set beside: the
// nearest one `same` as it before it (bench/run runs the two back to
// back, mutual TLS first), else after it. It may be an error or skipped
// row; nullptr when there is none.
inline const nlohmann::json* TlsCounterpart(
    const nlohmann::json& results, size_t at,
    const std::function<bool(const nlohmann::json&, const nlohmann::json&)>& same) {
  const nlohmann::json& r = results[at];
  auto counterpart = [&](size_t i) { return !Plaintext(results[i]) && same(results[i], r); };
  for (size_t i = at; i-- > 0;) {
    if (counterpart(i)) return &results[i];
  }
  for (size_t i = at + 1; i < results.size(); ++i) {
    if (counterpart(i)) return &results[i];
  }
  return nullptr;
}

}  // namespace domian::bench
