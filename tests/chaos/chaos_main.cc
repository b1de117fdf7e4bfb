// evbus_chaos: see chaos.h.

#include <CLI/CLI.hpp>
#include <chrono>
#include <string>

#include "chaos/chaos.h"

namespace evbus::chaos {

Config MakeConfig(const Options& o) {
  using namespace std::chrono_literals;
  Config c;
  c.service_name = "evbus-chaos";
  c.subscriber.group = o.group;
  c.subscriber.workers = 4;
  c.subscriber.commit_interval = 200ms;
  c.subscriber.auto_offset_reset = OffsetReset::kEarliest;
  c.close_timeout = 10s;
  if (o.transport == "kafka") {
    c.transport = TransportKind::kKafka;
    c.kafka.brokers = {o.address};
    c.kafka.topic_partitions = 6;
    c.kafka.replication_factor = 1;
    c.kafka.linger = 1ms;
    // A killed member is expired after this; its partitions then move on.
    c.kafka.session_timeout = 6s;
    c.kafka.heartbeat_interval = 500ms;
    c.kafka.properties["reconnect.backoff.max.ms"] = "500";
    c.kafka.properties["log_level"] = "0";
  } else {
    c.transport = TransportKind::kNats;
    c.nats.urls = {o.address};
    c.nats.storage = "file";  // survives the server restart
    c.nats.partitions = 4;
    c.nats.ack_wait = 5s;
    c.nats.reconnect_wait = 100ms;
  }
  return c;
}

}  // namespace evbus::chaos

int main(int argc, char** argv) {
  using evbus::chaos::Options;
  Options o;
  CLI::App app{
      "evbus chaos suite: consumer processes killed at random and a broker restart, "
      "while a producer runs; nothing acknowledged may be lost"};
  app.require_subcommand(1);
  CLI::App* run = app.add_subcommand("run", "Run the chaos scenario and print its counts");
  CLI::App* consume = app.add_subcommand("consume", "One consumer process (started by run)");
  for (CLI::App* cmd : {run, consume}) {
    cmd->add_option("--transport", o.transport, "kafka | nats")
        ->check(CLI::IsMember({"kafka", "nats"}));
  }
  run->add_option("--events", o.events, "Events to publish")->check(CLI::Range(1, 100'000'000));
  run->add_option("--aggregates", o.aggregates, "Aggregates")->check(CLI::Range(1, 1'000'000));
  run->add_option("--consumers", o.consumers, "Consumer processes")->check(CLI::Range(1, 32));
  run->add_option("--kills", o.kills, "SIGKILLs during the run")->check(CLI::Range(0, 10'000));
  run->add_option("--rate", o.rate, "Events per second")->check(CLI::Range(1, 1'000'000));
  run->add_option("--seed", o.seed, "Random seed (0: from the clock)");
  run->add_option("--broker-restart", o.broker_restart, "Restart the broker halfway (true|false)");
  run->add_option("--drain-timeout", o.drain_timeout_s,
                  "Seconds for every acknowledged event to be handled")
      ->check(CLI::Range(1, 3600));
  consume->add_option("--address", o.address)->required();
  consume->add_option("--topic", o.topic)->required();
  consume->add_option("--group", o.group)->required();
  consume->add_option("--log", o.log)->required();
  consume->add_option("--incarnation", o.incarnation)->required();
  consume->add_option("--handle-us", o.handle_us)->check(CLI::Range(0, 10'000'000));
  CLI11_PARSE(app, argc, argv);
  if (*consume) return evbus::chaos::RunConsumer(o);
  return evbus::chaos::RunDriver(o, "/proc/self/exe");
}
