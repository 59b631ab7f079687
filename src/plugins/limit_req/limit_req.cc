// PLACEHOLDER: limit-req is being written; replace this file.
#include "plugins/limit_req/limit_req.h"

namespace apisix::plugins {

Result<std::shared_ptr<const Plugin>> LimitReq::compile(const boost::json::value&, CompileContext&) {
  return Error::config("limit-req is not implemented yet");
}

}  // namespace apisix::plugins
