// What the `evbus outbox` subcommands share (cmd_outbox.cc registers them;
// the relay, the long-running one, lives in cmd_outbox_relay.cc).

#ifndef EVBUS_CLI_OUTBOX_COMMANDS_H_
#define EVBUS_CLI_OUTBOX_COMMANDS_H_

#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "cli/outbox_writer.h"

namespace evbus::cli {

// Adds `evbus outbox relay` under `outbox`.
void AddOutboxRelay(CLI::App& outbox, Action& run);

// Prints "evbus outbox COMMAND: --db URL: error" (the URL without its
// password) and returns the exit code: usage for a URL that is not one,
// runtime otherwise.
inline int PrintOutboxError(const char* command, const std::string& url, const Status& s) {
  std::fprintf(stderr, "evbus outbox %s: --db %s: %s\n", command, RedactDatabaseUrl(url).c_str(),
               s.ToString().c_str());
  return s.code() == ErrorCode::kInvalidArgument ? kExitUsage : kExitRuntime;
}

}  // namespace evbus::cli

#endif  // EVBUS_CLI_OUTBOX_COMMANDS_H_
