#include "plugins/ip_restriction/ip_restriction.h"

#include <vector>

#include <boost/json/object.hpp>

#include "plugins/conf_value.h"
#include "plugins/request.h"

namespace apisix::plugins {

namespace {

namespace json = boost::json;

std::vector<std::string> strings_of(const json::value& list) {
  std::vector<std::string> out;
  if (list.is_array()) {
    for (const json::value& item : list.get_array()) {
      if (item.is_string()) {
        out.emplace_back(item.get_string());
      }
    }
  }
  return out;
}

}  // namespace

Result<std::shared_ptr<const Plugin>> IpRestriction::compile(const json::value& conf,
                                                             CompileContext& /*ctx*/) {
  auto plugin = std::make_shared<IpRestriction>();
  const json::object& obj = conf.get_object();
  if (const json::value* v = obj.if_contains("message"); v != nullptr && v->is_string()) {
    plugin->message_ = std::string(v->get_string());
  }
  if (const json::value* v = obj.if_contains("response_code"); v != nullptr && v->is_number()) {
    plugin->response_code_ = int32_of(*v);
  }
  // The schema allows exactly one of the lists. Each entry must parse as an address or a
  // CIDR block ("invalid ip address: <entry>", APISIX's check_schema).
  const json::value* list = obj.if_contains("whitelist");
  plugin->is_whitelist_ = list != nullptr;
  if (list == nullptr) {
    list = obj.if_contains("blacklist");
  }
  if (list != nullptr) {
    auto matcher = router::IpMatcher::compile(strings_of(*list));
    if (!matcher) {
      return matcher.error();
    }
    plugin->list_ = std::move(matcher.value());
  }
  return std::shared_ptr<const Plugin>(std::move(plugin));
}

bool IpRestriction::blocks(std::string_view remote_addr) const {
  bool listed = list_.contains(remote_addr);
  return is_whitelist_ ? !listed : listed;
}

core::Task<PhaseResult> IpRestriction::access(Request& request) const {
  if (blocks(request.remote_addr())) {
    co_return Exit::message(response_code_, message_);
  }
  co_return std::nullopt;
}

}  // namespace apisix::plugins
