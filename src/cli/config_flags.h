// Loading the configuration a command runs with: defaults, then --config
// FILE, then EVBUS_* environment overrides, then validation.

#ifndef EVBUS_CLI_CONFIG_FLAGS_H_
#define EVBUS_CLI_CONFIG_FLAGS_H_

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
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

// The flags every command that connects shares: --config FILE, then
// --transport, --brokers and --url, which override the file and the
// environment.
struct ConnectionFlags {
  std::string config_file;
  std::string transport;  // empty: from the file (default memory)
  std::string brokers;    // comma-separated host:port
  std::string url;        // NATS server URL

  void Add(CLI::App* cmd) {
    cmd->add_option("--config", config_file, "YAML configuration file")->check(CLI::ExistingFile);
    cmd->add_option("--transport", transport, "memory | kafka | nats (overrides --config)")
        ->check(CLI::IsMember({"memory", "kafka", "nats"}));
    cmd->add_option("--brokers", brokers, "Kafka brokers host:port,... (implies kafka)");
    cmd->add_option(
        "--url", url,
        "NATS server URL(s), e.g. nats://127.0.0.1:4222 or a cluster's, comma-separated "
        "(implies nats)");
  }

  // Errors: those of LoadCliConfig, naming the field or flag at fault.
  Status Load(Config& config) const {
    if (Status s = LoadCliConfig(config_file, config); !s.ok()) return s;
    if (!brokers.empty()) {
      config.transport = TransportKind::kKafka;
      config.kafka.brokers.clear();
      for (const std::string& b : CLI::detail::split(brokers, ',')) {
        if (!b.empty()) config.kafka.brokers.push_back(b);
      }
    }
    if (!url.empty()) {
      config.transport = TransportKind::kNats;
      config.nats.urls.clear();
      for (const std::string& u : CLI::detail::split(url, ',')) {
        if (!u.empty()) config.nats.urls.push_back(u);
      }
    }
    if (transport == "memory") config.transport = TransportKind::kMemory;
    if (transport == "kafka") config.transport = TransportKind::kKafka;
    if (transport == "nats") config.transport = TransportKind::kNats;
    if (Status s = ValidateConfig(config); !s.ok()) {
      return Status(s.code(), "--transport/--brokers/--url/--config: " + s.message());
    }
    return Status();
  }
};

// Loads `config` as Load does; on error prints "evbus COMMAND: error" and
// returns false (the caller exits with the usage code).
inline bool LoadOrPrint(const ConnectionFlags& flags, const char* command, Config& config) {
  Status s = flags.Load(config);
  if (!s.ok()) std::fprintf(stderr, "evbus %s: %s\n", command, s.ToString().c_str());
  return s.ok();
}

// A name no earlier run used: Kafka and NATS keep topics and group offsets.
inline std::string RunSuffix() {
  return "-" + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
}

}  // namespace evbus::cli

#endif  // EVBUS_CLI_CONFIG_FLAGS_H_
