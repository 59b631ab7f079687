// PLACEHOLDER: response-rewrite is being written; replace this file.
#include "plugins/response_rewrite/response_rewrite.h"

namespace apisix::plugins {

Result<std::shared_ptr<const Plugin>> ResponseRewrite::compile(const boost::json::value&, CompileContext&) {
  return Error::config("response-rewrite is not implemented yet");
}

}  // namespace apisix::plugins
