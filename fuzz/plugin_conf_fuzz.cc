// Fuzzes what the built-in plugins parse from their configuration (plugins.md §0.4, each
// plugin's section): the input is "<plugin name>\n<JSON configuration>". A configuration the
// plugin's schema accepts is compiled with the plugin's compile() (templates, regexes, CIDR
// sets, base64 bodies, header maps, response schemas...); the whole input is also compiled as
// a variable template and rendered. Checks that nothing crashes and that rendering is
// deterministic.
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/parse.hpp>

#include "fuzz/fuzz_support.h"
#include "plugins/builtin.h"
#include "plugins/runtime.h"
#include "plugins/template.h"
#include "router/vars.h"

namespace {

using apisix::fuzz::require;

// Every variable answers with a slice of the input chosen by the name's length.
class InputVars final : public apisix::router::VarSource {
 public:
  explicit InputVars(std::string_view input) : input_(input) {}
  apisix::router::VarValue get(const apisix::router::VarRef& ref) const override {
    size_t n = ref.name.size();
    if (n % 5 == 0) {
      return apisix::router::VarValue::nil();
    }
    if (n % 7 == 0) {
      return apisix::router::VarValue::from_bool(n % 2 == 0);
    }
    size_t start = input_.empty() ? 0 : n % input_.size();
    return apisix::router::VarValue::string(input_.substr(start, 16));
  }

 private:
  std::string_view input_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const apisix::plugins::Registry registry;
  static apisix::plugins::RuntimeState runtime;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  InputVars vars(input);
  auto tmpl = apisix::plugins::Template::compile(input);
  std::string first = tmpl.render(vars);
  require(first == tmpl.render(vars), "template rendering is deterministic");

  size_t newline = input.find('\n');
  if (newline == std::string_view::npos) {
    return 0;
  }
  std::string_view name = input.substr(0, newline);
  const apisix::plugins::PluginKind* kind = registry.find(name);
  if (kind == nullptr) {
    return 0;
  }
  boost::system::error_code ec;
  boost::json::value conf = boost::json::parse(input.substr(newline + 1), ec);
  if (ec || !conf.is_object()) {
    return 0;
  }
  if (const apisix::schema::Schema* s = registry.schema_of(name)) {
    if (s->validate(conf)) {
      return 0;  // refused by the schema: compile() never sees it
    }
  }
  apisix::plugins::CompileContext ctx;
  ctx.resource_key = "/apisix/routes/fuzz";
  ctx.conf_version = "1";
  ctx.runtime = &runtime;
  auto compiled = kind->compile(conf, ctx);
  require(compiled.ok() ? compiled.value() != nullptr : !compiled.error().context.empty(),
          "compile() gives an instance or a message");
  return 0;
}
