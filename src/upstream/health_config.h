#pragma once
// HealthConfig: an upstream's `checks` object (core.md §4.4.2) as a typed, immutable struct
// with APISIX's defaults filled in. Built by the control thread when a snapshot is built;
// shared read-only with the health state and the active checker afterwards.
//
// The config layer (src/config/resource_parse.cc) already validates `checks` with APISIX's
// message shapes; parse_health_config() checks again because it is the one that turns the
// JSON into numbers, and its messages name the field (`checks.active.healthy.successes: ...`).

#include <bitset>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "core/result.h"

namespace apisix::upstream {

// How active probes talk to a node; for passive checks only Tcp differs (a stream session
// that did not end with 200 counts as a TCP failure).
enum class CheckType : uint8_t { Http, Https, Tcp };
std::string_view to_string(CheckType type);

// A set of HTTP status codes 200..599 (the schema's range); membership is one bit test.
class StatusSet {
 public:
  StatusSet() = default;
  StatusSet(std::initializer_list<int> statuses);
  bool contains(int status) const {
    return status >= 0 && status < kLimit && bits_.test(static_cast<size_t>(status));
  }
  void insert(int status) { bits_.set(static_cast<size_t>(status)); }
  bool operator==(const StatusSet&) const = default;

 private:
  static constexpr int kLimit = 600;
  std::bitset<kLimit> bits_;
};

// `healthy.*`: statuses counted as successes and how many successes make a node healthy.
struct HealthyRules {
  std::chrono::milliseconds interval{0};  // active only: probe period of healthy nodes; 0 = never
  StatusSet http_statuses;
  uint32_t successes = 0;  // 0 = successes are not counted (passive only)
  bool operator==(const HealthyRules&) const = default;
};

// `unhealthy.*`: statuses counted as HTTP failures and how many failures of each kind make a
// node unhealthy. A threshold of 0 (passive only) disables that counter.
struct UnhealthyRules {
  std::chrono::milliseconds interval{0};  // active only: probe period of unhealthy nodes
  StatusSet http_statuses;
  uint32_t http_failures = 0;
  uint32_t tcp_failures = 0;
  uint32_t timeouts = 0;
  bool operator==(const UnhealthyRules&) const = default;
};

// `checks.active`.
struct ActiveCheck {
  CheckType type = CheckType::Http;
  std::chrono::milliseconds timeout{1000};  // per socket operation (connect, send, receive)
  uint32_t concurrency = 10;                // probes in flight per round; 0 behaves like 1
  std::string http_method = "GET";
  std::string http_path = "/";
  std::string http_req_body;
  std::string host;   // empty: probe by node IP (and Host = node domain or IP)
  uint16_t port = 0;  // 0: the node's port
  bool https_verify_certificate = true;
  std::vector<std::string> req_headers;  // "Name: value" lines, sent as given
  HealthyRules healthy;
  UnhealthyRules unhealthy;
  bool operator==(const ActiveCheck&) const = default;
};

// `checks.passive`. Also holds the thresholds used for failed tries when `passive` is absent
// (core.md §7.7: the checker library's defaults apply then).
struct PassiveCheck {
  CheckType type = CheckType::Http;
  HealthyRules healthy;
  UnhealthyRules unhealthy;
  bool operator==(const PassiveCheck&) const = default;
};

struct HealthConfig {
  ActiveCheck active;
  PassiveCheck passive;
  // Whether `checks.passive` was given: only then does the gateway classify the final response
  // status of every request (core.md §7.7). Failed tries are reported either way.
  bool passive_configured = false;
  bool operator==(const HealthConfig&) const = default;

  // Whether active probing runs at all (some interval is non-zero).
  bool probes_anything() const {
    return active.healthy.interval.count() > 0 || active.unhealthy.interval.count() > 0;
  }
};

// Parses an upstream's `checks` value. Defaults follow core.md §4.4.2, including its caveat:
// an absent `active.healthy` (or `active.unhealthy`) object leaves that interval at 0, so
// targets in that state are never probed, as in APISIX. Errors are ErrorSource::Config.
[[nodiscard]] Result<HealthConfig> parse_health_config(const boost::json::value& checks);

}  // namespace apisix::upstream
