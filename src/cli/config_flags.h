// Loading the configuration a command runs with: defaults, then --config
// FILE, then EVBUS_* environment overrides, then validation.

#ifndef EVBUS_CLI_CONFIG_FLAGS_H_
#define EVBUS_CLI_CONFIG_FLAGS_H_

#include <string>

#include "evbus/config.h"

namespace evbus::cli {

// Fields already set in `config` by flags are kept unless the file or the
// environment sets them. Errors: those of LoadConfigFile, ApplyEnvOverrides
// and ValidateConfig.
inline Status LoadCliConfig(const std::string& file, Config& config) {
  if (!file.empty()) {
    Result<Config> loaded = LoadConfigFile(file);
    if (!loaded.ok()) return loaded.status();
    Config merged = *loaded;
    if (config.subscriber.workers != 0) merged.subscriber.workers = config.subscriber.workers;
    config = merged;
  }
  if (Status s = ApplyEnvOverrides(config); !s.ok()) return s;
  return ValidateConfig(config);
}

}  // namespace evbus::cli

#endif  // EVBUS_CLI_CONFIG_FLAGS_H_
