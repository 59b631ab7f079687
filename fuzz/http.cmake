# HTTP/1 parsing targets (src/http): request and response heads, chunked bodies, URI paths.
apisix_fuzz(http1_request SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/http1_request_fuzz.cc LIBS apisix_http)
apisix_fuzz(http1_response SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/http1_response_fuzz.cc LIBS apisix_http)
apisix_fuzz(chunked SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/chunked_fuzz.cc LIBS apisix_http)
apisix_fuzz(uri SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/uri_fuzz.cc LIBS apisix_http)
