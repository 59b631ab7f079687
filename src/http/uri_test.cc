#include "http/uri.h"

#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace apisix::http {
namespace {

using namespace std::string_view_literals;

struct NormalizeCase {
  std::string_view raw;
  std::string_view expected;
};

// Printed into test names, so keep it to characters CTest takes as they are.
std::ostream& operator<<(std::ostream& os, const NormalizeCase& c) {
  for (char ch : c.raw) {
    const bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                       (ch >= '0' && ch <= '9') || ch == '/' || ch == '.' || ch == '%';
    os << (plain ? ch : '_');
  }
  return os;
}

const NormalizeCase kNormalizeCases[] = {
    {"/", "/"},
    {"/a", "/a"},
    {"/a/b/", "/a/b/"},
    {"//", "/"},
    {"//a///b//", "/a/b/"},
    {"/./a/./b/.", "/a/b/"},
    {"/a/b/..", "/a/"},
    {"/a/b/../c", "/a/c"},
    {"/a/b/../../c/", "/c/"},
    {"/a/..", "/"},
    {"/a/../", "/"},
    {"/.", "/"},
    {"/..a/b..", "/..a/b.."},
    {"/a/.../b", "/a/.../b"},
    {"/.hidden/x.", "/.hidden/x."},
    {"/%61%62c", "/abc"},
    {"/%7E%7e", "/~~"},
    {"/a%2Fb", "/a/b"},
    {"/a%2f%2f%2Fb", "/a/b"},
    {"/a/%2e%2e/b", "/b"},
    {"/a/%2E/b", "/a/b"},
    {"/a/.%2e/", "/"},
    {"/%25", "/%"},
    {"/%2541", "/%41"},
    {"/a+b c", "/a+b c"},
    {"/caf%C3%A9", "/caf\xc3\xa9"},
    {"/a?b", "/a?b"},
    {"/%3F", "/?"},
};

class NormalizeTest : public ::testing::TestWithParam<NormalizeCase> {};

TEST_P(NormalizeTest, Normalizes) {
  const NormalizeCase& c = GetParam();
  std::string out = "garbage that must be replaced";
  ASSERT_TRUE(normalize_path(c.raw, out));
  EXPECT_EQ(out, c.expected);
}

INSTANTIATE_TEST_SUITE_P(Uri, NormalizeTest, ::testing::ValuesIn(kNormalizeCases));

TEST(Uri, RejectsInvalid) {
  const std::string_view bad[] = {
      ""sv,           "a/b"sv,    "*"sv,          "/%"sv,         "/%a"sv,
      "/%zz"sv,       "/%g0"sv,   "/a%0"sv,       "/%00"sv,       "/a/%00/b"sv,
      "/.."sv,        "/../a"sv,  "/a/../.."sv,   "/a/../../b"sv, "/%2e%2e"sv,
      "/a/%2E%2E/..", "//../a"sv, "http://a/b"sv, "/z\0"sv,
  };
  for (std::string_view raw : bad) {
    std::string out;
    EXPECT_FALSE(normalize_path(raw, out)) << raw;
  }
}

TEST(Uri, NeedsNormalizing) {
  for (std::string_view raw :
       {"/"sv, "/a"sv, "/a/b/"sv, "/a.b/c..d/.e/..f/"sv, "/a?b"sv, "/a+b"sv, "/..."sv}) {
    EXPECT_FALSE(path_needs_normalizing(raw)) << raw;
    std::string out;
    ASSERT_TRUE(normalize_path(raw, out)) << raw;
    EXPECT_EQ(out, raw);  // the promise behind a false answer
  }
  for (std::string_view raw : {""sv, "a"sv, "/%41"sv, "//"sv, "/a//b"sv, "/./"sv, "/a/./b"sv,
                               "/a/../b"sv, "/a/."sv, "/a/.."sv, "/."sv, "/.."sv, "/a\0b"sv}) {
    EXPECT_TRUE(path_needs_normalizing(raw)) << raw;
  }
}

TEST(Uri, OutputIsReplacedNotAppended) {
  std::string out = "/previous";
  ASSERT_TRUE(normalize_path("/x", out));
  EXPECT_EQ(out, "/x");
}

}  // namespace
}  // namespace apisix::http
