// Throughput of the HTTP/1 head parser, the chunked decoder and path normalisation, on
// inputs shaped like real traffic (a browser request, an API response, a streamed body).
#include <string>
#include <string_view>

#include <benchmark/benchmark.h>

#include "http/chunked.h"
#include "http/parser.h"
#include "http/uri.h"

namespace apisix::http {
namespace {

constexpr std::string_view kBrowserRequest =
    "GET /api/v1/products/12345/reviews?page=2&sort=recent HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; _ga=GA1.2.1234567890\r\n"
    "Referer: https://shop.example.com/products/12345\r\n"
    "Connection: keep-alive\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "\r\n";

constexpr std::string_view kSmallRequest = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";

constexpr std::string_view kApiResponse =
    "HTTP/1.1 200 OK\r\n"
    "Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
    "Content-Type: application/json; charset=utf-8\r\n"
    "Content-Length: 1234\r\n"
    "Cache-Control: no-cache\r\n"
    "X-Request-Id: 5f2b8c1e-3d4a-4e6f-9a7b-1c2d3e4f5a6b\r\n"
    "Vary: Accept-Encoding\r\n"
    "\r\n";

void BM_ParseRequest(benchmark::State& state, std::string_view input) {
  RequestHead head;
  const ParseLimits limits;
  for (auto _ : state) {
    const ParseResult r = parse_request_head(input, head, limits);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(head);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_ParseRequest, browser, kBrowserRequest);
BENCHMARK_CAPTURE(BM_ParseRequest, small, kSmallRequest);

void BM_ParseResponse(benchmark::State& state) {
  ResponseHead head;
  const ParseLimits limits;
  for (auto _ : state) {
    const ParseResult r = parse_response_head(kApiResponse, head, limits);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(head);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kApiResponse.size()));
}
BENCHMARK(BM_ParseResponse);

void BM_ChunkedDecode(benchmark::State& state) {
  const size_t chunk = static_cast<size_t>(state.range(0));
  std::string body;
  char line[kMaxChunkSizeLine];
  for (size_t total = 0; total < 64 * 1024; total += chunk) {
    body.append(line, write_chunk_size_line(line, chunk));
    body.append(chunk, 'x');
    body.append("\r\n");
  }
  body.append("0\r\n\r\n");
  for (auto _ : state) {
    ChunkedDecoder decoder;
    std::string_view in = body;
    while (true) {
      const ChunkedDecoder::Step s = decoder.next(in);
      benchmark::DoNotOptimize(s.data);
      in.remove_prefix(s.consumed);
      if (s.kind != ChunkedDecoder::Step::Data) {
        break;
      }
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ChunkedDecode)->Arg(64)->Arg(4096);

void BM_PathNeedsNormalizing(benchmark::State& state) {
  const std::string_view path = "/api/v1/products/12345/reviews";
  for (auto _ : state) {
    benchmark::DoNotOptimize(path_needs_normalizing(path));
  }
}
BENCHMARK(BM_PathNeedsNormalizing);

void BM_NormalizePath(benchmark::State& state) {
  const std::string_view path = "/api//v1/./products/%31%32345/../12345/reviews";
  std::string out;
  for (auto _ : state) {
    benchmark::DoNotOptimize(normalize_path(path, out));
  }
}
BENCHMARK(BM_NormalizePath);

}  // namespace
}  // namespace apisix::http
