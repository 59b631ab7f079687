// PLACEHOLDER: fault-injection is being written; replace this file.
#include "plugins/fault_injection/fault_injection.h"

namespace apisix::plugins {

Result<std::shared_ptr<const Plugin>> FaultInjection::compile(const boost::json::value&, CompileContext&) {
  return Error::config("fault-injection is not implemented yet");
}

}  // namespace apisix::plugins
