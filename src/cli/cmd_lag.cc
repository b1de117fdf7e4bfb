// evbus lag: a consumer group's lag per topic and partition, straight from a
// Kafka broker or a NATS server (evbus::ReadGroupLag); the group is not joined.

#include <cstdio>

#include "cli/commands.h"
#include "cli/config_flags.h"
#include "evbus/ops.h"

namespace evbus::cli {
namespace {

struct LagOptions {
  ConnectionFlags connection;
  std::string group;
  std::vector<std::string> topics;
};

int Run(const LagOptions& o) {
  Config config;
  if (Status s = o.connection.Load(config); !s.ok()) {
    std::fprintf(stderr, "evbus lag: %s\n", s.ToString().c_str());
    return kExitUsage;
  }
  const std::string group = o.group.empty() ? config.subscriber.group : o.group;
  Result<std::vector<GroupPartitionLag>> lags = ReadGroupLag(config, group, o.topics);
  if (!lags.ok()) {
    std::fprintf(stderr, "evbus lag: %s\n", lags.status().ToString().c_str());
    return lags.status().code() == ErrorCode::kInvalidArgument ? kExitUsage : kExitRuntime;
  }
  size_t width = 5;
  for (const GroupPartitionLag& l : *lags) width = std::max(width, l.topic.size());
  const int w = static_cast<int>(width);
  std::printf("group %s (%s)\n", group.c_str(), std::string(ToString(config.transport)).c_str());
  std::printf("%-*s %9s %12s %12s %10s\n", w, "TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG");
  int64_t total = 0;
  for (const GroupPartitionLag& l : *lags) {
    const std::string committed = l.committed >= 0 ? std::to_string(l.committed) : "-";
    std::printf("%-*s %9d %12s %12lld %10lld\n", w, l.topic.c_str(), l.partition, committed.c_str(),
                static_cast<long long>(l.log_end), static_cast<long long>(l.lag));
    total += l.lag;
  }
  std::printf("total lag %lld over %zu partition(s)\n", static_cast<long long>(total),
              lags->size());
  if (lags->empty() && o.topics.empty()) {
    std::printf("(the group has no committed offsets; name topics to see their lag)\n");
  }
  return kExitOk;
}

}  // namespace

void RegisterLag(CLI::App& app, Action& run) {
  auto o = std::make_shared<LagOptions>();
  CLI::App* cmd = app.add_subcommand(
      "lag",
      "Print a consumer group's lag per topic and partition, read from the Kafka brokers or the "
      "NATS server without joining the group.\nExamples:\n  evbus lag --brokers "
      "127.0.0.1:19092 --group billing\n  evbus lag --url nats://127.0.0.1:14222 --group "
      "billing orders payments");
  o->connection.Add(cmd);
  cmd->add_option("--group", o->group, "Consumer group (default: subscriber.group)");
  cmd->add_option("TOPIC", o->topics,
                  "Topics to report (Kafka: default every topic the group committed; NATS: "
                  "required)");
  cmd->callback([&run, o] { run = [o] { return Run(*o); }; });
}

}  // namespace evbus::cli
