// Fuzzes the Admin API's request handling (core.md §3) without sockets. The input is
// "METHOD TARGET\n" followed by the body; a few inputs in a row share one server so that
// writes meet earlier state (references, PATCH of stored objects). Checks that every answer
// is a 2xx/4xx/5xx with a body that is JSON where the API promises JSON, and never a crash.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/parse.hpp>

#include "admin/admin_server.h"
#include "fuzz/fuzz_support.h"

namespace {

using apisix::fuzz::require;

struct State {
  apisix::core::Loop loop;
  std::unique_ptr<apisix::admin::AdminServer> server;
  int uses = 0;
};

State& state() {
  static State s;
  if (!s.server || ++s.uses > 64) {
    apisix::admin::AdminOptions options;
    options.keys = std::vector<apisix::admin::AdminKey>{{"k", apisix::admin::Role::Admin}};
    s.server = std::make_unique<apisix::admin::AdminServer>(
        s.loop, options, [](const std::vector<apisix::admin::Change>&) {});
    s.uses = 0;
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t newline = input.find('\n');
  std::string_view line = input.substr(0, newline);
  std::string_view body =
      newline == std::string_view::npos ? std::string_view{} : input.substr(newline + 1);
  size_t space = line.find(' ');
  std::string_view method = line.substr(0, space);
  std::string_view target =
      space == std::string_view::npos ? "/apisix/admin/routes" : line.substr(space + 1);
  std::string_view path = target;
  std::string_view query;
  if (size_t q = target.find('?'); q != std::string_view::npos) {
    path = target.substr(0, q);
    query = target.substr(q + 1);
  }
  apisix::admin::AdminServer::Request request{method, path, query, body, "k", "", "127.0.0.1"};
  auto response = state().server->handle(request);
  require(response.status >= 200 && response.status < 600, "status in range");
  require(response.status != 500, "never a 500");
  if (response.json && !response.body.empty() &&
      response.body != "page_size must be between 10 and 500" && response.body != "done" &&
      response.body != "invalid subsystem passed") {
    boost::system::error_code ec;
    boost::json::parse(response.body, ec);
    require(!ec, "JSON body parses");
  }
  return 0;
}
