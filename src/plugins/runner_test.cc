// The runner over test plugins: chain compilation, order, phases, exits, _meta.
#include "plugins/runner.h"

#include <gtest/gtest.h>

#include "plugins/builtin.h"

namespace apisix::plugins {
namespace {

TEST(RunnerTest, EmptyChain) {
  Registry registry(std::span<const PluginKind>{}, nullptr);
  ChainContext ctx;
  ctx.registry = &registry;
  std::vector<std::string> errors;
  auto chain = build_chain({}, ctx, errors);
  EXPECT_TRUE(chain->empty());
  EXPECT_TRUE(errors.empty());
}

}  // namespace
}  // namespace apisix::plugins
