# The Admin API latency probe bench/admin_latency.sh drives.
add_executable(latency_probe ${CMAKE_CURRENT_SOURCE_DIR}/admin/latency_probe.cc)
