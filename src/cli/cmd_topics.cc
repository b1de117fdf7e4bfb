// evbus topics: lists the broker's topics, or describes the named ones, with
// partition counts and retention where the transport reports them, and on a
// cluster each partition's leader, replicas and the replicas in sync.

#include <cstdio>

#include "cli/commands.h"
#include "cli/config_flags.h"
#include "cli/json_text.h"
#include "transport/transport.h"

namespace evbus::cli {
namespace {

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

std::string JsonNames(const std::vector<std::string>& names) {
  std::string out = "[";
  for (const std::string& n : names) out += (out.size() > 1 ? "," : "") + JsonString(n);
  return out + "]";
}

std::string JsonPlacement(const std::vector<transport::PartitionPlacement>& placement) {
  std::string out = "[";
  for (const transport::PartitionPlacement& p : placement) {
    JsonObject o;
    o.Add("partition", p.partition)
        .Add("leader", p.leader)
        .Raw("replicas", JsonNames(p.replicas))
        .Raw("in_sync", JsonNames(p.in_sync));
    out += (out.size() > 1 ? "," : "") + o.str();
  }
  return out + "]";
}

struct TopicsOptions {
  ConnectionFlags connection;
  std::vector<std::string> names;
  bool json = false;
};

int Run(const TopicsOptions& o) {
  Config config;
  if (!LoadOrPrint(o.connection, "topics", config)) return kExitUsage;
  Result<std::unique_ptr<transport::Transport>> t = transport::CreateTransport(config, 0);
  if (!t.ok()) {
    std::fprintf(stderr, "evbus topics: %s\n", t.status().ToString().c_str());
    return kExitRuntime;
  }
  std::vector<transport::TopicInfo> topics;
  Status failed;
  if (o.names.empty()) {
    Result<std::vector<transport::TopicInfo>> all = (*t)->ListTopics();
    if (all.ok()) topics = std::move(all).value();
    failed = all.status();
  }
  for (const std::string& name : o.names) {
    Result<transport::TopicInfo> info = (*t)->DescribeTopic(name);
    if (info.ok()) topics.push_back(std::move(info).value());
    if (!info.ok()) failed = info.status();
  }
  if (!o.json) std::printf("%-40s %10s  %s\n", "topic", "partitions", "retention");
  for (const transport::TopicInfo& info : topics) {
    if (o.json) {
      JsonObject row;
      row.Add("topic", info.name).Add("partitions", info.partitions);
      if (!info.retention.empty()) row.Add("retention", info.retention);
      if (!info.placement.empty()) row.Raw("placement", JsonPlacement(info.placement));
      std::printf("%s\n", row.str().c_str());
    } else {
      std::printf("%-40s %10d  %s\n", info.name.c_str(), info.partitions,
                  info.retention.empty() ? "-" : info.retention.c_str());
      for (const transport::PartitionPlacement& p : info.placement) {
        std::printf("  partition %d: leader %s, replicas %s, in sync %s\n", p.partition,
                    p.leader.empty() ? "none" : p.leader.c_str(), JoinNames(p.replicas).c_str(),
                    JoinNames(p.in_sync).c_str());
      }
    }
  }
  if (!failed.ok()) std::fprintf(stderr, "evbus topics: %s\n", failed.ToString().c_str());
  return failed.ok() ? kExitOk : kExitRuntime;
}

}  // namespace

void RegisterTopics(CLI::App& app, Action& run) {
  auto o = std::make_shared<TopicsOptions>();
  CLI::App* cmd = app.add_subcommand(
      "topics",
      "List the broker's topics, or describe the TOPICs named, with partition counts and "
      "retention where the transport reports them; on a Kafka or NATS cluster, each partition's "
      "leader, replicas and the replicas in sync. Listing needs transport support (memory "
      "has it); naming topics works everywhere. Exit code 1 if a topic is missing.");
  cmd->footer(
      "Examples:\n"
      "  evbus topics orders payments --brokers 127.0.0.1:9092\n"
      "  evbus topics orders --url nats://127.0.0.1:4222 --json\n"
      "  printf 'pub orders --raw x\\ntopics\\n' | evbus script");
  cmd->add_option("topics", o->names, "Topics to describe (default: list all)");
  cmd->add_flag("--json", o->json, "One JSON object per topic");
  o->connection.Add(cmd);
  cmd->callback([&run, o] { run = [o] { return Run(*o); }; });
}

}  // namespace evbus::cli
