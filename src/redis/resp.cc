#include "redis/resp.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

namespace apisix::redis {
namespace {

constexpr size_t kCompactAfter = 64u << 10;
constexpr size_t kMaxReserve = 64;  // never pre-allocate what a count merely claims

Error protocol_error(ErrorKind kind, std::string message) {
  return Error{kind, ErrorSource::Upstream, false, "redis protocol: " + std::move(message)};
}

// Strict decimal: an optional '-', then 1 to 19 digits, nothing else; false on overflow.
bool parse_int(std::string_view text, int64_t& out) {
  if (text.empty() || text.size() > 20 || text[0] == '+') {
    return false;
  }
  if (text[0] == '-' && (text.size() == 1 || text[1] == '-')) {
    return false;
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool is_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// RESP3 double: "inf", "-inf", "nan", or [+|-]digits[.digits][(e|E)[+|-]digits].
bool parse_double(std::string_view text, double& out) {
  if (text == "inf" || text == "+inf") {
    out = HUGE_VAL;
    return true;
  }
  if (text == "-inf") {
    out = -HUGE_VAL;
    return true;
  }
  if (text == "nan" || text == "-nan") {
    out = std::nan("");
    return true;
  }
  std::string_view rest = text;
  if (!rest.empty() && (rest[0] == '+' || rest[0] == '-')) {
    rest.remove_prefix(1);
  }
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') {
      ++i;
    }
    return i > start;
  };
  if (!digits()) {
    return false;
  }
  if (i < rest.size() && rest[i] == '.') {
    ++i;
    if (!digits()) {
      return false;
    }
  }
  if (i < rest.size() && (rest[i] == 'e' || rest[i] == 'E')) {
    ++i;
    if (i < rest.size() && (rest[i] == '+' || rest[i] == '-')) {
      ++i;
    }
    if (!digits()) {
      return false;
    }
  }
  if (i != rest.size()) {
    return false;
  }
  std::string copy(text[0] == '+' ? text.substr(1) : text);
  char* end = nullptr;
  out = std::strtod(copy.c_str(), &end);  // range errors give ±HUGE_VAL or 0: acceptable
  return end == copy.c_str() + copy.size();
}

template <typename Strings>
void append_command_impl(std::string& out, const Strings& args) {
  size_t bytes = 16;
  for (const auto& arg : args) {
    bytes += arg.size() + 16;
  }
  out.reserve(out.size() + bytes);
  out += '*';
  out += std::to_string(args.size());
  out += "\r\n";
  for (const auto& arg : args) {
    out += '$';
    out += std::to_string(arg.size());
    out += "\r\n";
    out.append(arg.data(), arg.size());
    out += "\r\n";
  }
}

void append_line(std::string& out, char marker, std::string_view text) {
  out += marker;
  out += text;
  out += "\r\n";
}

void append_blob(std::string& out, char marker, std::string_view text) {
  out += marker;
  out += std::to_string(text.size());
  out += "\r\n";
  out += text;
  out += "\r\n";
}

bool line_safe(std::string_view text) {
  return text.find_first_of("\r\n") == std::string_view::npos;
}

}  // namespace

const char* to_string(ReplyType type) {
  switch (type) {
    case ReplyType::Status:
      return "status";
    case ReplyType::Error:
      return "error";
    case ReplyType::Integer:
      return "integer";
    case ReplyType::Bulk:
      return "bulk";
    case ReplyType::Nil:
      return "nil";
    case ReplyType::Array:
      return "array";
    case ReplyType::Double:
      return "double";
    case ReplyType::Boolean:
      return "boolean";
    case ReplyType::BigNumber:
      return "big number";
    case ReplyType::Verbatim:
      return "verbatim";
    case ReplyType::Map:
      return "map";
    case ReplyType::Set:
      return "set";
    case ReplyType::Push:
      return "push";
  }
  return "?";
}

std::string_view Reply::error_code() const {
  if (type != ReplyType::Error) {
    return {};
  }
  std::string_view text = str;
  return text.substr(0, text.find(' '));
}

bool Reply::operator==(const Reply& other) const {
  return type == other.type && integer == other.integer && str == other.str &&
         elements == other.elements;
}

void ReplyParser::feed(std::string_view bytes) { buf_.append(bytes); }

std::span<char> ReplyParser::prepare(size_t bytes) {
  committed_ = buf_.size();
  buf_.resize(committed_ + bytes);
  return {buf_.data() + committed_, bytes};
}

void ReplyParser::commit(size_t bytes) { buf_.resize(committed_ + bytes); }

void ReplyParser::compact() {
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > kCompactAfter && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

ReplyParser::Step ReplyParser::fail(ErrorKind kind, std::string message) {
  error_ = protocol_error(kind, std::move(message));
  return Step::Failed;
}

ReplyParser::Step ReplyParser::find_line(size_t from, size_t& line_end) {
  size_t limit = std::min(buf_.size(), from + limits_.max_line_bytes + 2);
  const char* start = buf_.data() + from;
  const void* cr = std::memchr(start, '\r', limit - from);
  size_t scan_end =
      cr != nullptr ? static_cast<size_t>(static_cast<const char*>(cr) - buf_.data()) : limit;
  if (std::memchr(start, '\n', scan_end - from) != nullptr) {
    return fail(ErrorKind::Invalid, "line feed without carriage return");
  }
  if (cr == nullptr) {
    if (buf_.size() - from > limits_.max_line_bytes + 1) {
      return fail(ErrorKind::Limit,
                  "line longer than " + std::to_string(limits_.max_line_bytes) + " bytes");
    }
    return Step::NeedMore;
  }
  if (scan_end + 1 >= buf_.size()) {
    return Step::NeedMore;
  }
  if (buf_[scan_end + 1] != '\n') {
    return fail(ErrorKind::Invalid, "carriage return without line feed");
  }
  if (scan_end - from > limits_.max_line_bytes) {
    return fail(ErrorKind::Limit,
                "line longer than " + std::to_string(limits_.max_line_bytes) + " bytes");
  }
  line_end = scan_end;
  return Step::Leaf;
}

ReplyParser::Step ReplyParser::parse_element(Reply& out, size_t& count) {
  if (pos_ >= buf_.size()) {
    return Step::NeedMore;
  }
  char marker = buf_[pos_];
  size_t line_end = 0;
  Step found = find_line(pos_ + 1, line_end);
  if (found != Step::Leaf) {
    return found;
  }
  std::string_view line(buf_.data() + pos_ + 1, line_end - pos_ - 1);
  size_t after_line = line_end + 2;
  auto leaf = [&](ReplyType type) {
    out.type = type;
    pos_ = after_line;
    return Step::Leaf;
  };
  switch (marker) {
    case '+':
    case '-':
      out.str.assign(line);
      return leaf(marker == '+' ? ReplyType::Status : ReplyType::Error);
    case ':':
      if (!parse_int(line, out.integer)) {
        return fail(ErrorKind::Invalid, "bad integer reply");
      }
      return leaf(ReplyType::Integer);
    case '_':
      if (!line.empty()) {
        return fail(ErrorKind::Invalid, "bad null reply");
      }
      return leaf(ReplyType::Nil);
    case '#':
      if (line != "t" && line != "f") {
        return fail(ErrorKind::Invalid, "bad boolean reply");
      }
      out.integer = line == "t" ? 1 : 0;
      return leaf(ReplyType::Boolean);
    case ',':
      if (!parse_double(line, out.number)) {
        return fail(ErrorKind::Invalid, "bad double reply");
      }
      out.str.assign(line);
      return leaf(ReplyType::Double);
    case '(': {
      std::string_view digits = line.starts_with('-') ? line.substr(1) : line;
      if (!is_digits(digits)) {
        return fail(ErrorKind::Invalid, "bad big number reply");
      }
      out.str.assign(line);
      return leaf(ReplyType::BigNumber);
    }
    case '$':
    case '!':
    case '=': {
      int64_t length = 0;
      if (!parse_int(line, length) || length < -1 || (length == -1 && marker != '$')) {
        return fail(ErrorKind::Invalid, "bad bulk length");
      }
      if (length == -1) {
        return leaf(ReplyType::Nil);
      }
      if (static_cast<uint64_t>(length) > limits_.max_bulk_bytes) {
        return fail(ErrorKind::Limit, "bulk of " + std::to_string(length) + " bytes exceeds " +
                                          std::to_string(limits_.max_bulk_bytes));
      }
      auto size = static_cast<size_t>(length);
      if (buf_.size() - after_line < size + 2) {
        return Step::NeedMore;
      }
      if (buf_[after_line + size] != '\r' || buf_[after_line + size + 1] != '\n') {
        return fail(ErrorKind::Invalid, "bulk not followed by CRLF");
      }
      std::string_view payload(buf_.data() + after_line, size);
      if (marker == '=' && (size < 4 || payload[3] != ':')) {
        return fail(ErrorKind::Invalid, "verbatim string without a format");
      }
      out.str.assign(payload);
      out.type = marker == '$'   ? ReplyType::Bulk
                 : marker == '!' ? ReplyType::Error
                                 : ReplyType::Verbatim;
      pos_ = after_line + size + 2;
      return Step::Leaf;
    }
    case '*':
    case '%':
    case '~':
    case '>': {
      int64_t n = 0;
      if (!parse_int(line, n) || n < -1 || (n == -1 && marker != '*')) {
        return fail(ErrorKind::Invalid, "bad aggregate length");
      }
      if (n == -1) {
        return leaf(ReplyType::Nil);
      }
      uint64_t elements = static_cast<uint64_t>(n) * (marker == '%' ? 2 : 1);
      if (static_cast<uint64_t>(n) > limits_.max_elements || elements > limits_.max_elements) {
        return fail(ErrorKind::Limit, "aggregate of " + std::to_string(elements) +
                                          " elements exceeds " +
                                          std::to_string(limits_.max_elements));
      }
      if (stack_.size() + 1 > limits_.max_depth) {  // an empty aggregate is a level too
        return fail(ErrorKind::Limit,
                    "replies nested deeper than " + std::to_string(limits_.max_depth) + " levels");
      }
      out.type = marker == '*'   ? ReplyType::Array
                 : marker == '%' ? ReplyType::Map
                 : marker == '~' ? ReplyType::Set
                                 : ReplyType::Push;
      count = static_cast<size_t>(elements);
      pos_ = after_line;
      return count == 0 ? Step::Leaf : Step::Aggregate;
    }
    case '|':
      return fail(ErrorKind::Unsupported, "RESP3 attributes are not supported");
    default:
      return fail(ErrorKind::Invalid, "unknown reply type byte " + std::to_string(marker & 0xff));
  }
}

Result<std::optional<Reply>> ReplyParser::next() {
  if (error_) {
    return *error_;
  }
  for (;;) {
    Reply element;
    size_t count = 0;
    Step step = parse_element(element, count);
    if (step == Step::Failed) {
      stack_.clear();
      return *error_;
    }
    if (step == Step::NeedMore) {
      compact();
      return std::optional<Reply>();
    }
    if (step == Step::Aggregate) {
      element.elements.reserve(std::min(count, kMaxReserve));
      stack_.push_back(Frame{std::move(element), count});
      continue;
    }
    // A complete element: attach it to the aggregate it belongs to, closing every aggregate
    // it completes; a complete top-level value is the reply.
    for (;;) {
      if (stack_.empty()) {
        compact();
        return std::optional<Reply>(std::move(element));
      }
      Frame& top = stack_.back();
      top.reply.elements.push_back(std::move(element));
      if (--top.remaining > 0) {
        break;
      }
      element = std::move(top.reply);
      stack_.pop_back();
    }
  }
}

void append_command(std::string& out, std::span<const std::string> args) {
  append_command_impl(out, args);
}

void append_command(std::string& out, std::span<const std::string_view> args) {
  append_command_impl(out, args);
}

std::string encode_command(std::span<const std::string> args) {
  std::string out;
  append_command_impl(out, args);
  return out;
}

void append_reply(std::string& out, const Reply& reply) {
  auto aggregate = [&](char marker, size_t n) {
    out += marker;
    out += std::to_string(n);
    out += "\r\n";
    for (const Reply& element : reply.elements) {
      append_reply(out, element);
    }
  };
  switch (reply.type) {
    case ReplyType::Status:
      append_line(out, '+', reply.str);
      break;
    case ReplyType::Error:
      if (line_safe(reply.str)) {
        append_line(out, '-', reply.str);
      } else {
        append_blob(out, '!', reply.str);
      }
      break;
    case ReplyType::Integer:
      append_line(out, ':', std::to_string(reply.integer));
      break;
    case ReplyType::Bulk:
      append_blob(out, '$', reply.str);
      break;
    case ReplyType::Nil:
      out += "$-1\r\n";
      break;
    case ReplyType::Array:
      aggregate('*', reply.elements.size());
      break;
    case ReplyType::Double:
      append_line(out, ',', reply.str);
      break;
    case ReplyType::Boolean:
      append_line(out, '#', reply.integer != 0 ? "t" : "f");
      break;
    case ReplyType::BigNumber:
      append_line(out, '(', reply.str);
      break;
    case ReplyType::Verbatim:
      append_blob(out, '=', reply.str);
      break;
    case ReplyType::Map:
      aggregate('%', reply.elements.size() / 2);
      break;
    case ReplyType::Set:
      aggregate('~', reply.elements.size());
      break;
    case ReplyType::Push:
      aggregate('>', reply.elements.size());
      break;
  }
}

std::string encode_reply(const Reply& reply) {
  std::string out;
  append_reply(out, reply);
  return out;
}

std::string describe(const Reply& reply) {
  constexpr size_t kMaxShown = 64;
  auto quoted = [](std::string_view text) {
    std::string out = "\"";
    for (char c : text.substr(0, kMaxShown)) {
      auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
        static constexpr char kHex[] = "0123456789abcdef";
        out += "\\x";
        out += kHex[u >> 4];
        out += kHex[u & 15];
      } else {
        out += c;
      }
    }
    out += text.size() > kMaxShown ? "\"..." : "\"";
    return out;
  };
  switch (reply.type) {
    case ReplyType::Status:
    case ReplyType::Error:
    case ReplyType::Bulk:
    case ReplyType::Verbatim:
      return std::string(to_string(reply.type)) + " " + quoted(reply.str);
    case ReplyType::Integer:
    case ReplyType::Boolean:
      return std::string(to_string(reply.type)) + " " + std::to_string(reply.integer);
    case ReplyType::Double:
    case ReplyType::BigNumber:
      return std::string(to_string(reply.type)) + " " + reply.str;
    case ReplyType::Nil:
      return "nil";
    case ReplyType::Array:
    case ReplyType::Map:
    case ReplyType::Set:
    case ReplyType::Push: {
      std::string out = std::string(to_string(reply.type)) + " [";
      for (size_t i = 0; i < reply.elements.size() && i < 8; ++i) {
        out += i > 0 ? ", " : "";
        out += describe(reply.elements[i]);
      }
      out += reply.elements.size() > 8 ? ", ...]" : "]";
      return out;
    }
  }
  return "?";
}

}  // namespace apisix::redis
