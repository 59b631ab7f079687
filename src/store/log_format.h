#pragma once
// The on-disk records of the embedded store: the write-ahead log (one record per put or
// delete) and the snapshot (the whole key space at one revision). Pure functions over bytes;
// the files themselves are handled by EmbeddedStore.
//
// Framing, little-endian:  u32 payload_bytes | u32 crc32c(payload) | payload
// Payloads start with a one-byte record type:
//   Put      : u64 revision, i64 expire_at_ms (0: none), u32 key_bytes, key, u32 value_bytes, value
//   Delete   : u64 revision, u32 key_bytes, key
//   SnapHead : u64 revision, u64 compact_revision
//   SnapEntry: u64 create_revision, u64 mod_revision, u64 version, i64 expire_at_ms,
//              u32 key_bytes, key, u32 value_bytes, value
//   SnapEnd  : u64 entry_count
// A log file starts with kLogMagic, a snapshot file with kSnapshotMagic.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace apisix::store {

inline constexpr std::string_view kLogMagic = "APXSLOG1";
inline constexpr std::string_view kSnapshotMagic = "APXSSNP1";
inline constexpr size_t kRecordHeaderBytes = 8;
// A payload larger than this is treated as corruption (keeps a damaged length field from
// making us allocate gigabytes).
inline constexpr uint32_t kMaxPayloadBytes = 64u << 20;

enum class RecordType : uint8_t { Put = 1, Delete = 2, SnapHead = 3, SnapEntry = 4, SnapEnd = 5 };

struct Record {
  RecordType type = RecordType::Put;
  int64_t revision = 0;          // Put, Delete, SnapHead; SnapEntry: mod_revision
  int64_t create_revision = 0;   // SnapEntry
  int64_t version = 0;           // SnapEntry
  int64_t compact_revision = 0;  // SnapHead
  int64_t expire_at_ms = 0;      // Put, SnapEntry
  int64_t count = 0;             // SnapEnd
  std::string key;
  std::string value;
};

uint32_t crc32c(std::string_view data, uint32_t crc = 0);

// Appends the framed record to `out`.
void encode_record(const Record& record, std::string& out);

enum class ScanStatus {
  Clean,     // every byte after the magic belongs to a valid record
  TornTail,  // the last record is cut short or damaged and nothing valid follows it: a
             // write that never completed; drop the bytes from `valid_bytes` on
  Corrupt,   // a damaged record is followed by more data: refuse to guess
  BadMagic,  // the file does not start with the expected magic
};

struct ScanResult {
  ScanStatus status = ScanStatus::Clean;
  std::vector<Record> records;
  size_t valid_bytes = 0;  // magic plus every valid record
  std::string reason;      // for TornTail/Corrupt: what was wrong and where
};

// Decodes a whole file image that starts with `magic`.
ScanResult scan_records(std::string_view file, std::string_view magic);

}  // namespace apisix::store
