// evbus config: load, validate and print the effective configuration.

#include <cstdio>

#include "cli/commands.h"
#include "evbus/config.h"

namespace evbus::cli {

void RegisterConfig(CLI::App& app, Action& run) {
  auto file = std::make_shared<std::string>();
  auto effective = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "config",
      "Validate a configuration file (plus EVBUS_* environment overrides) and print the "
      "effective configuration with secrets masked.\nExamples:\n  evbus config --effective "
      "examples/evbus.yaml\n  EVBUS_SUBSCRIBER_WORKERS=4 evbus config --effective "
      "examples/evbus.yaml");
  cmd->add_option("FILE,--config", *file, "YAML configuration file (omit for the defaults)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--effective", *effective, "Print the effective configuration");
  cmd->callback([&run, file, effective] {
    run = [file, effective] {
      Config config;
      if (!file->empty()) {
        Result<Config> loaded = LoadConfigFile(*file);
        if (!loaded.ok()) {
          std::fprintf(stderr, "evbus config: %s\n", loaded.status().ToString().c_str());
          return kExitUsage;  // the configuration is the caller's input
        }
        config = *loaded;
      }
      if (Status s = ApplyEnvOverrides(config); !s.ok()) {
        std::fprintf(stderr, "evbus config: %s\n", s.ToString().c_str());
        return kExitUsage;  // the configuration is the caller's input
      }
      if (Status s = ValidateConfig(config); !s.ok()) {
        std::fprintf(stderr, "evbus config: %s\n", s.ToString().c_str());
        return kExitUsage;  // the configuration is the caller's input
      }
      if (*effective) {
        std::fputs(FormatConfigYaml(config).c_str(), stdout);
      } else {
        std::printf("%s: valid\n", file->empty() ? "defaults" : file->c_str());
      }
      return kExitOk;
    };
  });
}

}  // namespace evbus::cli
