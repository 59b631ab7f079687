# Micro-benchmarks for src/router: route matching at 1k and 50k routes, full builds and
# incremental updates of the route table.
add_executable(route_table_bench ${CMAKE_CURRENT_SOURCE_DIR}/router/route_table_bench.cc)
target_link_libraries(route_table_bench PRIVATE apisix_router benchmark::benchmark)
# The light Admin API client bench/routes.sh uses for its update stream.
add_executable(admin_updater ${CMAKE_CURRENT_SOURCE_DIR}/routes/admin_updater.cc)
