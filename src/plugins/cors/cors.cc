// PLACEHOLDER: cors is being written; replace this file.
#include "plugins/cors/cors.h"

namespace apisix::plugins {

Result<std::shared_ptr<const Plugin>> Cors::compile(const boost::json::value&, CompileContext&) {
  return Error::config("cors is not implemented yet");
}

}  // namespace apisix::plugins
