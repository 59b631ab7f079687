# Redis targets (src/redis): the RESP reply parser and the command encoder.
apisix_fuzz(redis_resp SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/redis_resp_fuzz.cc LIBS apisix_redis)
