// PLACEHOLDER: mocking is being written; replace this file.
#include "plugins/mocking/mocking.h"

namespace apisix::plugins {

Result<std::shared_ptr<const Plugin>> Mocking::compile(const boost::json::value&, CompileContext&) {
  return Error::config("mocking is not implemented yet");
}

}  // namespace apisix::plugins
