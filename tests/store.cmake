# ConfigStore tests (src/store): the contract suite run against the embedded store and a real
# etcd, the embedded store's durability tests, and etcd-only behaviour.

# The etcd server harness piece, for any test that needs a real etcd.
add_library(apisix_test_etcd STATIC harness/etcd_server.cc)
target_link_libraries(apisix_test_etcd PUBLIC apisix_test_harness)

# Writes acknowledged records until killed (embedded_durability_test kills it with SIGKILL).
add_executable(store_writer store/store_writer_main.cc)
target_link_libraries(store_writer PRIVATE apisix_store)
target_include_directories(store_writer PRIVATE ${PROJECT_SOURCE_DIR})

apisix_test(store_integration_test
  SOURCES
    store/config_store_contract_test.cc
    store/embedded_durability_test.cc
    store/etcd_store_test.cc
  LIBS apisix_store apisix_test_etcd
  LABELS integration)
target_compile_definitions(store_integration_test PRIVATE
  STORE_WRITER="$<TARGET_FILE:store_writer>")
add_dependencies(store_integration_test store_writer)
