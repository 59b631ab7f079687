#pragma once
// The Control API's health check report (core.md §8.1): the JSON of `GET /v1/healthcheck`
// and `GET /v1/healthcheck/{type}/{id}`, and the HTML table sent instead when the request's
// Accept contains text/html. Pure functions over UpstreamHealth; called by the Control API on
// the control thread. Finding the resource (and the 400/404 messages) is the Control API's.

#include <memory>
#include <span>
#include <string>

#include <boost/json/value.hpp>

#include "upstream/health_config.h"
#include "upstream/health_state.h"

namespace apisix::upstream {

// One resource that has `checks`.
struct HealthReportItem {
  // The resource's key as APISIX names it: the etcd key ("/apisix/upstreams/1") with etcd,
  // "/routes/1" in standalone mode.
  std::string name;
  // checks.active.type (APISIX falls back to passive.type, but active is always present).
  CheckType type = CheckType::Http;
  // Null while no checker exists (not built yet); an UpstreamHealth that no request has used
  // counts as no checker, as in APISIX (core.md §7.7).
  std::shared_ptr<const UpstreamHealth> health;
};

// {"name":..., "type":"http", "nodes":[{"ip","port","hostname","hostheader"?,"status",
//   "counter":{"success","http_failure","tcp_failure","timeout_failure"}}, ...]}
// Nodes are in node order. Without a checker `nodes` is `{}`: APISIX encodes the empty Lua
// table as an object.
boost::json::object health_report_item(const HealthReportItem& item);

// The list of `GET /v1/healthcheck`. An empty list is `{}`, as APISIX sends it.
boost::json::value health_report_list(std::span<const HealthReportItem> items);

// The "APISIX upstream check status" HTML page (one table row per node).
std::string health_report_html(std::span<const HealthReportItem> items);

}  // namespace apisix::upstream
