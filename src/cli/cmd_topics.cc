// evbus topics: lists the broker's topics, or describes the named ones, with
// partition counts and retention where the transport reports them.

#include <cstdio>

#include "cli/commands.h"
#include "cli/config_flags.h"
#include "cli/json_text.h"
#include "transport/transport.h"

namespace evbus::cli {
namespace {

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
      std::printf("%s\n", row.str().c_str());
    } else {
      std::printf("%-40s %10d  %s\n", info.name.c_str(), info.partitions,
                  info.retention.empty() ? "-" : info.retention.c_str());
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
      "retention where the transport reports them. Listing needs transport support (memory "
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
