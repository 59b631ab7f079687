// PLACEHOLDER: prometheus is being written; replace this file.
#include "plugins/prometheus/prometheus.h"

namespace apisix::plugins {

Result<std::shared_ptr<const Plugin>> Prometheus::compile(const boost::json::value&, CompileContext&) {
  return Error::config("prometheus is not implemented yet");
}

}  // namespace apisix::plugins
