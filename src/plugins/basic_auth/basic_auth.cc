// PLACEHOLDER: basic-auth is being written; replace this file.
#include "plugins/basic_auth/basic_auth.h"

namespace apisix::plugins {

Result<std::shared_ptr<const Plugin>> BasicAuth::compile(const boost::json::value&, CompileContext&) {
  return Error::config("basic-auth is not implemented yet");
}

}  // namespace apisix::plugins
