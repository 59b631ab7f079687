// Fuzzes the route `vars` engine (core.md §5.7, §6.9). The input is JSON text: it is compiled
// as an expression and evaluated against variables derived from the same bytes, and it also
// feeds the helpers the request side uses (query_arg, cookie_value, IpMatcher). Checks that
// nothing crashes and that evaluation is deterministic.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>

#include "fuzz/fuzz_support.h"
#include "router/expr.h"
#include "router/ip_match.h"
#include "router/vars.h"

namespace {

using apisix::fuzz::require;

using apisix::router::VarRef;
using apisix::router::VarValue;

// Answers every variable from slices of the input, chosen by a hash of the variable name,
// so the fuzzer can steer values (strings, booleans, nil, arrays) through the input.
class InputVars final : public apisix::router::VarSource {
 public:
  explicit InputVars(std::string_view input) : input_(input) {
    // Array values: the input cut at commas.
    size_t pos = 0;
    while (pos <= input_.size() && pieces_.size() < 16) {
      size_t comma = input_.find(',', pos);
      if (comma == std::string_view::npos) {
        comma = input_.size();
      }
      pieces_.push_back(input_.substr(pos, comma - pos));
      pos = comma + 1;
    }
  }

  VarValue get(const VarRef& ref) const override {
    uint32_t h = 2166136261u ^ static_cast<uint32_t>(ref.kind);
    for (char c : ref.name) {
      h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
    }
    switch (h % 6) {
      case 0:
        return VarValue::nil();
      case 1:
        return VarValue::from_bool((h >> 8) & 1);
      case 2:
        return VarValue::from_array(pieces_);
      case 3: {
        // The query-argument path: look the name up in the input as a query string.
        bool bare = false;
        const auto v = apisix::router::query_arg(input_, ref.name, bare);
        return v ? VarValue::string(*v) : bare ? VarValue::from_bool(true) : VarValue::nil();
      }
      case 4: {
        const auto v = apisix::router::cookie_value(input_, ref.name);
        return v ? VarValue::string(*v) : VarValue::nil();
      }
      default: {
        if (input_.empty()) {
          return VarValue::string(input_);
        }
        const size_t begin = (h >> 3) % input_.size();
        const size_t len = (h >> 13) % (input_.size() - begin + 1);
        return VarValue::string(input_.substr(begin, len));
      }
    }
  }

 private:
  std::string_view input_;
  std::vector<std::string_view> pieces_;
};

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's entry point
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  InputVars vars(input);

  boost::system::error_code ec;
  const boost::json::value rule = boost::json::parse(input, ec);
  if (!ec) {
    apisix::Result<apisix::router::Expr> expr = apisix::router::Expr::compile(rule);
    if (expr.ok()) {
      const bool first = expr->eval(vars);
      require(first == expr->eval(vars), "eval is deterministic");
      if (expr->is_always_true()) {
        require(first, "[] is true");
      }
    } else {
      require(!expr.error().context.empty(), "errors carry a message");
    }
  }

  // The helpers on raw bytes: every returned view lies inside the input.
  bool bare = false;
  if (const auto v = apisix::router::query_arg(input, input.substr(0, size % 8), bare)) {
    require(v->data() >= input.data() && v->data() + v->size() <= input.data() + input.size(),
            "query_arg returns a view into the query");
  }
  if (const auto v = apisix::router::cookie_value(input, input.substr(0, size % 5))) {
    require(v->data() >= input.data() && v->data() + v->size() <= input.data() + input.size(),
            "cookie_value returns a view into the header");
  }

  // IpMatcher on lines of the input: the first half are rules, the rest addresses.
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < input.size() && lines.size() < 32) {
    size_t nl = input.find('\n', pos);
    if (nl == std::string_view::npos) {
      nl = input.size();
    }
    lines.emplace_back(input.substr(pos, nl - pos));
    pos = nl + 1;
  }
  const size_t half = lines.size() / 2;
  std::vector<std::string> rules(lines.begin(), lines.begin() + static_cast<ptrdiff_t>(half));
  apisix::Result<apisix::router::IpMatcher> ips = apisix::router::IpMatcher::compile(rules);
  if (ips.ok()) {
    size_t hits = 0;
    for (size_t i = half; i < lines.size(); ++i) {
      hits += ips->contains(lines[i]) ? 1 : 0;
    }
    require(hits <= lines.size() - half, "contains() is a plain yes/no");
    for (const std::string& rule_text : rules) {
      if (rule_text.find('/') == std::string::npos) {
        require(ips->contains(rule_text), "an address rule contains that address");
      }
    }
  }
  return 0;
}
