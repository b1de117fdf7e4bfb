// Lines from a file named by a flag, or from stdin ("-"): what `evbus pub
// --file` and `evbus script` read.

#ifndef EVBUS_CLI_LINE_INPUT_H_
#define EVBUS_CLI_LINE_INPUT_H_

#include <fstream>
#include <iostream>
#include <string>

namespace evbus::cli {

class LineInput {
 public:
  // `file` empty or "-" reads stdin.
  explicit LineInput(const std::string& file)
      : name_(file.empty() || file == "-" ? "stdin" : file) {
    if (name_ != "stdin") file_.open(file);
  }
  // False when the named file could not be opened.
  bool ok() const { return name_ == "stdin" || file_.is_open(); }
  // Reads the next line; false at the end.
  bool Next(std::string& line) {
    std::istream& in = name_ == "stdin" ? std::cin : file_;
    if (!std::getline(in, line)) return false;
    ++number_;
    return true;
  }
  // "FILE line N" of the last line read, for error messages.
  std::string where() const { return name_ + " line " + std::to_string(number_); }
  const std::string& name() const { return name_; }

 private:
  const std::string name_;
  std::ifstream file_;
  int number_ = 0;
};

}  // namespace evbus::cli

#endif  // EVBUS_CLI_LINE_INPUT_H_
