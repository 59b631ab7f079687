// PLACEHOLDER: request-id is being written; replace this file.
#include "plugins/request_id/request_id.h"

namespace apisix::plugins {

Result<std::shared_ptr<const Plugin>> RequestId::compile(const boost::json::value&, CompileContext&) {
  return Error::config("request-id is not implemented yet");
}

}  // namespace apisix::plugins
