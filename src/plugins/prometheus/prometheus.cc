#include "plugins/prometheus/prometheus.h"

#include <array>
#include <atomic>
#include <chrono>
#include <vector>

#include "core/log.h"
#include "plugins/consumers.h"
#include "plugins/request.h"

namespace apisix::plugins {

namespace json = boost::json;
using prometheus::ExtraLabel;
using prometheus::RequestRecord;
using prometheus::ResponseSource;

namespace {

// The node's IP from "ip:port" ("[v6]:port" keeps its brackets); "" stays "".
std::string_view node_ip(std::string_view addr) {
  size_t colon = addr.rfind(':');
  if (colon == std::string_view::npos) {
    return addr;
  }
  if (addr.front() == '[') {
    size_t close = addr.find(']');
    return close != std::string_view::npos ? addr.substr(0, close + 1) : addr;
  }
  // A bare IPv6 address has more than one colon and no port.
  return addr.find(':') == colon ? addr.substr(0, colon) : addr;
}

// An extra label's value: the variable as the log phase can read it (APISIX reads ctx.var),
// "" when it has none. The request head is gone by now, so variables taken from it read "".
std::string_view extra_value(const Request& request, const ExtraLabel& label,
                             std::string_view node) {
  if (label.var.kind == router::VarKind::Builtin) {
    const std::string& n = label.var.name;
    if (n == "upstream_addr") {
      return request.outcome.upstream_addr;
    }
    if (n == "balancer_ip") {
      return node;
    }
    if (n == "request_type") {
      return "traditional_http";
    }
  }
  router::VarValue v = request.get(label.var);
  return v.kind == router::VarValue::Kind::String ? v.str : std::string_view{};
}

// Extra label values on the stack for the usual few labels.
class ExtraValues {
 public:
  ExtraValues(const Request& request, const std::vector<ExtraLabel>& labels,
              std::string_view node) {
    if (labels.size() > fixed_.size()) {
      spill_.reserve(labels.size());
      for (const ExtraLabel& l : labels) {
        spill_.push_back(extra_value(request, l, node));
      }
      view_ = spill_;
      return;
    }
    for (size_t i = 0; i < labels.size(); ++i) {
      fixed_[i] = extra_value(request, labels[i], node);
    }
    view_ = std::span<const std::string_view>(fixed_.data(), labels.size());
  }
  std::span<const std::string_view> view() const { return view_; }

 private:
  std::array<std::string_view, 8> fixed_;
  std::vector<std::string_view> spill_;
  std::span<const std::string_view> view_;
};

}  // namespace

Result<std::shared_ptr<const Plugin>> Prometheus::compile(const json::value& conf,
                                                          CompileContext& ctx) {
  prometheus::Exporter* exporter = prometheus::find_exporter();
  if (exporter == nullptr) {
    auto options = prometheus::ExporterOptions::from_attr(ctx.attr, ctx.worker_count);
    if (!options) {
      return options.error();
    }
    exporter = &prometheus::init_exporter(std::move(*options));
  }
  if (ctx.worker_count > exporter->worker_count()) {
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true)) {
      core::log_error("prometheus: the exporter was made for ", exporter->worker_count(),
                      " workers but the gateway runs ", ctx.worker_count,
                      "; requests of the others are not counted");
    }
  }
  bool prefer_name = false;
  if (const json::object* o = conf.if_object()) {
    if (const json::value* v = o->if_contains("prefer_name"); v && v->is_bool()) {
      prefer_name = v->get_bool();
    }
  }
  return std::shared_ptr<const Plugin>(std::make_shared<Prometheus>(
      *exporter, prefer_name, prometheus::DisabledLabels::from_metadata(ctx.metadata)));
}

void Prometheus::log(Request& request) const {
  const RouteFacts& route = request.route;
  const Outcome& outcome = request.outcome;
  RequestRecord r;
  r.status = request.response().status;
  // prefer_name falls back to the id when the route or service has no name (exporter.lua).
  r.route = prefer_name_ && !route.route_name.empty() ? route.route_name : route.route_id;
  if (!route.service_id.empty()) {
    r.service = prefer_name_ && !route.service_name.empty() ? route.service_name : route.service_id;
  }
  r.matched_uri = route.matched_uri;
  r.matched_host = route.matched_host;
  if (const Consumer* consumer = request.consumer()) {
    r.consumer = consumer->username;
  }
  r.node = node_ip(outcome.upstream_addr);
  // core.response.get_response_source: the upstream's response; a node was tried but sent no
  // response head (nginx's own error page); or made here.
  r.source = outcome.proxied                  ? ResponseSource::Upstream
             : !outcome.upstream_addr.empty() ? ResponseSource::Nginx
                                              : ResponseSource::Apisix;
  r.request_ms =
      std::chrono::duration<double, std::milli>(Request::Clock::now() - request.start()).count();
  if (outcome.upstream_latency.count() >= 0) {
    r.upstream_ms = static_cast<double>(outcome.upstream_latency.count());
  }
  r.request_bytes = outcome.request_length;
  r.sent_bytes = outcome.bytes_sent;

  const prometheus::ExporterOptions& options = exporter_.options();
  if (options.http_status_extra.empty() && options.http_latency_extra.empty() &&
      options.bandwidth_extra.empty()) {
    exporter_.record(request.worker_id, r, disabled_);
    return;
  }
  ExtraValues status_extra(request, options.http_status_extra, r.node);
  ExtraValues latency_extra(request, options.http_latency_extra, r.node);
  ExtraValues bandwidth_extra(request, options.bandwidth_extra, r.node);
  r.http_status_extra = status_extra.view();
  r.http_latency_extra = latency_extra.view();
  r.bandwidth_extra = bandwidth_extra.view();
  exporter_.record(request.worker_id, r, disabled_);
}

}  // namespace apisix::plugins
