// evbus_chaos: see chaos.h.

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "chaos/chaos.h"

namespace evbus::chaos {

namespace {

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  for (size_t start = 0;;) {
    const size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

}  // namespace

uint64_t SeedOrClock(uint64_t seed) {
  return seed != 0
             ? seed
             : static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

std::string NameRun(Options& o, const std::string& kind, uint64_t seed) {
  const std::string run = std::to_string(seed % 1'000'000'007);
  o.topic = kind + "-" + run;
  o.group = kind + "-group-" + run;
  const std::string dir = std::filesystem::temp_directory_path() / ("evbus-" + kind + "-" + run);
  std::filesystem::create_directories(dir);
  return dir;
}

void PrintGroupLag(const Options& o) {
  const std::string lag = std::string(EVBUS_CLI_PATH) + " lag --group " + o.group + " " +
                          (o.transport == "kafka" ? "--brokers " : "--url ") + o.address + " " +
                          o.topic;
  std::fflush(stdout);
  (void)std::system(lag.c_str());
}

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
    c.kafka.brokers = SplitCommas(o.address);
    c.kafka.topic_partitions = 6;
    c.kafka.replication_factor = o.cluster ? 3 : 1;
    if (o.cluster) c.kafka.min_insync_replicas = 2;
    c.kafka.linger = 1ms;
    // A killed member is expired after this; its partitions then move on.
    c.kafka.session_timeout = 6s;
    c.kafka.heartbeat_interval = 500ms;
    c.kafka.properties["reconnect.backoff.max.ms"] = "500";
    c.kafka.properties["log_level"] = "0";
  } else {
    c.transport = TransportKind::kNats;
    c.nats.urls = SplitCommas(o.address);
    c.nats.replicas = o.cluster ? 3 : 1;
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
  CLI::App* failover = app.add_subcommand(
      "failover", "Run one fault scenario on a three-node cluster and print its counts");
  CLI::App* scale = app.add_subcommand(
      "scale", "Read one filled topic with 1, 2, 3... consumer processes on a three-node cluster");
  CLI::App* consume = app.add_subcommand("consume", "One consumer process (started by run)");
  for (CLI::App* cmd : {run, failover, scale, consume}) {
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
  failover
      ->add_option("--scenario", o.scenario,
                   "leader-kill: SIGKILL the leader of partition 0, start it again; "
                   "rolling-restart: stop and start each node in turn; member-kills: SIGKILL "
                   "consumer processes while a node dies and comes back; minority: kill two "
                   "nodes, leaving one alone, then start them")
      ->check(CLI::IsMember({"leader-kill", "rolling-restart", "member-kills", "minority"}));
  failover->add_option("--seconds", o.seconds, "Producing time")->check(CLI::Range(5, 3600));
  failover->add_option("--rate", o.rate, "Events per second")->check(CLI::Range(1, 1'000'000));
  failover->add_option("--aggregates", o.aggregates, "Aggregates")->check(CLI::Range(1, 1'000'000));
  failover->add_option("--consumers", o.consumers, "Consumer processes")->check(CLI::Range(1, 32));
  failover->add_option("--seed", o.seed, "Random seed (0: from the clock)");
  failover
      ->add_option("--drain-timeout", o.drain_timeout_s,
                   "Seconds for every acknowledged event to be handled")
      ->check(CLI::Range(1, 3600));
  scale->add_option("--events", o.events, "Events to publish")->check(CLI::Range(1, 100'000'000));
  scale->add_option("--aggregates", o.aggregates, "Aggregates")->check(CLI::Range(1, 1'000'000));
  scale->add_option("--consumer-counts", o.scale_consumers, "Group sizes to read with, e.g. 1,2,3")
      ->delimiter(',')
      ->check(CLI::Range(1, 32));
  scale->add_option("--seed", o.seed, "Random seed (0: from the clock)");
  scale
      ->add_option("--drain-timeout", o.drain_timeout_s,
                   "Seconds for a group to handle every event")
      ->check(CLI::Range(1, 3600));
  consume->add_option("--address", o.address)->required();
  consume->add_flag("--cluster", o.cluster, "The address is a three-node cluster's");
  consume->add_option("--topic", o.topic)->required();
  consume->add_option("--group", o.group)->required();
  consume->add_option("--log", o.log)->required();
  consume->add_option("--incarnation", o.incarnation)->required();
  consume->add_option("--handle-us", o.handle_us)->check(CLI::Range(0, 10'000'000));
  CLI11_PARSE(app, argc, argv);
  if (*consume) return evbus::chaos::RunConsumer(o);
  if (*failover) return evbus::chaos::RunFailover(o, "/proc/self/exe");
  if (*scale) return evbus::chaos::RunScale(o, "/proc/self/exe");
  return evbus::chaos::RunDriver(o, "/proc/self/exe");
}
