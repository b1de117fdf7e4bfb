// Middleware on NATS JetStream: the correlation id middleware::CorrelationId
// makes current goes out in what a handler publishes and comes back through a
// real server (the rest of middleware is transport-independent:
// middleware_test.cc).

#ifdef EVBUS_WITH_NATS

#include "correlation_flow.h"
#include "nats_support.h"

namespace evbus::test {
namespace {

class NatsMiddlewareTest : public ServerTest {
 protected:
  NatsMiddlewareTest() : ServerTest("nats-mw", NatsTestUnavailable, NatsTestConfig) {}
};

TEST_F(NatsMiddlewareTest, CorrelationIdFlowsThroughTheServer) {
  ExpectCorrelationIdFlowsThroughTheBroker(config_, unique_);
}

}  // namespace
}  // namespace evbus::test

#endif  // EVBUS_WITH_NATS
