// The table of Config fields that drives loading, environment overrides,
// validation and formatting, plus the helpers those share.
//
// Each leaf of Config has exactly one Field: its YAML path, its kind, typed
// access through a kind-independent Value, its range or allowed values, and
// whether it is secret. A field added to Config but not to the table is caught
// by config_test.cc, which counts the members of every Config struct.
//
// Thread safety: everything here is immutable or reentrant.

#ifndef EVBUS_CONFIG_CONFIG_FIELDS_H_
#define EVBUS_CONFIG_CONFIG_FIELDS_H_

#include <cstdint>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "evbus/config.h"
#include "evbus/status.h"

namespace evbus::config_internal {

enum class Kind {
  kString,
  kInt,    // int
  kInt64,  // int64_t
  kDouble,
  kBool,
  kDuration,  // Duration, held as nanoseconds
  kBytes,     // int64_t byte count, written as 64MiB, 1GB, ...
  kEnum,      // held as the enumerator's index into Field::allowed
  kStringList,
  kStringMap,
};

using StringMap = std::map<std::string, std::string>;

// A field's value independent of its C++ type: kInt, kInt64, kBytes, kEnum and
// kDuration (nanoseconds) are all int64_t.
using Value = std::variant<bool, int64_t, double, std::string, std::vector<std::string>, StringMap>;

// Numeric bounds equal to these limits mean "unbounded" on that side.
inline constexpr int64_t kNoMin = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kNoMax = std::numeric_limits<int64_t>::max();

struct Field {
  std::string_view path;  // YAML path, e.g. "subscriber.retry.max_attempts"
  Kind kind;
  Value (*get)(const Config&);
  // REQUIRES: `value` holds the alternative for `kind` and CheckValue accepted it
  // (an int field would otherwise truncate).
  void (*set)(Config&, const Value&);
  // Inclusive range of numeric kinds (durations in ns; doubles compare against
  // these integers).
  int64_t min = kNoMin;
  int64_t max = kNoMax;
  // kEnum: the text forms, indexed by enumerator. kString: the allowed values
  // (empty = any string).
  std::span<const std::string_view> allowed;
  bool secret = false;  // printed as "***" by FormatConfigYaml
};

// Every leaf field of Config, in output order, grouped by section.
std::span<const Field> Fields();

// The field with this exact path, or null.
const Field* FindField(std::string_view path);

// True when `path` is a proper prefix (a section) of some field's path, e.g.
// "kafka" or "kafka.producer".
bool IsSection(std::string_view path);

// "subscriber.retry.max_attempts" -> "EVBUS_SUBSCRIBER_RETRY_MAX_ATTEMPTS".
std::string EnvName(std::string_view path);

// True for kafka.properties keys whose values must not be printed (key
// contains password, secret, key or pem, any case).
bool IsSecretPropertyKey(std::string_view key);

// Field::allowed as "per_key|per_partition|none" (an empty value as "").
std::string JoinAllowed(const Field& field);

// `s` in YAML double-quoted form: quotes, backslashes and control characters
// escaped, other bytes as they are. Used both for output and in messages.
std::string QuoteString(std::string_view s);

// Go-style duration the loader accepts back: "0s", "100ms", "1m30s", "24h",
// "1s500ms", "-5s".
std::string FormatDuration(Duration d);

// "64MiB" when an exact multiple of KiB/MiB/GiB/TiB, else the plain integer.
std::string FormatBytes(int64_t bytes);

// A value of a scalar kind as written in YAML and in messages: strings quoted,
// durations and sizes in their text forms, enums by name.
std::string FormatScalar(const Field& field, const Value& value);

// The field's inclusive range as printed in messages, e.g. "[1, 1000000]",
// "[0s, 1h]", "[-1, inf)".
std::string FormatRange(const Field& field);

// Parses the text of a scalar of any kind except kStringList and kStringMap.
// Errors: InvalidArgument "<path>: <problem>", e.g.
//   subscriber.window: "abc" is not an integer.
Result<Value> ParseScalar(const Field& field, std::string_view text);

// Checks one field's value on its own: range, allowed values, no NUL bytes.
// Errors: InvalidArgument "<path>: <problem>".
Status CheckValue(const Field& field, const Value& value);

// Reads YAML into `config` (over what it already holds) without the final
// ValidateConfig; each value is still checked by CheckValue. Never throws.
Status ParseYamlInto(std::string_view yaml, Config& config);

// ApplyEnvOverrides over an explicit list of (name, value) pairs instead of the
// process environment; all or nothing: on error `config` is unchanged.
using EnvVars = std::vector<std::pair<std::string, std::string>>;
Status ApplyEnvOverrides(Config& config, const EnvVars& vars);

// True for EVBUS_* variables that belong to scripts and tests, not to Config.
bool IsNonConfigEnvName(std::string_view name);

}  // namespace evbus::config_internal

#endif  // EVBUS_CONFIG_CONFIG_FIELDS_H_
