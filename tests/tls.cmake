# TLS: the HTTPS upstream test server and certificates for the harness, and the TLS client's
# tests (src/tls), which need them. Included by tests/CMakeLists.txt.

target_sources(apisix_test_harness PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/harness/test_certs.cc
  ${CMAKE_CURRENT_LIST_DIR}/harness/tls_upstream_server.cc
)
target_link_libraries(apisix_test_harness PUBLIC OpenSSL::SSL OpenSSL::Crypto)

# Unit tests of src/tls against real TLS servers from the harness; defined here rather than in
# src/tls/CMakeLists.txt so src/ configures without tests/.
apisix_test(tls_test
  SOURCES ${PROJECT_SOURCE_DIR}/src/tls/tls_stream_test.cc
  LIBS apisix_tls apisix_test_harness
  LABELS integration)
