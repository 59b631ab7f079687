#include "config/nginx_units.h"

#include <gtest/gtest.h>

namespace apisix::config {
namespace {

using std::chrono::milliseconds;

TEST(NginxDuration, AcceptsNginxSyntax) {
  struct Case {
    const char* text;
    int64_t ms;
  };
  for (const Case& c : {Case{"60s", 60000}, Case{"500ms", 500}, Case{"1m", 60000},
                        Case{"2h", 7200000}, Case{"1d", 86400000}, Case{"1w", 604800000},
                        Case{"30", 30000}, Case{"0", 0}, Case{"1m30s", 90000},
                        Case{"1h 30m", 5400000}, Case{"1M", 2592000000}, Case{"1y", 31536000000}}) {
    Result<milliseconds> r = parse_nginx_duration(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.error().context;
    EXPECT_EQ(r->count(), c.ms) << c.text;
  }
}

TEST(NginxDuration, RejectsOtherText) {
  for (const char* text :
       {"", " ", "s", "1.5s", "-1s", "10x", "1 s", "abc", "1sec", "99999999999999999999999s"}) {
    EXPECT_FALSE(parse_nginx_duration(text).ok()) << text;
  }
  EXPECT_EQ(parse_nginx_duration("10x").error().context,
            "expected an nginx time such as \"60s\", \"500ms\" or \"1m\", got \"10x\"");
}

TEST(NginxSize, AcceptsNginxSyntax) {
  struct Case {
    const char* text;
    uint64_t bytes;
  };
  for (const Case& c :
       {Case{"0", 0}, Case{"1048576", 1048576}, Case{"8k", 8192}, Case{"8K", 8192},
        Case{"1m", 1048576}, Case{"2M", 2097152}, Case{"1g", 1073741824}, Case{"1G", 1073741824}}) {
    Result<uint64_t> r = parse_nginx_size(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.error().context;
    EXPECT_EQ(*r, c.bytes) << c.text;
  }
}

TEST(NginxSize, RejectsOtherText) {
  for (const char* text : {"", "k", "1t", "1kb", "-1", "1.5m", " 1m", "99999999999999999999g"}) {
    EXPECT_FALSE(parse_nginx_size(text).ok()) << text;
  }
}

}  // namespace
}  // namespace apisix::config
