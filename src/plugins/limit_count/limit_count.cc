// PLACEHOLDER: limit-count is being written; replace this file.
#include "plugins/limit_count/limit_count.h"

namespace apisix::plugins {

Result<std::shared_ptr<const Plugin>> LimitCount::compile(const boost::json::value&, CompileContext&) {
  return Error::config("limit-count is not implemented yet");
}

}  // namespace apisix::plugins
