#pragma once
// mocking (plugins.md §5.18, APISIX apisix/plugins/mocking.lua): answers in the access phase
// with a configured or schema-generated response instead of calling the upstream. One
// instance per configured use; compiled on the control thread, then immutable and shared by
// every worker.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "plugins/plugin.h"
#include "plugins/template.h"

namespace apisix::plugins {

class Mocking final : public Plugin {
 public:
  static constexpr std::string_view kName = "mocking";
  static Result<std::shared_ptr<const Plugin>> compile(const boost::json::value& conf,
                                                       CompileContext& ctx);

  core::Task<PhaseResult> access(Request& request) const override;

  // The media type APISIX reads from a content_type: the part before the last `;` of the
  // first printable run that has one, else the whole text.
  static std::string_view media_type(std::string_view content_type);

  // A random value for `response_schema` (APISIX's gen_object): null stands for Lua's nil
  // (the key is left out). nullopt: the schema makes APISIX's generator raise an error
  // (a property without a string `type`), which answers 500.
  static std::optional<boost::json::value> generate(const boost::json::value& schema);
  // lua-cjson's encoding of a generated value (numbers "%.14g", `/` escaped, an empty array
  // is `{}`).
  static std::string encode_json(const boost::json::value& value);
  // xml2lua.toXml(value, "data") of a generated value.
  static std::string encode_xml(const boost::json::value& value);

 private:
  enum class BodyKind : uint8_t { Json, Xml, Empty };

  int delay_seconds_ = 0;
  int response_status_ = 200;
  std::string content_type_ = "application/json;charset=utf8";
  std::optional<Template> response_example_;
  boost::json::value response_schema_;
  BodyKind schema_body_ = BodyKind::Json;
  bool with_mock_header_ = true;
  std::vector<std::pair<std::string, Template>> response_headers_;
};

}  // namespace apisix::plugins
