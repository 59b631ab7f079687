// PLACEHOLDER: key-auth is being written; replace this file.
#include "plugins/key_auth/key_auth.h"

namespace apisix::plugins {

Result<std::shared_ptr<const Plugin>> KeyAuth::compile(const boost::json::value&, CompileContext&) {
  return Error::config("key-auth is not implemented yet");
}

}  // namespace apisix::plugins
