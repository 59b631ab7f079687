#include "store/log_format.h"

#include <array>
#include <cstring>

namespace apisix::store {
namespace {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven.
constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) {
      c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

void put_u32(std::string& out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) {
    b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  }
  out.append(b, 4);
}

void put_u64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  }
  out.append(b, 8);
}

void put_bytes(std::string& out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

uint32_t get_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) {
    v = (v << 8) | static_cast<uint8_t>(p[i]);
  }
  return v;
}

// Reads fields from a payload; any read past the end marks the reader failed.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool failed() const { return failed_; }
  bool at_end() const { return pos_ == data_.size(); }
  uint8_t u8() {
    if (!need(1)) {
      return 0;
    }
    return static_cast<uint8_t>(data_[pos_++]);
  }
  uint32_t u32() {
    if (!need(4)) {
      return 0;
    }
    uint32_t v = get_u32(data_.data() + pos_);
    pos_ += 4;
    return v;
  }
  int64_t i64() {
    if (!need(8)) {
      return 0;
    }
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) {
      v = (v << 8) | static_cast<uint8_t>(data_[pos_ + i]);
    }
    pos_ += 8;
    return static_cast<int64_t>(v);
  }
  std::string bytes() {
    uint32_t n = u32();
    if (!need(n)) {
      return {};
    }
    std::string s(data_.substr(pos_, n));
    pos_ += n;
    return s;
  }

 private:
  bool need(size_t n) {
    if (failed_ || data_.size() - pos_ < n) {
      failed_ = true;
      return false;
    }
    return true;
  }
  std::string_view data_;
  size_t pos_ = 0;
  bool failed_ = false;
};

bool decode_payload(std::string_view payload, Record& r) {
  Reader in(payload);
  uint8_t type = in.u8();
  switch (type) {
    case static_cast<uint8_t>(RecordType::Put):
      r.type = RecordType::Put;
      r.revision = in.i64();
      r.expire_at_ms = in.i64();
      r.key = in.bytes();
      r.value = in.bytes();
      break;
    case static_cast<uint8_t>(RecordType::Delete):
      r.type = RecordType::Delete;
      r.revision = in.i64();
      r.key = in.bytes();
      break;
    case static_cast<uint8_t>(RecordType::SnapHead):
      r.type = RecordType::SnapHead;
      r.revision = in.i64();
      r.compact_revision = in.i64();
      break;
    case static_cast<uint8_t>(RecordType::SnapEntry):
      r.type = RecordType::SnapEntry;
      r.create_revision = in.i64();
      r.revision = in.i64();
      r.version = in.i64();
      r.expire_at_ms = in.i64();
      r.key = in.bytes();
      r.value = in.bytes();
      break;
    case static_cast<uint8_t>(RecordType::SnapEnd):
      r.type = RecordType::SnapEnd;
      r.count = in.i64();
      break;
    default:
      return false;
  }
  return !in.failed() && in.at_end();
}

// Whether a whole, checksummed, decodable record starts at some offset >= `from`.
bool valid_record_at_or_after(std::string_view file, size_t from) {
  for (size_t pos = from; pos + kRecordHeaderBytes < file.size(); ++pos) {
    uint32_t len = get_u32(file.data() + pos);
    if (len == 0 || len > kMaxPayloadBytes || file.size() - pos - kRecordHeaderBytes < len) {
      continue;
    }
    std::string_view payload = file.substr(pos + kRecordHeaderBytes, len);
    Record record;
    if (crc32c(payload) == get_u32(file.data() + pos + 4) && decode_payload(payload, record)) {
      return true;
    }
  }
  return false;
}

}  // namespace

uint32_t crc32c(std::string_view data, uint32_t crc) {
  crc = ~crc;
  for (char ch : data) {
    crc = kCrcTable[(crc ^ static_cast<uint8_t>(ch)) & 0xff] ^ (crc >> 8);
  }
  return ~crc;
}

void encode_record(const Record& r, std::string& out) {
  std::string payload;
  payload.reserve(32 + r.key.size() + r.value.size());
  payload.push_back(static_cast<char>(r.type));
  switch (r.type) {
    case RecordType::Put:
      put_u64(payload, static_cast<uint64_t>(r.revision));
      put_u64(payload, static_cast<uint64_t>(r.expire_at_ms));
      put_bytes(payload, r.key);
      put_bytes(payload, r.value);
      break;
    case RecordType::Delete:
      put_u64(payload, static_cast<uint64_t>(r.revision));
      put_bytes(payload, r.key);
      break;
    case RecordType::SnapHead:
      put_u64(payload, static_cast<uint64_t>(r.revision));
      put_u64(payload, static_cast<uint64_t>(r.compact_revision));
      break;
    case RecordType::SnapEntry:
      put_u64(payload, static_cast<uint64_t>(r.create_revision));
      put_u64(payload, static_cast<uint64_t>(r.revision));
      put_u64(payload, static_cast<uint64_t>(r.version));
      put_u64(payload, static_cast<uint64_t>(r.expire_at_ms));
      put_bytes(payload, r.key);
      put_bytes(payload, r.value);
      break;
    case RecordType::SnapEnd:
      put_u64(payload, static_cast<uint64_t>(r.count));
      break;
  }
  put_u32(out, static_cast<uint32_t>(payload.size()));
  put_u32(out, crc32c(payload));
  out += payload;
}

ScanResult scan_records(std::string_view file, std::string_view magic) {
  ScanResult result;
  if (file.size() < magic.size() || file.substr(0, magic.size()) != magic) {
    // A file shorter than its magic can only come from a crash while it was being created.
    if (file.size() < magic.size() && magic.substr(0, file.size()) == file) {
      result.status = ScanStatus::TornTail;
      result.reason = "file shorter than its header";
      return result;
    }
    result.status = ScanStatus::BadMagic;
    result.reason = "bad file header";
    return result;
  }
  size_t pos = magic.size();
  result.valid_bytes = pos;
  while (pos < file.size()) {
    std::string_view rest = file.substr(pos);
    std::string problem;
    if (rest.size() < kRecordHeaderBytes) {
      problem = "truncated record header";
    } else {
      uint32_t len = get_u32(rest.data());
      uint32_t crc = get_u32(rest.data() + 4);
      if (len == 0 || len > kMaxPayloadBytes) {
        problem = "invalid record length";
      } else if (rest.size() - kRecordHeaderBytes < len) {
        problem = "truncated record";
      } else {
        std::string_view payload = rest.substr(kRecordHeaderBytes, len);
        Record record;
        if (crc32c(payload) != crc) {
          problem = "checksum mismatch";
        } else if (!decode_payload(payload, record)) {
          problem = "undecodable record";
        } else {
          result.records.push_back(std::move(record));
          pos += kRecordHeaderBytes + len;
          result.valid_bytes = pos;
          continue;
        }
      }
    }
    // A crash mid-append leaves a short or damaged record at the end, possibly followed by
    // zeros or garbage (blocks allocated but never written). A valid record anywhere after
    // the damage means acknowledged data is damaged: refuse rather than drop it silently.
    result.reason = problem + " at offset " + std::to_string(pos);
    result.status =
        valid_record_at_or_after(file, pos + 1) ? ScanStatus::Corrupt : ScanStatus::TornTail;
    return result;
  }
  return result;
}

}  // namespace apisix::store
