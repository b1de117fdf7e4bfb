// FormatConfigYaml and the text forms of values, written so that the loader
// reads them back to the same values.

#include <fmt/format.h>

#include <string>
#include <vector>

#include "config/config_fields.h"
#include "config/topic_fields.h"

namespace evbus {
namespace config_internal {
namespace {

constexpr std::string_view kRedacted = "\"***\"";
constexpr size_t kMaxImplicitKey = 1000;

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  for (size_t dot; (dot = path.find('.')) != std::string_view::npos;) {
    parts.push_back(path.substr(0, dot));
    path.remove_prefix(dot + 1);
  }
  parts.push_back(path);
  return parts;
}

void AppendField(const Field& f, const Value& v, std::string_view name, size_t indent,
                 std::string& out) {
  std::string pad(indent, ' ');
  out += fmt::format("{}{}:", pad, name);
  if (f.kind == Kind::kStringList) {
    const auto& items = std::get<std::vector<std::string>>(v);
    if (items.empty()) out += " []";
    for (const std::string& item : items) out += fmt::format("\n{}  - {}", pad, QuoteString(item));
  } else if (f.kind == Kind::kStringMap) {
    const auto& map = std::get<StringMap>(v);
    if (map.empty()) out += " {}";
    for (const auto& [key, value] : map) {
      std::string quoted_key = QuoteString(key);
      std::string quoted_value =
          IsSecretPropertyKey(key) ? std::string(kRedacted) : QuoteString(value);
      // YAML limits implicit keys to 1024 characters; longer ones need "? key".
      if (quoted_key.size() < kMaxImplicitKey) {
        out += fmt::format("\n{}  {}: {}", pad, quoted_key, quoted_value);
      } else {
        out += fmt::format("\n{}  ? {}\n{}  : {}", pad, quoted_key, pad, quoted_value);
      }
    }
  } else if (f.secret && !std::get<std::string>(v).empty()) {
    out += fmt::format(" {}", kRedacted);
  } else {
    out += " " + FormatScalar(f, v);
  }
  out += '\n';
}

}  // namespace

std::string FormatDuration(Duration d) {
  struct Unit {
    uint64_t ns;
    std::string_view name;
  };
  static constexpr Unit kUnits[] = {
      {3'600'000'000'000, "h"}, {60'000'000'000, "m"}, {1'000'000'000, "s"},
      {1'000'000, "ms"},        {1'000, "us"},         {1, "ns"}};
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  std::string out = ns < 0 ? "-" : "";
  // Unsigned, so that the most negative duration has a magnitude too.
  uint64_t left = ns < 0 ? 0 - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  for (const Unit& unit : kUnits) {
    if (left >= unit.ns) {
      out += fmt::format("{}{}", left / unit.ns, unit.name);
      left %= unit.ns;
    }
  }
  return out;
}

std::string FormatBytes(int64_t bytes) {
  static constexpr std::string_view kUnits[] = {"TiB", "GiB", "MiB", "KiB"};
  for (size_t i = 0; i < std::size(kUnits); ++i) {
    int64_t unit = int64_t{1} << (10 * (std::size(kUnits) - i));
    if (bytes != 0 && bytes % unit == 0) return fmt::format("{}{}", bytes / unit, kUnits[i]);
  }
  return std::to_string(bytes);
}

std::string FormatScalar(const Field& f, const Value& v) {
  switch (f.kind) {
    case Kind::kString:
      return QuoteString(std::get<std::string>(v));
    case Kind::kBool:
      return std::get<bool>(v) ? "true" : "false";
    case Kind::kInt:
    case Kind::kInt64:
      return std::to_string(std::get<int64_t>(v));
    case Kind::kBytes:
      return FormatBytes(std::get<int64_t>(v));
    case Kind::kDuration:
      return FormatDuration(Duration(std::get<int64_t>(v)));
    case Kind::kDouble:
      return fmt::format("{}", std::get<double>(v));  // shortest form that reads back exactly
    case Kind::kEnum: {
      int64_t n = std::get<int64_t>(v);
      bool known = n >= 0 && static_cast<size_t>(n) < f.allowed.size();
      return known ? std::string(f.allowed[n]) : std::to_string(n);
    }
    case Kind::kStringList:
    case Kind::kStringMap:
      break;
  }
  return "?";
}

}  // namespace config_internal

std::string FormatConfigYaml(const Config& config) {
  using config_internal::Field;
  std::string out;
  std::vector<std::string_view> open;  // the sections the previous field was in
  for (const Field& f : config_internal::Fields()) {
    std::vector<std::string_view> parts = config_internal::SplitPath(f.path);
    std::string_view name = parts.back();
    parts.pop_back();
    size_t common = 0;
    while (common < open.size() && common < parts.size() && open[common] == parts[common]) {
      ++common;
    }
    for (size_t i = common; i < parts.size(); ++i) {
      out += fmt::format("{}{}:\n", std::string(2 * i, ' '), parts[i]);
    }
    open = parts;
    config_internal::AppendField(f, f.get(config), name, 2 * parts.size(), out);
  }
  if (!config.topics.empty()) out += "topics:\n";
  for (const auto& [topic, settings] : config.topics) {
    out += fmt::format("  {}:", config_internal::QuoteString(topic));
    std::string keys;
    for (const config_internal::TopicField& tf : config_internal::TopicFields()) {
      if (!tf.present(settings)) continue;
      keys += fmt::format("\n    {}: {}", tf.field.path,
                          config_internal::FormatScalar(tf.field, tf.get(settings)));
    }
    out += keys + "\n";
  }
  return out;
}

}  // namespace evbus
