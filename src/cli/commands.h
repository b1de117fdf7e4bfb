// The evbus command-line tool: one Register* function per subcommand.
// Exit codes: 0 ok, 1 runtime error, 2 usage error.

#ifndef EVBUS_CLI_COMMANDS_H_
#define EVBUS_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "evbus/config.h"

namespace evbus::cli {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

// Each Register* adds a subcommand and sets `run` to its action when chosen.
using Action = std::function<int()>;
void RegisterEnvelope(CLI::App& app, Action& run);
void RegisterConfig(CLI::App& app, Action& run);
void RegisterDemo(CLI::App& app, Action& run);
void RegisterBench(CLI::App& app, Action& run);
void RegisterPub(CLI::App& app, Action& run);
void RegisterSub(CLI::App& app, Action& run);  // also "tail"
void RegisterTopics(CLI::App& app, Action& run);
void RegisterLag(CLI::App& app, Action& run);
void RegisterCensus(CLI::App& app, Action& run);
void RegisterScript(CLI::App& app, Action& run);
void RegisterOutbox(CLI::App& app, Action& run);  // migrate, status, retry, relay
void RegisterDlq(CLI::App& app, Action& run);     // list, replay, purge

// Parses `args` (without the program name) as one evbus command line and runs
// it; returns its exit code. `evbus script` runs several in one process.
int RunCommandLine(std::vector<std::string> args);
// On the memory transport, outside `evbus script` (which keeps the broker
// alive between its commands), tells the user on stderr that what this
// process publishes dies with it.
void NoteIfMemoryBrokerIsPrivate(const char* command, const Config& config);

}  // namespace evbus::cli

#endif  // EVBUS_CLI_COMMANDS_H_
