// The README's usage examples are examples/*.cc, verbatim (the files
// themselves are compiled and run as the ctests "example.*").

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

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

TEST(Readme, ShowsTheCompiledOutboxExamplesVerbatim) {
  const std::string readme = ReadFile(std::string(EVBUS_SOURCE_DIR) + "/README.md");
  for (const char* name : {"outbox_sqlite.cc", "outbox_postgres.cc"}) {
    const std::string example = ReadFile(std::string(EVBUS_SOURCE_DIR) + "/examples/" + name);
    ASSERT_FALSE(example.empty()) << name;
    EXPECT_NE(readme.find("```cpp\n" + example + "```"), std::string::npos)
        << "README.md's example differs from examples/" << name;
  }
}

TEST(Readme, ShowsTheCompiledMiddlewareExampleVerbatim) {
  const std::string readme = ReadFile(std::string(EVBUS_SOURCE_DIR) + "/README.md");
  const std::string example = ReadFile(std::string(EVBUS_SOURCE_DIR) + "/examples/middleware.cc");
  ASSERT_FALSE(example.empty());
  EXPECT_NE(readme.find("## Middleware\n"), std::string::npos);
  EXPECT_NE(readme.find("```cpp\n" + example + "```"), std::string::npos)
      << "README.md's example differs from examples/middleware.cc";
}

TEST(Readme, ShowsTheCompiledCloudEventsExampleVerbatim) {
  const std::string readme = ReadFile(std::string(EVBUS_SOURCE_DIR) + "/README.md");
  const std::string example = ReadFile(std::string(EVBUS_SOURCE_DIR) + "/examples/cloudevents.cc");
  ASSERT_FALSE(example.empty());
  const size_t section = readme.find("\n## CloudEvents\n");
  ASSERT_NE(section, std::string::npos) << "README.md has no CloudEvents section";
  EXPECT_NE(readme.find("```cpp\n" + example + "```", section), std::string::npos)
      << "README.md's CloudEvents example differs from examples/cloudevents.cc";
}

TEST(Readme, ShowsTheCompiledPublishingAndTraceExamplesVerbatim) {
  const std::string readme = ReadFile(std::string(EVBUS_SOURCE_DIR) + "/README.md");
  for (const char* name : {"publish_options.cc", "trace_context.cc"}) {
    const std::string example = ReadFile(std::string(EVBUS_SOURCE_DIR) + "/examples/" + name);
    ASSERT_FALSE(example.empty()) << name;
    EXPECT_NE(readme.find("```cpp\n" + example + "```"), std::string::npos)
        << "README.md's example differs from examples/" << name;
  }
}

TEST(Readme, KeepsExactlyTheTwoSetUpCommands) {
  const std::string readme = ReadFile(std::string(EVBUS_SOURCE_DIR) + "/README.md");
  EXPECT_NE(readme.find("./scripts/demo "), std::string::npos);
  EXPECT_NE(readme.find("./scripts/check "), std::string::npos);
}

}  // namespace
