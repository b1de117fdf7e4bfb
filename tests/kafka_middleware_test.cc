// Middleware on Kafka: the correlation id middleware::CorrelationId makes
// current goes out in what a handler publishes and comes back through a real
// broker (the rest of middleware is transport-independent: middleware_test.cc).

#ifdef EVBUS_WITH_KAFKA

#include "correlation_flow.h"
#include "kafka_support.h"

namespace evbus::test {
namespace {

class KafkaMiddlewareTest : public ServerTest {
 protected:
  KafkaMiddlewareTest() : ServerTest("kafka-mw", KafkaUnavailable, KafkaConfig) {}
};

TEST_F(KafkaMiddlewareTest, CorrelationIdFlowsThroughTheBroker) {
  ExpectCorrelationIdFlowsThroughTheBroker(config_, unique_);
}

}  // namespace
}  // namespace evbus::test

#endif  // EVBUS_WITH_KAFKA
