// The runner over test plugins (plugins.md §1, §2): chain compilation and order, the phase
// mask, exits and _meta.error_response, _meta.filter, the consumer merge and its rewrite pass,
// prefer_route, and instance identity.
#include "plugins/runner.h"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "core/task.h"
#include "plugins/builtin.h"
#include "plugins/consumers.h"
#include "plugins/request_vars.h"
#include "plugins/runtime.h"

namespace apisix::plugins {
namespace {

namespace json = boost::json;

// What the test plugins did, in order: "<name>:<phase>".
std::vector<std::string>& trace() {
  static std::vector<std::string> t;
  return t;
}
// The CompileContext each compile() saw last, by plugin name.
std::map<std::string, CompileContext>& contexts() {
  static std::map<std::string, CompileContext> c;
  return c;
}

// A plugin that records its phases; with `exit` set in its conf, ends the request in the phase
// named there with that status.
template <const char* Name>
class Recorder : public Plugin {
 public:
  static constexpr std::string_view kName = Name;
  static Result<std::shared_ptr<const Plugin>> compile(const json::value& conf,
                                                       CompileContext& ctx) {
    contexts()[Name] = ctx;
    if (conf.as_object().contains("fail")) {
      return Error::config("property \"fail\" is not allowed");
    }
    auto p = std::make_shared<Recorder>();
    if (const auto* exit = conf.as_object().if_contains("exit")) {
      p->exit_phase_ = std::string(exit->as_object().at("phase").as_string());
      p->exit_status_ = static_cast<int>(exit->as_object().at("status").as_int64());
    }
    return std::shared_ptr<const Plugin>(std::move(p));
  }
  core::Task<PhaseResult> rewrite(Request& r) const override { co_return note("rewrite"); }
  core::Task<PhaseResult> access(Request& r) const override { co_return note("access"); }
  void header_filter(Request&, Response&) const override {
    trace().push_back(std::string(Name) + ":header_filter");
  }
  void log(Request&) const override { trace().push_back(std::string(Name) + ":log"); }

 private:
  PhaseResult note(std::string_view phase) const {
    trace().push_back(std::string(Name) + ":" + std::string(phase));
    if (phase == exit_phase_) {
      return Exit::message(exit_status_, std::string(Name) + " says no");
    }
    return std::nullopt;
  }
  std::string exit_phase_;
  int exit_status_ = 0;
};

// Only an access phase: the mask must say so.
class AccessOnly : public Plugin {
 public:
  static constexpr std::string_view kName = "access-only";
  static Result<std::shared_ptr<const Plugin>> compile(const json::value&, CompileContext&) {
    return std::shared_ptr<const Plugin>(std::make_shared<AccessOnly>());
  }
  core::Task<PhaseResult> access(Request&) const override {
    trace().push_back("access-only:access");
    co_return std::nullopt;
  }
};

constexpr char kHigh[] = "high";
constexpr char kLow[] = "low";
constexpr char kAuth[] = "auth-ish";
constexpr char kLogger[] = "logger";

const PluginFacts kFacts[] = {
    {"access-only", 50, "0.1", "", "", "", "", "", ""},
    {"auth-ish", 2500, "0.1", "auth", "", "", "", "", ""},
    {"high", 1000, "0.1", "", "", "", "", "", ""},
    {"logger", 500, "0.1", "", "", "prefer_route", "", "", ""},
    {"low", 10, "0.1", "", "", "", "", "", ""},
};

PluginKind kind_of(PluginKind k, std::string_view name) {
  for (const PluginFacts& f : kFacts) {
    if (f.name == name) k.facts = &f;
  }
  return k;
}

const std::vector<PluginKind>& kinds() {
  static const std::vector<PluginKind> k = {
      kind_of(make_kind<AccessOnly>(), "access-only"),
      kind_of(make_kind<Recorder<kAuth>>(), "auth-ish"),
      kind_of(make_kind<Recorder<kHigh>>(), "high"),
      kind_of(make_kind<Recorder<kLogger>>(), "logger"),
      kind_of(make_kind<Recorder<kLow>>(), "low"),
  };
  return k;
}

PhaseResult run_now(core::Task<PhaseResult> task) {
  std::optional<PhaseResult> out;
  core::spawn([](core::Task<PhaseResult> t, std::optional<PhaseResult>& o) -> core::Task<void> {
    o = co_await std::move(t);
  }(std::move(task), out));
  EXPECT_TRUE(out.has_value()) << "the phase suspended";
  return out ? std::move(*out) : std::nullopt;
}

class RunnerTest : public ::testing::Test {
 protected:
  RunnerTest() : registry_(kinds(), nullptr) {
    trace().clear();
    contexts().clear();
    ctx_.registry = &registry_;
    ctx_.runtime = &runtime_;
    head_text_ = "GET /x?version=v2 HTTP/1.1\r\nHost: h\r\n\r\n";
    EXPECT_EQ(http::parse_request_head(head_text_, head_, {}).status, http::ParseStatus::Complete);
  }

  // Merges `layers` ({origin, plugins JSON}) with chain.h and compiles the result.
  std::shared_ptr<const CompiledChain> chain(std::vector<std::pair<Origin, std::string>> layers) {
    PluginSet set;
    for (auto& [origin, text] : layers) {
      docs_.push_back(std::make_unique<json::value>(json::parse(text)));
      set.add(docs_.back()->as_object(), origin, "1",
              [this](std::string_view n) { return registry_.priority(n); });
    }
    std::vector<std::string> errors;
    auto c = build_chain(set.finish(), ctx_, errors);
    errors_ = errors;
    return c;
  }
  static ChainView view(const CompiledChain& c) { return ChainView{&c.items, nullptr}; }

  Registry registry_;
  RuntimeState runtime_;
  ChainContext ctx_;
  std::string head_text_;
  http::RequestHead head_;
  RequestFacts facts_{"/x", "h", "127.0.0.1", 5000, 9080};
  std::vector<std::unique_ptr<json::value>> docs_;
  std::vector<std::string> errors_;
};

TEST_F(RunnerTest, PhaseMaskComesFromTheOverriddenMembers) {
  PluginKind access_only = make_kind<AccessOnly>();
  EXPECT_EQ(access_only.phases, phase_bit(Phase::Access));
  PluginKind recorder = make_kind<Recorder<kHigh>>();
  EXPECT_EQ(recorder.phases, phase_bit(Phase::Rewrite) | phase_bit(Phase::Access) |
                                 phase_bit(Phase::HeaderFilter) | phase_bit(Phase::Log));
}

// plugins.md §1.1: descending priority within a phase; `_meta.priority` overrides it.
TEST_F(RunnerTest, ChainRunsByPriorityAndMetaPriorityReorders) {
  auto c = chain({{Origin::Route, R"({"low":{},"high":{},"access-only":{}})"}});
  ASSERT_EQ(c->items.size(), 3u);
  EXPECT_EQ(c->items[0]->name, "high");
  EXPECT_EQ(c->items[1]->name, "access-only");
  EXPECT_EQ(c->items[2]->name, "low");
  Request req(&head_, nullptr);
  EXPECT_FALSE(run_now(run_request_phase(Phase::Access, view(*c), req)));
  EXPECT_EQ(trace(), (std::vector<std::string>{"high:access", "access-only:access", "low:access"}));

  trace().clear();
  auto re = chain({{Origin::Route, R"({"low":{"_meta":{"priority":2000}},"high":{}})"}});
  Request req2(&head_, nullptr);
  EXPECT_FALSE(run_now(run_request_phase(Phase::Rewrite, view(*re), req2)));
  EXPECT_EQ(trace(), (std::vector<std::string>{"low:rewrite", "high:rewrite"}));
}

// plugins.md §0.2, §2: an exit stops the phase; _meta.error_response replaces the body of
// exits >= 400 only.
TEST_F(RunnerTest, ExitStopsThePhaseAndErrorResponseReplacesTheBody) {
  auto c = chain({{Origin::Route,
                   R"({"high":{"exit":{"phase":"access","status":403},
                               "_meta":{"error_response":{"message":"custom"}}},
                       "low":{}})"}});
  Request req(&head_, nullptr);
  PhaseResult r = run_now(run_request_phase(Phase::Access, view(*c), req));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->body, "{\"message\":\"custom\"}\n");
  EXPECT_EQ(trace(), (std::vector<std::string>{"high:access"}));

  auto plain = chain({{Origin::Route, R"({"high":{"exit":{"phase":"rewrite","status":302},
                                                "_meta":{"error_response":"nope"}}})"}});
  Request req2(&head_, nullptr);
  PhaseResult redirect = run_now(run_request_phase(Phase::Rewrite, view(*plain), req2));
  ASSERT_TRUE(redirect);
  EXPECT_EQ(redirect->body, "{\"message\":\"high says no\"}\n");  // 3xx keeps its body
}

// plugins.md §2: _meta.filter skips the instance when false; evaluated once per request.
TEST_F(RunnerTest, MetaFilterSkipsTheInstance) {
  auto c = chain({{Origin::Route, R"({"high":{"_meta":{"filter":[["arg_version","==","v2"]]}},
                                      "low":{"_meta":{"filter":[["arg_version","==","v1"]]}}})"}});
  RequestVars vars(head_, facts_);
  Request req(&head_, &vars);
  EXPECT_FALSE(run_now(run_request_phase(Phase::Rewrite, view(*c), req)));
  EXPECT_FALSE(run_now(run_request_phase(Phase::Access, view(*c), req)));
  run_log(view(*c), req);
  EXPECT_EQ(trace(), (std::vector<std::string>{"high:rewrite", "high:access", "high:log"}));

  chain({{Origin::Route, R"({"high":{"_meta":{"filter":[["arg_version","~=~","v2"]]}}})"}});
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_NE(errors_[0].find("failed to validate the 'vars' expression"), std::string::npos);
}

// plugins.md §1.3: a consumer's instance replaces the route's of the same name; a disabled
// consumer instance hides it. §1.2 step 4: the consumer pass runs only the consumer's non-auth
// plugins.
TEST_F(RunnerTest, ConsumerMergeAndRewriteInConsumer) {
  auto route = chain({{Origin::Route, R"({"auth-ish":{},"high":{},"low":{}})"}});
  auto consumer = chain({{Origin::ConsumerGroup, R"({"access-only":{}})"},
                         {Origin::Consumer, R"({"high":{"_meta":{"priority":1}}})"}});
  std::vector<const Instance*> merged;
  merge_consumer(*route, *consumer, merged);
  std::vector<std::string> names;
  for (const Instance* i : merged) names.emplace_back(i->name);
  EXPECT_EQ(names, (std::vector<std::string>{"auth-ish", "access-only", "low", "high"}));
  EXPECT_EQ(merged[3]->origin, Origin::Consumer);

  Request req(&head_, nullptr);
  ChainView mv{nullptr, &merged};
  EXPECT_FALSE(run_now(run_request_phase(Phase::Rewrite, mv, req, true)));
  EXPECT_EQ(trace(), (std::vector<std::string>{"high:rewrite"}));  // consumer's, not auth

  auto hiding = std::const_pointer_cast<CompiledChain>(chain({{Origin::Consumer, R"({})"}}));
  hiding->hides.push_back("low");
  merge_consumer(*route, *hiding, merged);
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged[1]->name, "high");
}

// plugins.md §1.3: a prefer_route global instance is skipped when the route has the plugin.
TEST_F(RunnerTest, PreferRouteGlobalInstanceYieldsToTheRoutes) {
  auto global = chain({{Origin::GlobalRule, R"({"logger":{},"high":{}})"}});
  auto route = chain({{Origin::Route, R"({"logger":{}})"}});
  auto other = chain({{Origin::Route, R"({"low":{}})"}});
  Request req(&head_, nullptr);
  run_log(view(*global), req, route.get());
  EXPECT_EQ(trace(), (std::vector<std::string>{"high:log"}));
  trace().clear();
  run_log(view(*global), req, other.get());
  EXPECT_EQ(trace(), (std::vector<std::string>{"high:log", "logger:log"}));
}

// plugins.md §0.6: identity = resource key + configuration version; compile errors leave the
// instance out.
TEST_F(RunnerTest, InstanceIdentityAndCompileErrors) {
  chain({{Origin::Route, R"({"high":{"a":1,"b":[1,2]}})"}});
  std::string first = contexts()["high"].conf_version;
  EXPECT_EQ(contexts()["high"].resource_key, "/apisix/routes/1");
  chain({{Origin::Route, R"({"high":{"b":[1,2],"a":1}})"}});
  EXPECT_EQ(contexts()["high"].conf_version, first);  // key order does not matter
  chain({{Origin::Route, R"({"high":{"a":2,"b":[1,2]}})"}});
  EXPECT_NE(contexts()["high"].conf_version, first);
  chain({{Origin::Service, R"({"high":{}})"}});
  EXPECT_EQ(contexts()["high"].resource_key, "/apisix/services/1");

  auto c = chain({{Origin::Route, R"({"high":{"fail":true},"low":{}})"}});
  ASSERT_EQ(c->items.size(), 1u);
  EXPECT_EQ(c->items[0]->name, "low");
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_NE(errors_[0].find("property \"fail\" is not allowed"), std::string::npos);
}

TEST_F(RunnerTest, RuntimeStateIsSharedWhileAliveAndDroppedAfter) {
  RuntimeState state;
  auto a = state.obtain<int>("k", [] { return std::make_shared<int>(7); });
  auto b = state.obtain<int>("k", [] { return std::make_shared<int>(8); });
  EXPECT_EQ(a.get(), b.get());
  a.reset();
  b.reset();
  auto c = state.obtain<int>("k", [] { return std::make_shared<int>(9); });
  EXPECT_EQ(*c, 9);
}

TEST_F(RunnerTest, RequestHeaderEditsAndConsumerHeaders) {
  std::string text = "GET / HTTP/1.1\r\nHost: h\r\nX-Consumer-Username: spoofed\r\nA: 1\r\n\r\n";
  http::RequestHead head;
  ASSERT_EQ(http::parse_request_head(text, head, {}).status, http::ParseStatus::Complete);
  Request req(&head, nullptr);
  req.set_header("a", "2");
  EXPECT_EQ(req.header("A"), "2");
  Consumer jack;
  jack.username = "jack";
  req.attach_consumer(jack, "");
  EXPECT_EQ(req.header("x-consumer-username"), "jack");
  EXPECT_TRUE(req.upstream_headers().drops("X-Credential-Identifier"));
  EXPECT_TRUE(req.upstream_headers().drops("X-Consumer-Custom-ID"));
  EXPECT_EQ(req.var("consumer_name"), "jack");
}

}  // namespace
}  // namespace apisix::plugins
