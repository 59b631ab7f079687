#pragma once
// The prometheus plugin (plugins.md §6.1, APISIX apisix/plugins/prometheus.lua): in the log
// phase, counts the request into the process's Exporter (exporter.h) — apisix_http_status,
// apisix_http_latency (request/upstream/apisix) and apisix_bandwidth (ingress/egress) — with
// the route, service, consumer and node as labels. `prefer_name` labels routes and services by
// name. The metadata's `disabled_labels` collapse labels to "". The exposition is served by
// ExportServer (export_server.h), which the gateway runs on its control thread.

#include <memory>
#include <string_view>

#include <boost/json/value.hpp>

#include "plugins/plugin.h"
#include "plugins/prometheus/exporter.h"

namespace apisix::plugins {

class Prometheus final : public Plugin {
 public:
  static constexpr std::string_view kName = "prometheus";
  // Uses the process's exporter, making it from ctx.attr (plugin_attr.prometheus) and
  // ctx.worker_count if nothing made it before.
  static Result<std::shared_ptr<const Plugin>> compile(const boost::json::value& conf,
                                                       CompileContext& ctx);

  Prometheus(prometheus::Exporter& exporter, bool prefer_name, prometheus::DisabledLabels disabled)
      : exporter_(exporter), prefer_name_(prefer_name), disabled_(disabled) {}

  void log(Request& request) const override;

  bool prefer_name() const { return prefer_name_; }
  const prometheus::DisabledLabels& disabled_labels() const { return disabled_; }

 private:
  prometheus::Exporter& exporter_;
  const bool prefer_name_;
  const prometheus::DisabledLabels disabled_;
};

}  // namespace apisix::plugins
