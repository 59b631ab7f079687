// RESP reply parser (src/redis/resp.h): any byte stream either yields replies or a clean
// error, never a crash or unbounded memory; the replies do not depend on how the bytes were
// split into reads; every reply survives encode -> parse unchanged; and a command built from
// the input's bytes parses back as the same array of bulk strings.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "redis/resp.h"

namespace {

using apisix::fuzz::require;
using apisix::redis::Reply;
using apisix::redis::ReplyLimits;
using apisix::redis::ReplyParser;
using apisix::redis::ReplyType;

// Small limits, so inputs of a few hundred bytes reach every limit check.
ReplyLimits small_limits() {
  ReplyLimits limits;
  limits.max_bulk_bytes = 1024;
  limits.max_elements = 64;
  limits.max_depth = 8;
  limits.max_line_bytes = 128;
  return limits;
}

struct Outcome {
  std::vector<Reply> replies;
  bool failed = false;
  size_t leftover = 0;
};

// Feeds `data` in pieces whose sizes come from `seed` (0: all at once), draining after each.
Outcome parse(std::string_view data, uint32_t seed, ReplyLimits limits = small_limits()) {
  ReplyParser parser(limits);
  Outcome out;
  size_t at = 0;
  while (at < data.size() && !out.failed) {
    size_t piece = data.size() - at;
    if (seed != 0) {
      seed = seed * 1103515245u + 12345u;
      piece = std::min<size_t>(piece, 1 + (seed >> 16) % 17);
    }
    parser.feed(data.substr(at, piece));
    at += piece;
    for (;;) {
      auto next = parser.next();
      if (!next) {
        require(!next.error().context.empty(), "an error says what went wrong");
        require(parser.has_failed(), "an error is final");
        require(!parser.next(), "an error repeats");
        out.failed = true;
        break;
      }
      if (!next->has_value()) {
        break;
      }
      out.replies.push_back(std::move(**next));
    }
  }
  out.leftover = out.failed ? 0 : parser.buffered_bytes();
  return out;
}

size_t depth(const Reply& reply) {
  size_t deepest = 0;
  for (const Reply& element : reply.elements) {
    deepest = std::max(deepest, depth(element));
  }
  bool aggregate = reply.type == ReplyType::Array || reply.type == ReplyType::Map ||
                   reply.type == ReplyType::Set || reply.type == ReplyType::Push;
  return deepest + (aggregate ? 1 : 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Outcome whole = parse(input, 0);
  uint32_t seed = size > 0 ? 1u + data[0] : 1u;
  Outcome pieces = parse(input, seed);
  require(whole.failed == pieces.failed, "splitting does not change success");
  require(whole.replies == pieces.replies, "splitting does not change the replies");
  require(whole.leftover == pieces.leftover, "splitting does not change what is left over");

  ReplyLimits limits = small_limits();
  for (const Reply& reply : whole.replies) {
    require(depth(reply) <= limits.max_depth, "depth limit holds");
    require(reply.str.size() <= std::max(limits.max_bulk_bytes, limits.max_line_bytes),
            "size limits hold");
    require(reply.elements.size() <= limits.max_elements, "element limit holds");
    std::string encoded = apisix::redis::encode_reply(reply);
    // A blob error without CR or LF comes back as a simple error line, as long as the blob.
    ReplyLimits relaxed = limits;
    relaxed.max_line_bytes = limits.max_bulk_bytes;
    Outcome again = parse(encoded, 0, relaxed);
    // An error reply whose text holds CR or LF is re-encoded as a RESP3 blob error, and a
    // null array as a null bulk: both parse back as equal values.
    require(!again.failed && again.replies.size() == 1 && again.leftover == 0,
            "an encoded reply parses");
    require(again.replies[0] == reply, "a reply survives encode and parse");
    (void)apisix::redis::describe(reply);
  }

  // The input split at NUL bytes is a command; it parses back as itself.
  std::vector<std::string> args;
  size_t start = 0;
  for (size_t i = 0; i <= input.size() && args.size() < 32; ++i) {
    if (i == input.size() || input[i] == '\0') {
      args.emplace_back(input.substr(start, i - start));
      start = i + 1;
    }
  }
  std::string command = apisix::redis::encode_command(args);
  ReplyParser parser;  // default limits: a command of any fuzz input size fits
  parser.feed(command);
  auto parsed = parser.next();
  require(parsed && parsed->has_value(), "an encoded command parses");
  const Reply& array = **parsed;
  require(array.type == ReplyType::Array && array.elements.size() == args.size(),
          "a command is an array of its arguments");
  for (size_t i = 0; i < args.size(); ++i) {
    require(array.elements[i].type == ReplyType::Bulk && array.elements[i].str == args[i],
            "each argument is a bulk string");
  }
  require(parser.buffered_bytes() == 0, "nothing follows an encoded command");
  return 0;
}
