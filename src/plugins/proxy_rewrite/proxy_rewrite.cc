// PLACEHOLDER: proxy-rewrite is being written; replace this file.
#include "plugins/proxy_rewrite/proxy_rewrite.h"

namespace apisix::plugins {

Result<std::shared_ptr<const Plugin>> ProxyRewrite::compile(const boost::json::value&, CompileContext&) {
  return Error::config("proxy-rewrite is not implemented yet");
}

}  // namespace apisix::plugins
