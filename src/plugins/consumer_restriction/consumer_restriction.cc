#include "plugins/consumer_restriction/consumer_restriction.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "plugins/consumers.h"
#include "plugins/request.h"

namespace apisix::plugins {

namespace {

std::vector<std::string> strings_of(const boost::json::object& conf, std::string_view field) {
  std::vector<std::string> out;
  if (const auto* v = conf.if_contains(field); v && v->is_array()) {
    for (const auto& item : v->get_array()) {
      if (item.is_string()) {
        out.emplace_back(item.get_string());
      }
    }
  }
  return out;
}

bool contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

Result<std::shared_ptr<const Plugin>> ConsumerRestriction::compile(const boost::json::value& conf,
                                                                   CompileContext&) {
  const boost::json::object* obj = conf.if_object();
  if (obj == nullptr) {
    return Error::config("consumer-restriction: configuration is not an object");
  }
  std::shared_ptr<ConsumerRestriction> plugin(new ConsumerRestriction());
  plugin->type_ = "consumer_name";
  if (const auto* type = obj->if_contains("type"); type && type->is_string()) {
    plugin->type_ = std::string(type->get_string());
  }
  if (plugin->type_ == "consumer_name") {
    plugin->subject_ = Subject::ConsumerName;
  } else if (plugin->type_ == "service_id") {
    plugin->subject_ = Subject::ServiceId;
  } else if (plugin->type_ == "route_id") {
    plugin->subject_ = Subject::RouteId;
  } else if (plugin->type_ == "consumer_group_id") {
    plugin->subject_ = Subject::ConsumerGroupId;
  } else {
    return Error::config("property \"type\" validation failed: matches none of the enum values");
  }
  plugin->blacklist_ = strings_of(*obj, "blacklist");
  plugin->whitelist_ = strings_of(*obj, "whitelist");
  if (const auto* list = obj->if_contains("allowed_by_methods"); list && list->is_array()) {
    for (const auto& item : list->get_array()) {
      AllowedMethods entry;
      if (const auto* e = item.if_object()) {
        if (const auto* user = e->if_contains("user"); user && user->is_string()) {
          entry.user = std::string(user->get_string());
        }
        entry.methods = strings_of(*e, "methods");
      }
      plugin->allowed_by_methods_.push_back(std::move(entry));
    }
  }
  if (const auto* code = obj->if_contains("rejected_code")) {
    if (code->is_int64() && code->get_int64() <= std::numeric_limits<int>::max()) {
      plugin->rejected_code_ = static_cast<int>(code->get_int64());
    } else if (code->is_double() && code->get_double() <= std::numeric_limits<int>::max()) {
      plugin->rejected_code_ = static_cast<int>(code->get_double());
    } else {
      return Error::config("property \"rejected_code\" validation failed: wrong type");
    }
  }
  if (const auto* msg = obj->if_contains("rejected_msg"); msg && msg->is_string()) {
    plugin->rejected_message_ = std::string(msg->get_string());
  } else {
    plugin->rejected_message_ = "The " + plugin->type_ + " is forbidden.";
  }
  plugin->missing_message_ =
      "The request is rejected, please check the " + plugin->type_ + " for this request";
  return std::shared_ptr<const Plugin>(std::move(plugin));
}

core::Task<PhaseResult> ConsumerRestriction::access(Request& request) const {
  co_return check(request);
}

std::optional<std::string_view> ConsumerRestriction::subject_value(const Request& request) const {
  std::string_view value;
  switch (subject_) {
    case Subject::ConsumerName:
      if (request.consumer() == nullptr) {
        return std::nullopt;
      }
      return std::string_view(request.consumer()->username);
    case Subject::ConsumerGroupId:
      if (request.consumer() != nullptr) {
        value = request.consumer()->group_id;
      }
      break;
    case Subject::RouteId:
      value = request.route.route_id;
      break;
    case Subject::ServiceId:
      value = request.route.service_id;
      break;
  }
  // "" stands for "none" in Consumer and RouteFacts.
  if (value.empty()) {
    return std::nullopt;
  }
  return value;
}

bool ConsumerRestriction::method_allowed(std::string_view value, std::string_view method) const {
  // The first entry naming the value decides; a value no entry names is not restricted.
  for (const AllowedMethods& entry : allowed_by_methods_) {
    if (entry.user && *entry.user == value) {
      return contains(entry.methods, method);
    }
  }
  return true;
}

PhaseResult ConsumerRestriction::check(const Request& request) const {
  // plugins.md §4.5.
  std::optional<std::string_view> value = subject_value(request);
  if (!value) {
    return Exit::message(401, missing_message_);
  }
  if (contains(blacklist_, *value)) {
    return Exit::message(rejected_code_, rejected_message_);
  }
  bool blocked = false;
  bool whitelisted = false;
  if (!whitelist_.empty()) {
    whitelisted = contains(whitelist_, *value);
    blocked = !whitelisted;
  }
  if (!allowed_by_methods_.empty() && !whitelisted && !method_allowed(*value, request.method())) {
    blocked = true;
  }
  if (blocked) {
    return Exit::message(rejected_code_, rejected_message_);
  }
  return std::nullopt;
}

}  // namespace apisix::plugins
