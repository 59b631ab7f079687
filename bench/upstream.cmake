# Micro-benchmarks for src/upstream: the cost of one balancer pick (and release / report)
# for each balancer type at 4 and 100 nodes.
add_executable(balancer_bench ${CMAKE_CURRENT_SOURCE_DIR}/upstream/balancer_bench.cc)
target_link_libraries(balancer_bench PRIVATE apisix_upstream benchmark::benchmark)
