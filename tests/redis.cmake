# Redis client tests (src/redis) against a real redis-server. Included by tests/CMakeLists.txt.

# The redis-server harness piece, for any test that needs a real Redis.
add_library(apisix_test_redis STATIC harness/redis_server.cc)
target_link_libraries(apisix_test_redis PUBLIC apisix_test_harness)

apisix_test(redis_client_test
  SOURCES redis/redis_client_test.cc redis/limit_count_redis_test.cc
  LIBS apisix_redis apisix_plugins apisix_test_redis
  LABELS integration)
