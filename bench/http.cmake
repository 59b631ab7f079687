# Micro-benchmarks for src/http: head parsing, chunked decoding, path normalisation.
add_executable(http_parser_bench ${CMAKE_CURRENT_SOURCE_DIR}/http/parser_bench.cc)
target_link_libraries(http_parser_bench PRIVATE apisix_http benchmark::benchmark
                      benchmark::benchmark_main)
