// PLACEHOLDER: redirect is being written; replace this file.
#include "plugins/redirect/redirect.h"

namespace apisix::plugins {

Result<std::shared_ptr<const Plugin>> Redirect::compile(const boost::json::value&, CompileContext&) {
  return Error::config("redirect is not implemented yet");
}

}  // namespace apisix::plugins
