#include "store/log_format.h"

#include <gtest/gtest.h>

namespace apisix::store {
namespace {

Record put(int64_t revision, std::string key, std::string value, int64_t expire = 0) {
  Record r;
  r.type = RecordType::Put;
  r.revision = revision;
  r.key = std::move(key);
  r.value = std::move(value);
  r.expire_at_ms = expire;
  return r;
}

Record del(int64_t revision, std::string key) {
  Record r;
  r.type = RecordType::Delete;
  r.revision = revision;
  r.key = std::move(key);
  return r;
}

std::string log_of(const std::vector<Record>& records) {
  std::string out(kLogMagic);
  for (const auto& r : records) {
    encode_record(r, out);
  }
  return out;
}

TEST(Crc32c, MatchesKnownVectors) {
  // RFC 3720 appendix B.4 test patterns for CRC32C.
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
}

TEST(LogFormat, RecordsRoundTrip) {
  std::string binary_value("a\0b\xff\n", 5);
  std::string file =
      log_of({put(2, "/apisix/routes/1", "{\"uri\":\"/\"}", 1700000000123),
              del(3, "/apisix/routes/1"), put(4, "k", binary_value), put(5, "empty", "")});
  ScanResult scan = scan_records(file, kLogMagic);
  ASSERT_EQ(scan.status, ScanStatus::Clean) << scan.reason;
  ASSERT_EQ(scan.records.size(), 4u);
  EXPECT_EQ(scan.valid_bytes, file.size());
  EXPECT_EQ(scan.records[0].type, RecordType::Put);
  EXPECT_EQ(scan.records[0].revision, 2);
  EXPECT_EQ(scan.records[0].key, "/apisix/routes/1");
  EXPECT_EQ(scan.records[0].value, "{\"uri\":\"/\"}");
  EXPECT_EQ(scan.records[0].expire_at_ms, 1700000000123);
  EXPECT_EQ(scan.records[1].type, RecordType::Delete);
  EXPECT_EQ(scan.records[1].key, "/apisix/routes/1");
  EXPECT_EQ(scan.records[2].value, binary_value);
  EXPECT_EQ(scan.records[3].value, "");
}

TEST(LogFormat, SnapshotRecordsRoundTrip) {
  std::string file(kSnapshotMagic);
  Record head;
  head.type = RecordType::SnapHead;
  head.revision = 77;
  head.compact_revision = 70;
  encode_record(head, file);
  Record entry;
  entry.type = RecordType::SnapEntry;
  entry.key = "a";
  entry.value = "1";
  entry.create_revision = 5;
  entry.revision = 9;
  entry.version = 3;
  encode_record(entry, file);
  Record end;
  end.type = RecordType::SnapEnd;
  end.count = 1;
  encode_record(end, file);
  ScanResult scan = scan_records(file, kSnapshotMagic);
  ASSERT_EQ(scan.status, ScanStatus::Clean);
  ASSERT_EQ(scan.records.size(), 3u);
  EXPECT_EQ(scan.records[0].compact_revision, 70);
  EXPECT_EQ(scan.records[1].create_revision, 5);
  EXPECT_EQ(scan.records[1].revision, 9);
  EXPECT_EQ(scan.records[1].version, 3);
  EXPECT_EQ(scan.records[2].count, 1);
  // The wrong magic is refused.
  EXPECT_EQ(scan_records(file, kLogMagic).status, ScanStatus::BadMagic);
}

TEST(LogFormat, EveryTruncationOfTheLastRecordIsATornTail) {
  std::string good = log_of({put(2, "a", "one"), put(3, "b", "two")});
  std::string file = log_of({put(2, "a", "one"), put(3, "b", "two"), put(4, "c", "three")});
  for (size_t cut = good.size() + 1; cut < file.size(); ++cut) {
    ScanResult scan = scan_records(std::string_view(file).substr(0, cut), kLogMagic);
    ASSERT_EQ(scan.status, ScanStatus::TornTail) << "cut at " << cut;
    EXPECT_EQ(scan.valid_bytes, good.size());
    EXPECT_EQ(scan.records.size(), 2u);
  }
}

TEST(LogFormat, DamagedLastRecordAndZeroFillAreATornTail) {
  std::string good = log_of({put(2, "a", "one")});
  std::string file = log_of({put(2, "a", "one"), put(3, "b", "two")});
  file.back() ^= 0x40;  // checksum no longer matches
  ScanResult scan = scan_records(file, kLogMagic);
  EXPECT_EQ(scan.status, ScanStatus::TornTail);
  EXPECT_EQ(scan.valid_bytes, good.size());

  std::string zeros = good + std::string(4096, '\0');
  scan = scan_records(zeros, kLogMagic);
  EXPECT_EQ(scan.status, ScanStatus::TornTail);
  EXPECT_EQ(scan.valid_bytes, good.size());
}

TEST(LogFormat, DamageFollowedByValidRecordsIsCorruption) {
  std::string first = log_of({put(2, "a", "one")});
  std::string file = log_of({put(2, "a", "one"), put(3, "b", "two"), put(4, "c", "three")});
  file[first.size() + kRecordHeaderBytes + 3] ^= 0x01;  // inside record 2's payload
  ScanResult scan = scan_records(file, kLogMagic);
  EXPECT_EQ(scan.status, ScanStatus::Corrupt) << scan.reason;
  EXPECT_EQ(scan.records.size(), 1u);
}

TEST(LogFormat, ShortOrForeignHeader) {
  EXPECT_EQ(scan_records("APXS", kLogMagic).status, ScanStatus::TornTail);
  EXPECT_EQ(scan_records("", kLogMagic).status, ScanStatus::TornTail);
  EXPECT_EQ(scan_records("GARBAGE!and more", kLogMagic).status, ScanStatus::BadMagic);
}

}  // namespace
}  // namespace apisix::store
