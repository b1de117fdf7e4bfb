// The README's usage examples are examples/*.cc, verbatim (the files
// themselves are compiled and run as the ctests "example.*").

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <utility>

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Readme, ShowsTheCompiledQuickstartVerbatim) {
  const std::string readme = ReadFile(std::string(EVBUS_SOURCE_DIR) + "/README.md");
  const std::string example = ReadFile(std::string(EVBUS_SOURCE_DIR) + "/examples/quickstart.cc");
  ASSERT_FALSE(example.empty());
  EXPECT_NE(readme.find("```cpp\n" + example + "```"), std::string::npos)
      << "README.md's example differs from examples/quickstart.cc";
}

// Every example the README shows (besides the quickstart), each under its section.
TEST(Readme, ShowsEachCompiledExampleVerbatimInItsSection) {
  const std::string readme = ReadFile(std::string(EVBUS_SOURCE_DIR) + "/README.md");
  const std::pair<const char*, const char*> examples[] = {
      {"## Outbox and inbox", "outbox_sqlite.cc"},
      {"## Outbox and inbox", "outbox_postgres.cc"},
      {"## Middleware", "middleware.cc"},
      {"## CloudEvents", "cloudevents.cc"},
      {"## Publishing options", "publish_options.cc"},
      {"## Trace context", "trace_context.cc"},
      {"## Trace context", "tracing.cc"},
  };
  for (const auto& [section, name] : examples) {
    const std::string example = ReadFile(std::string(EVBUS_SOURCE_DIR) + "/examples/" + name);
    ASSERT_FALSE(example.empty()) << name;
    const size_t at = readme.find("\n" + std::string(section) + "\n");
    ASSERT_NE(at, std::string::npos) << "README.md has no section " << section;
    const size_t next = readme.find("\n## ", at + 1);
    const size_t shown = readme.find("```cpp\n" + example + "```", at);
    EXPECT_TRUE(shown != std::string::npos && shown < next)
        << "README.md's " << section << " does not show examples/" << name << " verbatim";
  }
}

TEST(Readme, KeepsExactlyTheTwoSetUpCommands) {
  const std::string readme = ReadFile(std::string(EVBUS_SOURCE_DIR) + "/README.md");
  EXPECT_NE(readme.find("./scripts/demo "), std::string::npos);
  EXPECT_NE(readme.find("./scripts/check "), std::string::npos);
}

}  // namespace
