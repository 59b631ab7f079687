// Compiled into every integration test executable (not the harness library) with
// APISIX_BINARY set to the gateway's build output, so the harness never depends on the
// gateway target itself.

#include "tests/harness/gateway_process.h"

#ifndef APISIX_BINARY
#error "integration tests are compiled with -DAPISIX_BINARY=\"<path of apisix-cpp>\""
#endif

namespace apisix::test {

std::string default_gateway_binary() { return APISIX_BINARY; }

}  // namespace apisix::test
