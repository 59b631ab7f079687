#include "plugins/fault_injection/fault_injection.h"

#include <cstdio>
#include <random>

#include <boost/json/object.hpp>

#include "core/loop.h"
#include "plugins/conf_value.h"
#include "plugins/request.h"

namespace apisix::plugins {

namespace {

namespace json = boost::json;

Result<FaultInjection::Condition> make_condition(const json::object& section) {
  FaultInjection::Condition when;
  if (const json::value* p = section.if_contains("percentage"); p != nullptr && p->is_number()) {
    when.percentage = int32_of(*p);
  }
  if (const json::value* vars = section.if_contains("vars"); vars != nullptr && vars->is_array()) {
    when.vars.emplace();
    for (const json::value& rule : vars->get_array()) {
      auto expr = router::Expr::compile(rule);
      if (!expr) {
        return expr.error();
      }
      when.vars->push_back(std::move(expr.value()));
    }
  }
  return when;
}

// APISIX's sample_hit: math.random(1, 100) <= percentage, on this thread's generator.
bool sample_hit(const std::optional<int>& percentage) {
  if (!percentage) {
    return true;
  }
  thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<int> pick(1, 100);
  return pick(rng) <= *percentage;
}

// APISIX's vars_match: the expressions are OR-ed; an empty list matches nothing.
bool vars_match(const FaultInjection::Condition& when, const Request& request) {
  if (!when.vars) {
    return true;
  }
  for (const router::Expr& expr : *when.vars) {
    if (expr.eval(request)) {
      return true;
    }
  }
  return false;
}

}  // namespace

Result<std::shared_ptr<const Plugin>> FaultInjection::compile(const json::value& conf,
                                                              CompileContext& /*ctx*/) {
  auto plugin = std::make_shared<FaultInjection>();
  const json::object& obj = conf.get_object();
  if (const json::value* v = obj.if_contains("abort"); v != nullptr && v->is_object()) {
    const json::object& section = v->get_object();
    Abort abort;
    if (const json::value* s = section.if_contains("http_status"); s && s->is_number()) {
      abort.http_status = int32_of(*s);
    }
    if (const json::value* b = section.if_contains("body"); b && b->is_string()) {
      abort.body = Template::compile(b->get_string());
    }
    if (const json::value* h = section.if_contains("headers"); h && h->is_object()) {
      for (const auto& [name, value] : h->get_object()) {
        if (!value.is_string() && !value.is_number()) {
          continue;  // APISIX fails such a header at run time; it is never sent
        }
        std::string text =
            value.is_string() ? std::string(value.get_string()) : lua_number_text(value);
        abort.headers.push_back(Header{std::string(name), Template::compile(text)});
      }
    }
    auto when = make_condition(section);
    if (!when) {
      return when.error();
    }
    abort.when = std::move(when.value());
    plugin->abort_ = std::move(abort);
  }
  if (const json::value* v = obj.if_contains("delay"); v != nullptr && v->is_object()) {
    const json::object& section = v->get_object();
    Delay delay;
    if (const json::value* d = section.if_contains("duration"); d && d->is_number()) {
      delay.duration = std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::duration<double>(d->to_number<double>()));
    }
    auto when = make_condition(section);
    if (!when) {
      return when.error();
    }
    delay.when = std::move(when.value());
    plugin->delay_ = std::move(delay);
  }
  return std::shared_ptr<const Plugin>(std::move(plugin));
}

core::Task<PhaseResult> FaultInjection::rewrite(Request& request) const {
  // Both conditions are read before the delay, as APISIX does.
  const bool abort_vars = abort_ && vars_match(abort_->when, request);
  const bool delay_vars = delay_ && vars_match(delay_->when, request);

  if (delay_ && sample_hit(delay_->when.percentage) && delay_vars) {
    if (request.loop != nullptr && delay_->duration.count() > 0) {
      co_await request.loop->sleep_for(
          std::chrono::duration_cast<core::Clock::duration>(delay_->duration));
    }
  }

  if (abort_ && sample_hit(abort_->when.percentage) && abort_vars) {
    Exit exit = abort_->body ? Exit::text(abort_->http_status, abort_->body->render(request))
                             : Exit::status_only(abort_->http_status);
    for (const Header& h : abort_->headers) {
      exit.headers.emplace_back(h.name, h.value.render(request));
    }
    co_return exit;
  }
  co_return std::nullopt;
}

}  // namespace apisix::plugins
