// PLACEHOLDER: consumer-restriction is being written; replace this file.
#include "plugins/consumer_restriction/consumer_restriction.h"

namespace apisix::plugins {

Result<std::shared_ptr<const Plugin>> ConsumerRestriction::compile(const boost::json::value&, CompileContext&) {
  return Error::config("consumer-restriction is not implemented yet");
}

}  // namespace apisix::plugins
