// LoadConfigString / LoadConfigFile (YAML) and ApplyEnvOverrides, both driven
// by the field table. yaml-cpp reports errors by throwing; every exception is
// caught here and turned into a Status.

#include <fmt/format.h>
#include <unistd.h>  // environ
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "config/config_fields.h"
#include "config/topic_fields.h"

namespace evbus {
namespace config_internal {
namespace {

enum class NumParse { kOk, kSyntax, kOverflow };

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

bool IsDigit(char ch) { return ch >= '0' && ch <= '9'; }

// Values echoed in messages are cut short: fuzzers and typos can be huge.
std::string QuoteForMessage(std::string_view s) {
  constexpr size_t kMax = 80;
  if (s.size() <= kMax) return QuoteString(s);
  return QuoteString(s.substr(0, kMax)) + "...";
}

// A decimal integer with an optional sign; nothing else.
NumParse ParseInt(std::string_view s, int64_t& out) {
  if (s.size() > 1 && s[0] == '+' && IsDigit(s[1])) s.remove_prefix(1);
  if (s.empty()) return NumParse::kSyntax;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (end != s.data() + s.size()) return NumParse::kSyntax;
  if (ec == std::errc::result_out_of_range) return NumParse::kOverflow;
  return ec == std::errc() ? NumParse::kOk : NumParse::kSyntax;
}

// Go's time.ParseDuration syntax ("1h30m", "1.5s", "-250ms", units ns us µs ms
// s m h), plus a bare integer meaning milliseconds.
NumParse ParseDuration(std::string_view s, int64_t& out_ns) {
  struct Unit {
    std::string_view name;
    int64_t ns;
  };
  static constexpr Unit kUnits[] = {
      {"ns", 1},         {"us", 1'000},        {"\xc2\xb5s", 1'000},  {"\xce\xbcs", 1'000},
      {"ms", 1'000'000}, {"s", 1'000'000'000}, {"m", 60'000'000'000}, {"h", 3'600'000'000'000}};

  int64_t ms = 0;
  if (NumParse r = ParseInt(s, ms); r != NumParse::kSyntax) {
    if (r == NumParse::kOverflow || __builtin_mul_overflow(ms, int64_t{1'000'000}, &out_ns)) {
      return NumParse::kOverflow;
    }
    return NumParse::kOk;
  }
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return NumParse::kSyntax;
  int64_t total = 0;
  while (!s.empty()) {
    int64_t whole = 0;
    size_t i = 0;
    for (; i < s.size() && IsDigit(s[i]); ++i) {
      if (__builtin_mul_overflow(whole, int64_t{10}, &whole) ||
          __builtin_add_overflow(whole, int64_t{s[i] - '0'}, &whole)) {
        return NumParse::kOverflow;
      }
    }
    bool has_digits = i > 0;
    double fraction = 0;
    if (i < s.size() && s[i] == '.') {
      double scale = 0.1;
      for (++i; i < s.size() && IsDigit(s[i]); ++i, scale /= 10) {
        fraction += (s[i] - '0') * scale;
        has_digits = true;
      }
    }
    size_t unit_end = i;
    while (unit_end < s.size() && !IsDigit(s[unit_end]) && s[unit_end] != '.') ++unit_end;
    std::string_view unit_name = s.substr(i, unit_end - i);
    auto unit = std::find_if(std::begin(kUnits), std::end(kUnits),
                             [&](const Unit& u) { return u.name == unit_name; });
    if (!has_digits || unit == std::end(kUnits)) return NumParse::kSyntax;
    int64_t part = 0;
    if (__builtin_mul_overflow(whole, unit->ns, &part) ||
        __builtin_add_overflow(part, static_cast<int64_t>(std::llround(fraction * unit->ns)),
                               &part) ||
        __builtin_add_overflow(total, part, &total)) {
      return NumParse::kOverflow;
    }
    s.remove_prefix(unit_end);
  }
  out_ns = negative ? -total : total;
  return NumParse::kOk;
}

// "1024", "512KiB", "64 MiB", "1GB" (KB = 1000, KiB = 1024; units any case).
NumParse ParseBytes(std::string_view s, int64_t& out) {
  size_t digits_end = 0;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) digits_end = 1;
  while (digits_end < s.size() && IsDigit(s[digits_end])) ++digits_end;
  int64_t number = 0;
  if (NumParse r = ParseInt(s.substr(0, digits_end), number); r != NumParse::kOk) return r;
  std::string unit = Lower(Trim(s.substr(digits_end)));
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  int64_t scale = 1;
  if (!unit.empty()) {
    static constexpr std::string_view kPrefixes = "kmgt";
    size_t power = kPrefixes.find(unit[0]);
    bool binary = unit.size() == 2 && unit[1] == 'i';
    if (power == std::string_view::npos || (unit.size() != 1 && !binary)) return NumParse::kSyntax;
    for (size_t p = 0; p <= power; ++p) scale *= binary ? 1024 : 1000;
  }
  return __builtin_mul_overflow(number, scale, &out) ? NumParse::kOverflow : NumParse::kOk;
}

// What a value of this kind looks like, for "expected ..." messages.
std::string KindNoun(const Field& f) {
  switch (f.kind) {
    case Kind::kString:
      return "a string";
    case Kind::kInt:
    case Kind::kInt64:
      return "an integer";
    case Kind::kDouble:
      return "a number";
    case Kind::kBool:
      return "a boolean (true or false)";
    case Kind::kDuration:
      return "a duration (e.g. 250ms, 5s, 1m30s; a bare integer is milliseconds)";
    case Kind::kBytes:
      return "a byte size (e.g. 1024, 512KiB, 64MiB, 1GB)";
    case Kind::kEnum:
      return "one of " + JoinAllowed(f);
    case Kind::kStringList:
      return "a list of strings";
    case Kind::kStringMap:
      return "a mapping of strings";
  }
  return "a value";
}

std::string Describe(const YAML::Node& node) {
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  if (node.IsScalar()) return QuoteForMessage(node.Scalar());
  return "an empty value";
}

std::string YamlErrorText(const YAML::Exception& e) {
  if (e.mark.is_null()) return "YAML error: " + e.msg;
  return fmt::format("YAML error at line {}, column {}: {}", e.mark.line + 1, e.mark.column + 1,
                     e.msg);
}

Result<Value> ReadList(const Field& f, const YAML::Node& node) {
  std::vector<std::string> items;
  if (node.IsScalar()) {
    items.push_back(node.Scalar());  // a single string stands for a one-element list
  } else if (node.IsSequence()) {
    for (const YAML::Node& item : node) {
      if (!item.IsScalar()) {
        return InvalidArgument(
            fmt::format("{}[{}]: expected a string, got {}", f.path, items.size(), Describe(item)));
      }
      items.push_back(item.Scalar());
    }
  } else if (!node.IsNull()) {
    return InvalidArgument(
        fmt::format("{}: expected a list of strings, got {}", f.path, Describe(node)));
  }
  return Value(std::move(items));
}

// kafka.properties: any names; librdkafka validates them when the client is created.
Result<Value> ReadMap(const Field& f, const YAML::Node& node) {
  StringMap map;
  if (node.IsNull()) return Value(std::move(map));
  if (!node.IsMap()) {
    return InvalidArgument(
        fmt::format("{}: expected a mapping of strings, got {}", f.path, Describe(node)));
  }
  for (const auto& kv : node) {
    if (!kv.first.IsScalar() || kv.first.Scalar().empty()) {
      return InvalidArgument(fmt::format("{}: keys must be non-empty strings", f.path));
    }
    const std::string& key = kv.first.Scalar();
    if (!kv.second.IsScalar()) {
      return InvalidArgument(
          fmt::format("{}.{}: expected a string, got {}", f.path, key, Describe(kv.second)));
    }
    if (!map.emplace(key, kv.second.Scalar()).second) {
      return InvalidArgument(fmt::format("{}.{}: duplicate key", f.path, key));
    }
  }
  return Value(std::move(map));
}

Result<Value> ReadValue(const Field& f, const YAML::Node& node) {
  if (f.kind == Kind::kStringList) return ReadList(f, node);
  if (f.kind == Kind::kStringMap) return ReadMap(f, node);
  if (node.IsNull()) {
    if (f.kind == Kind::kString) return Value(std::string());
    return InvalidArgument(fmt::format("{}: missing value, expected {}", f.path, KindNoun(f)));
  }
  if (!node.IsScalar()) {
    return InvalidArgument(
        fmt::format("{}: expected {}, got {}", f.path, KindNoun(f), Describe(node)));
  }
  return ParseScalar(f, node.Scalar());
}

Status ReadField(const Field& f, const YAML::Node& node, Config& config) {
  Result<Value> value = ReadValue(f, node);
  if (!value.ok()) return value.status();
  if (Status s = CheckValue(f, *value); !s.ok()) return s;
  f.set(config, *value);
  return Status();
}

// topics: {<name>: {<key>: <value>, ...}, ...}. Topic names are free (they
// may contain dots), so this section is read by name, not through the table.
Status ReadTopics(const YAML::Node& node, Config& config) {
  if (node.IsNull()) return Status();
  if (!node.IsMap()) {
    return InvalidArgument(fmt::format(
        "topics: expected a mapping of topic names to settings, got {}", Describe(node)));
  }
  std::set<std::string> seen;
  for (const auto& topic_kv : node) {
    if (!topic_kv.first.IsScalar()) return InvalidArgument("topics: keys must be topic names");
    const std::string& topic = topic_kv.first.Scalar();
    if (Status s = CheckTopicName(topic); !s.ok()) return s;
    if (!seen.insert(topic).second) return InvalidArgument("topics." + topic + ": duplicate key");
    TopicConfig settings = config.topics[topic];
    const YAML::Node& section = topic_kv.second;
    if (!section.IsNull() && !section.IsMap()) {
      return InvalidArgument(fmt::format("topics.{}: expected a mapping of settings, got {}", topic,
                                         Describe(section)));
    }
    std::set<std::string> keys;
    for (const auto& kv : section) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
      const auto fields = TopicFields();
      const auto tf = std::find_if(fields.begin(), fields.end(),
                                   [&](const TopicField& f) { return f.field.path == key; });
      if (tf == fields.end()) {
        std::string known;
        for (const TopicField& f : fields)
          known += (known.empty() ? "" : ", ") + std::string(f.field.path);
        return InvalidArgument(
            fmt::format("topics.{}.{}: unknown key (a topic has {})", topic, key, known));
      }
      std::string path;
      const Field f = TopicFieldAt(*tf, topic, path);
      if (!keys.insert(key).second) return InvalidArgument(path + ": duplicate key");
      Result<Value> value = ReadValue(f, kv.second);
      if (!value.ok()) return value.status();
      if (Status s = CheckValue(f, *value); !s.ok()) return s;
      tf->set(settings, *value);
    }
    config.topics[topic] = settings;
  }
  return Status();
}

// Reads the mapping at `prefix` ("" for the document root). Recursion only
// follows known section names, so its depth is bounded by the table's.
Status ReadSection(const YAML::Node& node, const std::string& prefix, Config& config) {
  std::string where = prefix.empty() ? std::string("top level") : prefix;
  if (node.IsNull()) return Status();
  if (!node.IsMap()) {
    return InvalidArgument(fmt::format("{}: expected a mapping, got {}", where, Describe(node)));
  }
  std::set<std::string> seen;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar() || kv.first.Scalar().empty()) {
      return InvalidArgument(where + ": keys must be non-empty strings");
    }
    const std::string& key = kv.first.Scalar();
    std::string path = prefix.empty() ? key : prefix + "." + key;
    if (!seen.insert(key).second) return InvalidArgument(path + ": duplicate key");
    if (key.find('.') != std::string::npos) {
      return InvalidArgument(path + ": unknown key (nest sections instead of dotted keys)");
    }
    if (path == "topics") {
      if (Status s = ReadTopics(kv.second, config); !s.ok()) return s;
      continue;
    }
    const Field* f = FindField(path);
    if (f == nullptr && !IsSection(path)) return InvalidArgument(path + ": unknown key");
    Status s = f ? ReadField(*f, kv.second, config) : ReadSection(kv.second, path, config);
    if (!s.ok()) return s;
  }
  return Status();
}

// Notes where each document starts; ignores everything else.
class DocumentStarts : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { marks.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  std::vector<YAML::Mark> marks;
};

// Rejects streams of several documents. yaml-cpp 0.7's LoadAll never returns
// (allocating until memory runs out) on input such as a stray ",": its parser
// reports an empty document again and again without consuming anything (yaml-cpp
// issue #1040). So look at two documents at most, and take a second one that
// starts where the first did for a syntax error there.
Status CheckOneDocument(const std::string& yaml) {
  std::istringstream in(yaml);
  YAML::Parser parser(in);
  DocumentStarts starts;
  if (parser.HandleNextDocument(starts)) parser.HandleNextDocument(starts);
  if (starts.marks.size() < 2) return Status();
  const YAML::Mark& second = starts.marks[1];
  if (second.pos == starts.marks[0].pos) {
    return InvalidArgument(fmt::format("YAML error at line {}, column {}: unexpected character",
                                       second.line + 1, second.column + 1));
  }
  return InvalidArgument("expected one YAML document, got more");
}

const Field* FindFieldByEnvName(std::string_view name) {
  for (const Field& f : Fields()) {
    if (EnvName(f.path) == name) return &f;
  }
  return nullptr;
}

// Lists are comma-separated ("a:1, b:2"); kafka.properties is "name=value,...".
Result<Value> ParseEnvValue(const Field& f, std::string_view text) {
  if (f.kind != Kind::kStringList && f.kind != Kind::kStringMap) return ParseScalar(f, text);
  std::vector<std::string> items;
  StringMap map;
  std::stringstream in{std::string(text)};
  for (std::string item; std::getline(in, item, ',');) {
    std::string_view trimmed = Trim(item);
    if (trimmed.empty()) continue;
    if (f.kind == Kind::kStringList) {
      items.emplace_back(trimmed);
      continue;
    }
    size_t eq = trimmed.find('=');
    std::string_view name = eq == std::string_view::npos ? "" : Trim(trimmed.substr(0, eq));
    if (name.empty()) {
      return InvalidArgument(
          fmt::format("{}: {} is not name=value", f.path, QuoteForMessage(trimmed)));
    }
    map[std::string(name)] = std::string(Trim(trimmed.substr(eq + 1)));
  }
  if (f.kind == Kind::kStringList) return Value(std::move(items));
  return Value(std::move(map));
}

}  // namespace

Result<Value> ParseScalar(const Field& f, std::string_view text) {
  std::string_view t = Trim(text);
  auto not_a = [&](std::string_view noun) {
    return InvalidArgument(fmt::format("{}: {} is not {}", f.path, QuoteForMessage(text), noun));
  };
  auto overflow = [&] {  // `t` is all digits and units here
    return InvalidArgument(
        fmt::format("{}: {} is out of range {}", f.path, t.substr(0, 80), FormatRange(f)));
  };
  int64_t n = 0;
  switch (f.kind) {
    case Kind::kString:
      return Value(std::string(text));
    case Kind::kBool: {
      std::string lower = Lower(t);
      if (lower == "true" || lower == "yes" || lower == "on" || lower == "1") return Value(true);
      if (lower == "false" || lower == "no" || lower == "off" || lower == "0") return Value(false);
      return not_a(KindNoun(f));
    }
    case Kind::kInt:
    case Kind::kInt64:
    case Kind::kBytes:
    case Kind::kDuration: {
      NumParse r = f.kind == Kind::kBytes      ? ParseBytes(t, n)
                   : f.kind == Kind::kDuration ? ParseDuration(t, n)
                                               : ParseInt(t, n);
      if (r == NumParse::kSyntax) return not_a(KindNoun(f));
      if (r == NumParse::kOverflow) return overflow();
      return Value(n);
    }
    case Kind::kDouble: {
      std::string_view d = t.size() > 1 && t[0] == '+' ? t.substr(1) : t;
      double v = 0;
      auto [end, ec] = std::from_chars(d.data(), d.data() + d.size(), v);
      if (end != d.data() + d.size() || d.empty()) return not_a(KindNoun(f));
      if (ec == std::errc::result_out_of_range) return overflow();
      if (ec != std::errc() || !std::isfinite(v)) return not_a(KindNoun(f));
      return Value(v);
    }
    case Kind::kEnum: {
      auto it = std::find(f.allowed.begin(), f.allowed.end(), t);
      if (it == f.allowed.end()) return not_a(KindNoun(f));
      return Value(static_cast<int64_t>(it - f.allowed.begin()));
    }
    case Kind::kStringList:
    case Kind::kStringMap:
      break;
  }
  return Internal(fmt::format("{}: not a scalar field", f.path));
}

Status ParseYamlInto(std::string_view yaml, Config& config) {
  try {
    std::string text(yaml);
    if (Status s = CheckOneDocument(text); !s.ok()) return s;
    Config updated = config;
    if (Status s = ReadSection(YAML::Load(text), "", updated); !s.ok()) return s;
    config = std::move(updated);
    return Status();
  } catch (const YAML::DeepRecursion& e) {  // yaml-cpp's message is "bad file"
    return InvalidArgument(fmt::format("YAML error at line {}, column {}: nested too deeply",
                                       e.mark.line + 1, e.mark.column + 1));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(YamlErrorText(e));
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("YAML error: ") + e.what());
  }
}

// Names that start with EVBUS_ but configure the scripts and the test
// infrastructure, not a bus; ApplyEnvOverrides ignores them (and any
// EVBUS_TEST_* variable) rather than rejecting them as typos.
constexpr std::string_view kNonConfigEnvNames[] = {
    "EVBUS_KAFKA_BOOTSTRAP",           // test Kafka broker address
    "EVBUS_KAFKA_PORT",                // test Kafka listener port
    "EVBUS_KAFKA_CONTROLLER_PORT",     // test Kafka KRaft controller port
    "EVBUS_KAFKA_DIR",                 // test Kafka installation/data directory
    "EVBUS_KAFKA_START_TIMEOUT",       // scripts/kafka: seconds to wait for the broker
    "EVBUS_KAFKA_AUTO_CREATE_TOPICS",  // scripts/kafka: broker auto.create.topics.enable
    "EVBUS_NATS_URL",                  // test NATS server URL (the field is EVBUS_NATS_URLS)
    "EVBUS_NATS_PORT",                 // test NATS client port
    "EVBUS_NATS_MONITOR_PORT",         // test NATS monitoring port
    "EVBUS_NATS_DIR",                  // test NATS installation/data directory
    "EVBUS_NATS_START_TIMEOUT",        // scripts/nats: seconds to wait for the server
};
constexpr std::string_view kNonConfigEnvPrefix = "EVBUS_TEST_";

bool IsNonConfigEnvName(std::string_view name) {
  return name.starts_with(kNonConfigEnvPrefix) ||
         std::find(std::begin(kNonConfigEnvNames), std::end(kNonConfigEnvNames), name) !=
             std::end(kNonConfigEnvNames);
}

Status ApplyEnvOverrides(Config& config, const EnvVars& vars) {
  Config updated = config;
  for (const auto& [name, text] : vars) {
    if (!name.starts_with("EVBUS_") || IsNonConfigEnvName(name)) continue;
    const Field* f = FindFieldByEnvName(name);
    // kafka.properties names contain dots and mixed case, which variable names
    // cannot carry faithfully, so EVBUS_KAFKA_PROPERTIES_<NAME> is not supported.
    if (f == nullptr && name.starts_with("EVBUS_KAFKA_PROPERTIES_")) {
      return InvalidArgument(name +
                             ": not supported; set EVBUS_KAFKA_PROPERTIES=name=value,... instead");
    }
    if (f == nullptr) {
      return InvalidArgument(name + ": unknown environment variable (matches no config field)");
    }
    Result<Value> value = ParseEnvValue(*f, text);
    Status s = value.ok() ? CheckValue(*f, *value) : value.status();
    if (!s.ok()) return InvalidArgument(name + ": " + s.message());
    f->set(updated, *value);
  }
  config = std::move(updated);
  return Status();
}

}  // namespace config_internal

Result<Config> LoadConfigString(std::string_view yaml) {
  Config config;
  if (Status s = config_internal::ParseYamlInto(yaml, config); !s.ok()) return s;
  if (Status s = ValidateConfig(config); !s.ok()) return s;
  return config;
}

Result<Config> LoadConfigFile(const std::string& path) {
  std::error_code ec;
  bool exists = std::filesystem::exists(path, ec);
  if (ec) return InvalidArgument(path + ": " + ec.message());
  if (!exists) return NotFound(path + ": no such file");
  if (std::filesystem::is_directory(path, ec)) {
    return InvalidArgument(path + ": is a directory, not a config file");
  }
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.is_open() || in.bad()) return InvalidArgument(path + ": cannot be read");
  Result<Config> config = LoadConfigString(text);
  if (!config.ok()) return Status(config.status().code(), path + ": " + config.status().message());
  return config;
}

Status ApplyEnvOverrides(Config& config) {
  config_internal::EnvVars vars;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    size_t eq = text.find('=');
    if (eq == std::string_view::npos || !text.starts_with("EVBUS_")) continue;
    vars.emplace_back(text.substr(0, eq), text.substr(eq + 1));
  }
  std::sort(vars.begin(), vars.end());  // so the first error reported does not vary
  return config_internal::ApplyEnvOverrides(config, vars);
}

}  // namespace evbus
