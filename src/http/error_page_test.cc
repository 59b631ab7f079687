// Status lines and error pages the gateway writes itself (core.md §8.5).
#include "http/error_page.h"

#include <gtest/gtest.h>

namespace apisix::http {
namespace {

TEST(ReasonPhrase, SuccessAndRedirectStatusesHaveTheirOwnPhrase) {
  // The Admin API answers 201 to a created resource: its status line must say so.
  EXPECT_EQ(reason_phrase(200), "OK");
  EXPECT_EQ(reason_phrase(201), "Created");
  EXPECT_EQ(reason_phrase(204), "No Content");
  EXPECT_EQ(reason_phrase(301), "Moved Permanently");
  EXPECT_EQ(reason_phrase(302), "Moved Temporarily");  // nginx's wording
  EXPECT_EQ(reason_phrase(307), "Temporary Redirect");
  EXPECT_EQ(reason_phrase(299), "");  // unknown success: no phrase, as nginx
}

TEST(ReasonPhrase, ErrorStatusesFollowNginx) {
  EXPECT_EQ(reason_phrase(404), "Not Found");
  EXPECT_EQ(reason_phrase(405), "Not Allowed");
  EXPECT_EQ(reason_phrase(503), "Service Temporarily Unavailable");
  EXPECT_EQ(reason_phrase(499), "Bad Request");
  EXPECT_EQ(reason_phrase(599), "Internal Server Error");
}

}  // namespace
}  // namespace apisix::http
