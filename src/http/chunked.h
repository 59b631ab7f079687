#pragma once
// The chunked transfer coding (RFC 9112 §7.1): an incremental, zero-copy decoder and the
// helper that writes a chunk-size line.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace apisix::http {

// Decodes one chunked message body. Owned by the connection reading the body, used by that
// connection's thread only, and lives as long as the message. It keeps only the framing
// state (a few words), never the bytes: the caller keeps unconsumed input and passes it again.
//
// Strict on purpose (RFC 9112 §11.2, request smuggling): chunk-size is 1 to 16 HEXDIG with
// nothing in front, every line ends in CRLF, chunk data is followed by CRLF, and trailer
// fields follow the field-line grammar.
class ChunkedDecoder {
 public:
  struct Step {
    enum Kind {
      NeedMore,  // supply more bytes: call again with input[consumed:] plus what arrives next
      Data,      // `data` is body payload (part of a chunk); call again with input[consumed:]
      Done,      // the body ended; input[consumed:] belongs to the next message
      Error,     // the body is malformed: stop reading, answer 400 (or 502) and close
    } kind;
    size_t consumed;            // framing and data bytes of `input` used by this step (0 on Error)
    std::string_view data;      // Data: a view into `input`
    std::string_view trailers;  // Done: raw trailer field lines, each ending CRLF (into input)
    std::string_view error_reason = {};  // Error: static text for logs
  };

  // max_trailer_bytes bounds the trailer section including its final CRLF; max_line_bytes
  // bounds a chunk-size line with extensions and CRLF.
  explicit ChunkedDecoder(size_t max_trailer_bytes = 8192, size_t max_line_bytes = 4096)
      : max_trailer_bytes_(max_trailer_bytes), max_line_bytes_(max_line_bytes) {}

  // Consumes framing and returns at most one piece of payload. `input` is whatever the caller
  // holds that has not been consumed yet. The trailer section must be in `input` whole before
  // Done is returned (NeedMore until then), which the trailer limit keeps bounded.
  [[nodiscard]] Step next(std::string_view input);

  bool is_done() const { return state_ == State::Done; }
  uint64_t body_bytes() const { return body_bytes_; }  // payload returned so far

 private:
  enum class State : uint8_t { Size, Data, DataCr, DataLf, Trailer, Done, Failed };

  Step fail(std::string_view reason);

  State state_ = State::Size;
  uint64_t remaining_ = 0;  // bytes of the current chunk not yet returned
  uint64_t body_bytes_ = 0;
  size_t max_trailer_bytes_;
  size_t max_line_bytes_;
};

// Writes "<hex size>\r\n" (lowercase, no leading zeros) to `out`, which must hold at least
// kMaxChunkSizeLine bytes; returns the number of bytes written.
inline constexpr size_t kMaxChunkSizeLine = 20;
size_t write_chunk_size_line(char* out, uint64_t size);

}  // namespace apisix::http
