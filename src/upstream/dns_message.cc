#include "upstream/dns_message.h"

#include <algorithm>
#include <cctype>

#include <arpa/inet.h>

namespace apisix::upstream {
namespace {

Error malformed(std::string what) {
  return Error{ErrorKind::Invalid, ErrorSource::Upstream, false, "malformed DNS reply: " + what};
}

// Reads big-endian integers and (compressed) names from one message; every read is
// bounds-checked and sets `ok_` to false instead of reading past the end.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> message) : msg_(message) {}

  bool ok() const { return ok_; }
  size_t pos() const { return pos_; }

  uint16_t u16() {
    if (!need(2)) {
      return 0;
    }
    uint16_t v = static_cast<uint16_t>((msg_[pos_] << 8) | msg_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  uint32_t u32() {
    uint32_t hi = u16();
    uint32_t lo = u16();
    return (hi << 16) | lo;
  }
  void skip(size_t n) {
    if (need(n)) {
      pos_ += n;
    }
  }
  std::span<const uint8_t> bytes(size_t n) {
    if (!need(n)) {
      return {};
    }
    auto out = msg_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

  // RFC 1035 §4.1.4: labels, possibly ending in a pointer to an earlier name. Pointers must go
  // backwards, so a loop cannot form; the name length is capped at 255 as the RFC says.
  std::string name() {
    std::string out;
    size_t at = pos_;
    bool jumped = false;
    while (true) {
      if (at >= msg_.size()) {
        ok_ = false;
        return {};
      }
      uint8_t len = msg_[at];
      if ((len & 0xC0) == 0xC0) {
        if (at + 1 >= msg_.size()) {
          ok_ = false;
          return {};
        }
        size_t target = (static_cast<size_t>(len & 0x3F) << 8) | msg_[at + 1];
        if (!jumped) {
          pos_ = at + 2;
          jumped = true;
        }
        if (target >= at) {
          ok_ = false;  // forward or self pointer: refuse (no loops)
          return {};
        }
        at = target;
        continue;
      }
      if ((len & 0xC0) != 0) {
        ok_ = false;  // extended label types are not used in replies we ask for
        return {};
      }
      if (len == 0) {
        if (!jumped) {
          pos_ = at + 1;
        }
        return out;
      }
      if (at + 1 + len > msg_.size() || out.size() + len + 1 > 255) {
        ok_ = false;
        return {};
      }
      if (!out.empty()) {
        out.push_back('.');
      }
      for (size_t i = 0; i < len; ++i) {
        out.push_back(static_cast<char>(std::tolower(msg_[at + 1 + i])));
      }
      at += 1 + len;
    }
  }

 private:
  bool need(size_t n) {
    if (!ok_ || msg_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }

  std::span<const uint8_t> msg_;
  size_t pos_ = 0;
  bool ok_ = true;
};

Result<DnsRecord> read_record(Reader& r, std::span<const uint8_t> message) {
  DnsRecord rec;
  rec.owner = r.name();
  rec.type = r.u16();
  uint16_t klass = r.u16();
  rec.ttl_s = r.u32();
  uint16_t rdlength = r.u16();
  if (!r.ok() || message.size() - r.pos() < rdlength) {
    return malformed("record header out of bounds");
  }
  // TTLs with the top bit set are read as 0 (RFC 2181 §8).
  if (rec.ttl_s > 0x7FFFFFFFu) {
    rec.ttl_s = 0;
  }
  size_t end = r.pos() + rdlength;
  if (klass != 1) {
    r.skip(rdlength);
    rec.type = 0;  // not class IN: nothing we use
    return rec;
  }
  switch (rec.type) {
    case static_cast<uint16_t>(RecordType::A):
    case static_cast<uint16_t>(RecordType::AAAA): {
      bool v6 = rec.type == static_cast<uint16_t>(RecordType::AAAA);
      size_t want = v6 ? 16 : 4;
      if (rdlength != want) {
        return malformed("address record of " + std::to_string(rdlength) + " bytes");
      }
      auto raw = r.bytes(want);
      char text[INET6_ADDRSTRLEN] = {};
      ::inet_ntop(v6 ? AF_INET6 : AF_INET, raw.data(), text, sizeof(text));
      rec.data = text;
      break;
    }
    case static_cast<uint16_t>(RecordType::CNAME):
      rec.data = r.name();
      break;
    case static_cast<uint16_t>(RecordType::SRV):
      rec.priority = r.u16();
      rec.weight = r.u16();
      rec.port = r.u16();
      rec.data = r.name();
      break;
    default:
      r.skip(rdlength);
      break;
  }
  if (!r.ok() || r.pos() != end) {
    return malformed("record data does not match its length");
  }
  return rec;
}

}  // namespace

std::string_view to_string(RecordType type) {
  switch (type) {
    case RecordType::A:
      return "A";
    case RecordType::AAAA:
      return "AAAA";
    case RecordType::CNAME:
      return "CNAME";
    case RecordType::SRV:
      return "SRV";
  }
  return "?";
}

Result<DnsReply> parse_dns_reply(std::span<const uint8_t> message) {
  Reader r(message);
  DnsReply reply;
  reply.id = r.u16();
  uint16_t flags = r.u16();
  uint16_t qdcount = r.u16();
  uint16_t ancount = r.u16();
  uint16_t nscount = r.u16();
  uint16_t arcount = r.u16();
  if (!r.ok()) {
    return malformed("shorter than its header");
  }
  if ((flags & 0x8000) == 0) {
    return malformed("not a response");
  }
  reply.truncated = (flags & 0x0200) != 0;
  reply.rcode = flags & 0x000F;
  for (uint16_t i = 0; i < qdcount; ++i) {
    r.name();
    r.skip(4);
  }
  if (!r.ok()) {
    return malformed("question section out of bounds");
  }
  for (uint16_t i = 0; i < ancount; ++i) {
    auto rec = read_record(r, message);
    if (!rec) {
      return rec.error();
    }
    reply.answers.push_back(std::move(*rec));
  }
  // Authority records are skipped; additional records are kept (SRV targets' addresses).
  for (uint32_t i = 0; i < static_cast<uint32_t>(nscount) + arcount; ++i) {
    auto rec = read_record(r, message);
    if (!rec) {
      return rec.error();
    }
    if (i >= nscount) {
      reply.additional.push_back(std::move(*rec));
    }
  }
  return reply;
}

std::vector<uint8_t> build_dns_query(uint16_t id, std::string_view name, RecordType type) {
  std::vector<uint8_t> out = {
      static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) {
      dot = name.size();
    }
    size_t len = std::min<size_t>(dot - start, 63);
    out.push_back(static_cast<uint8_t>(len));
    out.insert(out.end(), name.begin() + static_cast<std::ptrdiff_t>(start),
               name.begin() + static_cast<std::ptrdiff_t>(start + len));
    start = dot + 1;
  }
  out.push_back(0);
  auto t = static_cast<uint16_t>(type);
  out.insert(out.end(), {static_cast<uint8_t>(t >> 8), static_cast<uint8_t>(t), 0, 1});
  return out;
}

}  // namespace apisix::upstream
