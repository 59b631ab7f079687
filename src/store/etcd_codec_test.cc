#include "store/etcd_codec.h"

#include <gtest/gtest.h>

namespace apisix::store::etcd {
namespace {

TEST(Base64, RoundTripsEveryLength) {
  std::string data;
  for (int i = 0; i < 300; ++i) {
    auto decoded = base64_decode(base64_encode(data));
    ASSERT_TRUE(decoded.has_value()) << i;
    EXPECT_EQ(*decoded, data);
    data.push_back(static_cast<char>(i * 37));
  }
  EXPECT_EQ(base64_encode("/a/1"), "L2EvMQ==");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
}

TEST(Base64, RejectsMalformedText) {
  EXPECT_FALSE(base64_decode("abc").has_value());
  EXPECT_FALSE(base64_decode("ab=c").has_value());
  EXPECT_FALSE(base64_decode("a!cd").has_value());
  EXPECT_FALSE(base64_decode("Zg==Zg==").has_value());
}

TEST(PrefixRangeEnd, IncrementsTheLastByte) {
  EXPECT_EQ(prefix_range_end("/apisix/"), "/apisix0");
  EXPECT_EQ(prefix_range_end("a\xff"), "b");
  EXPECT_EQ(prefix_range_end("\xff\xff"), std::string(1, '\0'));
  EXPECT_EQ(prefix_range_end(""), std::string(1, '\0'));
}

TEST(EtcdReplies, RangeReplyWithStringNumbersAndOmittedFields) {
  auto reply = parse_range_reply(
      R"({"header":{"cluster_id":"1","revision":"3"},"kvs":[{"key":"L2EvMQ==",)"
      R"("create_revision":"2","mod_revision":"3","version":"2","value":"eyJ4IjoxfQ=="},)"
      R"({"key":"L2EvMg==","mod_revision":"3"}],"more":true,"count":"5"})");
  ASSERT_TRUE(reply) << reply.error().context;
  EXPECT_EQ(reply->revision, 3);
  EXPECT_TRUE(reply->more);
  ASSERT_EQ(reply->kvs.size(), 2u);
  EXPECT_EQ(reply->kvs[0].key, "/a/1");
  EXPECT_EQ(reply->kvs[0].value, "{\"x\":1}");
  EXPECT_EQ(reply->kvs[0].create_revision, 2);
  EXPECT_EQ(reply->kvs[0].version, 2);
  EXPECT_EQ(reply->kvs[1].value, "");  // etcd leaves out empty values
  EXPECT_FALSE(parse_range_reply("not json"));
  EXPECT_FALSE(parse_range_reply(R"({"kvs":[{"key":"!!"}]})"));
}

TEST(EtcdReplies, TxnFailureCarriesTheCurrentValue) {
  auto reply = parse_txn_reply(
      R"({"header":{"revision":"3"},"responses":[{"response_range":{"header":{"revision":"3"},)"
      R"("kvs":[{"key":"L2EvMQ==","create_revision":"2","mod_revision":"3","version":"2",)"
      R"("value":"eyJ4IjoxfQ=="}],"count":"1"}}]})");
  ASSERT_TRUE(reply) << reply.error().context;
  EXPECT_FALSE(reply->succeeded);
  ASSERT_TRUE(reply->current.has_value());
  EXPECT_EQ(reply->current->mod_revision, 3);
}

TEST(EtcdReplies, DeleteReplyAndErrorBody) {
  auto reply = parse_delete_reply(
      R"({"header":{"revision":"4"},"deleted":"1","prev_kvs":[{"key":"L2EvMQ==",)"
      R"("mod_revision":"3","value":"eA=="}]})");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->deleted, 1);
  ASSERT_TRUE(reply->prev.has_value());
  EXPECT_EQ(reply->prev->value, "x");
  auto err = parse_error(
      R"({"error":"etcdserver: mvcc: required revision has been compacted","message":"etcdserver: mvcc: required revision has been compacted","code":11})");
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->code, 11);
  EXPECT_FALSE(parse_error(R"({"header":{}})").has_value());
}

TEST(EtcdWatch, ParsesCreatedEventsAndCompaction) {
  auto created = parse_watch_message(R"({"result":{"header":{"revision":"4"},"created":true}})");
  ASSERT_TRUE(created);
  EXPECT_TRUE(created->created);
  EXPECT_TRUE(created->events.empty());

  auto events = parse_watch_message(
      R"({"result":{"header":{"revision":"5"},"events":[{"kv":{"key":"L2EvMQ==",)"
      R"("create_revision":"5","mod_revision":"5","version":"1","value":"eA=="}},)"
      R"({"type":"DELETE","kv":{"key":"L2EvMQ==","mod_revision":"6"}}]}})");
  ASSERT_TRUE(events) << events.error().context;
  ASSERT_EQ(events->events.size(), 2u);
  EXPECT_EQ(events->events[0].type, EventType::Put);
  EXPECT_EQ(events->events[0].kv.value, "x");
  EXPECT_EQ(events->events[1].type, EventType::Delete);
  EXPECT_EQ(events->events[1].kv.mod_revision, 6);

  auto compacted = parse_watch_message(
      R"({"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"3"}})");
  ASSERT_TRUE(compacted);
  EXPECT_TRUE(compacted->canceled);
  EXPECT_EQ(compacted->compact_revision, 3);

  EXPECT_FALSE(parse_watch_message(R"({"error":{"grpc_code":14,"message":"unavailable"}})"));
  EXPECT_FALSE(parse_watch_message(R"({"result":{"events":[{"type":"BOGUS","kv":{}}]}})"));
  EXPECT_FALSE(parse_watch_message("[]"));
}

TEST(EtcdRequests, CarryBase64AndStringNumbers) {
  EXPECT_EQ(range_request("/a/", "/a0", 10, 7),
            R"({"key":"L2Ev","range_end":"L2Ew","limit":"10","revision":"7"})");
  EXPECT_EQ(put_request("/a/1", "x", 0), R"({"key":"L2EvMQ==","value":"eA==","prev_kv":true})");
  EXPECT_EQ(watch_create_request("/a/", "/a0", 5),
            R"({"create_request":{"key":"L2Ev","range_end":"L2Ew","start_revision":"5"}})");
}

}  // namespace
}  // namespace apisix::store::etcd
