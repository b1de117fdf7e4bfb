// The README's usage example is examples/quickstart.cc, verbatim (the file
// itself is compiled and run as the ctest "example.quickstart").

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

TEST(Readme, KeepsExactlyTheTwoSetUpCommands) {
  const std::string readme = ReadFile(std::string(EVBUS_SOURCE_DIR) + "/README.md");
  EXPECT_NE(readme.find("./scripts/demo "), std::string::npos);
  EXPECT_NE(readme.find("./scripts/check "), std::string::npos);
}

}  // namespace
