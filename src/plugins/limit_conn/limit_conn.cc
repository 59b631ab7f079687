// PLACEHOLDER: limit-conn is being written; replace this file.
#include "plugins/limit_conn/limit_conn.h"

namespace apisix::plugins {

Result<std::shared_ptr<const Plugin>> LimitConn::compile(const boost::json::value&, CompileContext&) {
  return Error::config("limit-conn is not implemented yet");
}

}  // namespace apisix::plugins
