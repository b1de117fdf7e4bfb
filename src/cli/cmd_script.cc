// evbus script: runs evbus commands, one per line, in this one process. The
// memory broker lives inside a process, so this is how `pub` and `sub` (or a
// bench and a census) share it; on Kafka and NATS it is a plain batch runner.

#include <atomic>
#include <cstdio>

#include "cli/commands.h"
#include "cli/config_flags.h"
#include "cli/line_input.h"
#include "evbus/evbus.h"

namespace evbus::cli {
namespace {

std::atomic<bool> g_broker_shared{false};

struct ScriptOptions {
  ConnectionFlags connection;
  std::string file = "-";
};

int Run(const ScriptOptions& o) {
  Config config;
  if (!LoadOrPrint(o.connection, "script", config)) return kExitUsage;
  LineInput input(o.file);
  if (!input.ok()) {
    std::fprintf(stderr, "evbus script: %s: cannot open\n", o.file.c_str());
    return kExitUsage;
  }
  // A bus that is created and never started holds the memory broker (named
  // by memory.broker) without starting a thread, so what one command
  // publishes is there for the next.
  std::unique_ptr<EventBus> holder;
  if (config.transport == TransportKind::kMemory) {
    Result<std::unique_ptr<EventBus>> bus = EventBus::Create(config);
    if (!bus.ok()) {
      std::fprintf(stderr, "evbus script: %s\n", bus.status().ToString().c_str());
      return kExitRuntime;
    }
    holder = std::move(bus).value();
    g_broker_shared.store(true);
  }
  std::string line;
  int rc = kExitOk;
  while (rc == kExitOk && input.Next(line)) {
    std::vector<std::string> args = CLI::detail::split_up(line);
    if (args.empty() || args[0].starts_with("#")) continue;
    if (args[0] == "evbus") args.erase(args.begin());
    if (!args.empty() && args[0] == "script") {
      std::fprintf(stderr, "evbus script: %s: a script cannot run a script\n",
                   input.where().c_str());
      rc = kExitUsage;
      break;
    }
    rc = RunCommandLine(std::move(args));
    if (rc != kExitOk) {
      std::fprintf(stderr, "evbus script: %s failed (exit %d)\n", input.where().c_str(), rc);
    }
  }
  g_broker_shared.store(false);
  if (holder) (void)holder->Close();
  return rc;
}

}  // namespace

void NoteIfMemoryBrokerIsPrivate(const char* command, const Config& config) {
  if (config.transport != TransportKind::kMemory || g_broker_shared.load()) return;
  std::fprintf(stderr,
               "evbus %s: note: the memory broker lives in this process only; use "
               "`evbus script` to publish and consume in one process\n",
               command);
}

void RegisterScript(CLI::App& app, Action& run) {
  auto o = std::make_shared<ScriptOptions>();
  CLI::App* cmd = app.add_subcommand(
      "script",
      "Run evbus commands, one per line (blank lines and # comments skipped), in this one "
      "process and stop at the first that fails, with its exit code. The memory broker lives "
      "in a process, so this is how commands share it: publish with `pub`, then read with "
      "`sub`. The transport flags choose the broker kept for the script; each line still "
      "takes its own flags.");
  cmd->footer(
      "Examples:\n"
      "  printf '%s\\n' \"pub orders --aggregate o-1 '{\\\"payload\\\":{\\\"n\\\":1}}'\" \\\n"
      "      'sub orders --count 1 --format json' | evbus script\n"
      "  evbus script smoke.evbus");
  cmd->add_option("file", o->file, "Script file ('-' = stdin)")->capture_default_str();
  o->connection.Add(cmd);
  cmd->callback([&run, o] { run = [o] { return Run(*o); }; });
}

}  // namespace evbus::cli
