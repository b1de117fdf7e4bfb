// evbus: publish, consume, inspect and measure with the evbus library.

#include <algorithm>
#include <cstdio>

#include "cli/commands.h"
#include "core/thread.h"
#include "evbus/version.h"

namespace evbus::cli {

int RunCommandLine(std::vector<std::string> args) {
  CLI::App app{
      "evbus - an event bus for domain events over Kafka, NATS JetStream or an in-process "
      "broker.\nExit codes: 0 ok, 1 runtime error, 2 usage error.",
      "evbus"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");
  app.set_version_flag("--version", "evbus " EVBUS_VERSION_STRING);
  evbus::cli::Action run;
  evbus::cli::RegisterEnvelope(app, run);
  evbus::cli::RegisterConfig(app, run);
  evbus::cli::RegisterDemo(app, run);
  evbus::cli::RegisterBench(app, run);
  evbus::cli::RegisterPub(app, run);
  evbus::cli::RegisterSub(app, run);
  evbus::cli::RegisterTopics(app, run);
  evbus::cli::RegisterLag(app, run);
  evbus::cli::RegisterCensus(app, run);
  evbus::cli::RegisterScript(app, run);
  evbus::cli::RegisterOutbox(app, run);
  evbus::cli::RegisterDlq(app, run);

  std::reverse(args.begin(), args.end());  // CLI11 takes the arguments last first
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return evbus::cli::kExitUsage;
  }
  return run ? run() : evbus::cli::kExitUsage;
}

}  // namespace evbus::cli

int main(int argc, char** argv) {
  // A sanitizer runtime (TSan) starts a helper thread at the first thread
  // creation. Start and join one now, so that helper exists before any
  // census this tool takes and is never counted as a leak of evbus's.
  evbus::core::Thread::Start("evb-warmup", "runtime", 0, [] {}).Join();
  return evbus::cli::RunCommandLine(std::vector<std::string>(argv + 1, argv + argc));
}
