#pragma once
// request-id (plugins.md §5.11, APISIX apisix/plugins/request-id.lua): gives each request an
// id in a header (kept when the client sent a non-empty one), sent upstream and, with
// include_in_response, back to the client. One instance per configured use; compiled on the
// control thread, then immutable and shared by every worker.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "plugins/plugin.h"

namespace apisix::plugins {

class RequestId final : public Plugin {
 public:
  static constexpr std::string_view kName = "request-id";
  static Result<std::shared_ptr<const Plugin>> compile(const boost::json::value& conf,
                                                       CompileContext& ctx);

  core::Task<PhaseResult> rewrite(Request& request) const override;
  void header_filter(Request& request, Response& response) const override;

  enum class Algorithm : uint8_t { Uuid, Nanoid, RangeId, Ksuid, Uuidv7 };

  // The generators, on the calling thread's random state (exposed for tests).
  static std::string uuid_v4();
  static std::string nanoid();
  static std::string range_id(size_t length, std::string_view char_set);
  static std::string ksuid();
  // The 27-character base62 text of a 20-byte KSUID (timestamp and payload).
  static std::string ksuid_text(const unsigned char (&raw)[20]);
  static std::string uuid_v7();
  // A new id of this instance's algorithm.
  std::string generate() const;

 private:
  std::string header_name_ = "X-Request-Id";
  bool include_in_response_ = true;
  Algorithm algorithm_ = Algorithm::Uuid;
  size_t range_length_ = 16;
  std::string range_char_set_;
};

}  // namespace apisix::plugins
