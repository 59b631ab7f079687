// PLACEHOLDER: ip-restriction is being written; replace this file.
#include "plugins/ip_restriction/ip_restriction.h"

namespace apisix::plugins {

Result<std::shared_ptr<const Plugin>> IpRestriction::compile(const boost::json::value&, CompileContext&) {
  return Error::config("ip-restriction is not implemented yet");
}

}  // namespace apisix::plugins
