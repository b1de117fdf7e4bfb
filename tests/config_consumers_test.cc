// Every Config field is read by the library: tests/config_consumers.tsv names,
// for each field, the source file that consumes it and the expression that
// reads it. A new field without a consumer (like subscriber.handler_timeout
// once was: parsed, validated, printed and read by nothing) fails here until
// its row names real code. String literals and comments do not count.

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "config/config_fields.h"
#include "test_support.h"

namespace evbus::test {
namespace {

std::string ReadSource(const std::string& path) {
  std::ifstream in(std::string(EVBUS_SOURCE_DIR) + "/" + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `code` with its comments and string and character literals blanked out.
std::string CodeOnly(const std::string& code) {
  std::string out;
  out.reserve(code.size());
  for (size_t i = 0; i < code.size(); ++i) {
    const char c = code[i];
    if (c == '/' && i + 1 < code.size() && code[i + 1] == '/') {
      while (i < code.size() && code[i] != '\n') ++i;
      out += '\n';
    } else if (c == '/' && i + 1 < code.size() && code[i + 1] == '*') {
      i = code.find("*/", i + 2);
      if (i == std::string::npos) break;
      ++i;
      out += ' ';
    } else if (c == '"' || (c == '\'' && (i == 0 || !std::isalnum(static_cast<unsigned char>(
                                                        code[i - 1]))))) {  // not 10'000
      for (++i; i < code.size() && code[i] != c; ++i) {
        if (code[i] == '\\') ++i;
      }
      out += "\"\"";
    } else {
      out += c;
    }
  }
  return out;
}

struct Row {
  std::string file;
  std::string expression;
};

std::map<std::string, Row> ReadTable() {
  std::map<std::string, Row> rows;
  std::istringstream in(ReadSource("tests/config_consumers.tsv"));
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t a = line.find('\t'), b = line.find('\t', a + 1);
    if (a == std::string::npos || b == std::string::npos) {
      ADD_FAILURE() << "malformed row: " << line;
      continue;
    }
    rows[line.substr(0, a)] = Row{line.substr(a + 1, b - a - 1), line.substr(b + 1)};
  }
  return rows;
}

TEST(ConfigConsumers, EveryFieldIsReadByTheLibrary) {
  const std::map<std::string, Row> rows = ReadTable();
  std::map<std::string, std::string> code;  // file -> code only
  std::set<std::string> fields;
  for (const config_internal::Field& f : config_internal::Fields()) {
    const std::string path(f.path);
    fields.insert(path);
    auto it = rows.find(path);
    if (it == rows.end()) {
      ADD_FAILURE() << path << " has no consumer in tests/config_consumers.tsv";
      continue;
    }
    const Row& row = it->second;
    EXPECT_TRUE(row.file.rfind("src/", 0) == 0 && row.file.rfind("src/config/", 0) != 0 &&
                row.file.rfind("src/cli/", 0) != 0)
        << path << ": the consumer must be library code outside src/config/, not " << row.file;
    if (!code.count(row.file)) code[row.file] = CodeOnly(ReadSource(row.file));
    EXPECT_NE(code[row.file].find(row.expression), std::string::npos)
        << path << ": " << row.file << " does not read it as `" << row.expression << "`";
  }
  for (const auto& [path, row] : rows) {
    EXPECT_TRUE(fields.count(path)) << "stale row for a field that no longer exists: " << path;
  }
}

TEST(ConfigConsumers, CodeOnlyIgnoresStringsAndComments) {
  EXPECT_EQ(CodeOnly("a.b // c.d\n\"e.f\" /* g.h */ i.j"), "a.b \n\"\"   i.j");
  EXPECT_EQ(CodeOnly("x = 10'000; c = 'q'; y.z"), "x = 10'000; c = \"\"; y.z");
}

}  // namespace
}  // namespace evbus::test
