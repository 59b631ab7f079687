#pragma once

// An ordered list of HTTP header fields as seen on the wire, with case-insensitive lookup.
// Plain value type, used by the harness and the tests on any thread.

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apisix::test {

bool iequals(std::string_view a, std::string_view b);
std::string to_lower(std::string_view s);

class Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  Headers() = default;
  Headers(std::initializer_list<Field> fields) : fields_(fields) {}

  void add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
  }
  // Replaces every field called `name` by one with `value`.
  void set(std::string_view name, std::string value);
  void remove(std::string_view name);

  // The first value of `name`, if any.
  std::optional<std::string> get(std::string_view name) const;
  // The first value of `name`, or "" when absent.
  std::string value_or_empty(std::string_view name) const;
  bool has(std::string_view name) const { return count(name) > 0; }
  size_t count(std::string_view name) const;
  std::vector<std::string> all(std::string_view name) const;
  // True when a comma-separated list field `name` contains `token` (case-insensitive).
  bool has_token(std::string_view name, std::string_view token) const;

  const std::vector<Field>& fields() const { return fields_; }
  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }

  // "Name: value\r\n" for every field, in order.
  std::string serialize() const;
  // One "Name: value" per line, for failure messages.
  std::string to_string() const;

 private:
  std::vector<Field> fields_;
};

}  // namespace apisix::test
