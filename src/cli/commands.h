// The evbus command-line tool: one Register* function per subcommand.
// Exit codes: 0 ok, 1 runtime error, 2 usage error.

#ifndef EVBUS_CLI_COMMANDS_H_
#define EVBUS_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>

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

}  // namespace evbus::cli

#endif  // EVBUS_CLI_COMMANDS_H_
