// What the CLI tests share: running the evbus program and reading what it
// printed and how it exited.

#ifndef EVBUS_TESTS_CLI_SUPPORT_H_
#define EVBUS_TESTS_CLI_SUPPORT_H_

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"

namespace evbus::test {

// A new file in the test's temporary directory holding `text`.
inline std::string TempFile(const std::string& prefix, const std::string& text) {
  const std::string path = ::testing::TempDir() + UniqueName(prefix);
  std::ofstream(path) << text;
  return path;
}

struct CliRun {
  int code = -1;
  std::string out;  // stdout and stderr
};

// Runs `ENV evbus ARGS` with `input` on stdin and waits for it to exit.
inline CliRun RunCli(const std::string& args, const std::string& input = "",
                     const std::string& env = "") {
  const std::string in = TempFile("cli-stdin", input);
  const std::string command =
      env + " " + std::string(EVBUS_CLI_PATH) + " " + args + " <" + in + " 2>&1";
  CliRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), pipe)) > 0;) run.out.append(buf, n);
  const int status = pclose(pipe);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::remove(in.c_str());
  return run;
}

// The lines of `out` that start with '{': the JSON records among the messages.
inline std::vector<std::string> JsonLines(const std::string& out) {
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("{")) lines.push_back(line);
  }
  return lines;
}

}  // namespace evbus::test

#endif  // EVBUS_TESTS_CLI_SUPPORT_H_
