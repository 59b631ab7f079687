// PLACEHOLDER: echo is being written; replace this file.
#include "plugins/echo/echo.h"

namespace apisix::plugins {

Result<std::shared_ptr<const Plugin>> Echo::compile(const boost::json::value&, CompileContext&) {
  return Error::config("echo is not implemented yet");
}

}  // namespace apisix::plugins
