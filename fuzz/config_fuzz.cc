// libFuzzer target for LoadConfigString: any input must come back as a Status,
// never as a crash or an escaping (yaml-cpp) exception. A config that loads
// must also survive FormatConfigYaml -> LoadConfigString unchanged.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "evbus/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  evbus::Result<evbus::Config> config = evbus::LoadConfigString(text);
  if (!config.ok()) return 0;

  // Secrets print as "***", which loads back as the same text, so formatting
  // the reloaded config must give the same YAML again.
  std::string yaml = evbus::FormatConfigYaml(*config);
  evbus::Result<evbus::Config> again = evbus::LoadConfigString(yaml);
  if (!again.ok() || evbus::FormatConfigYaml(*again) != yaml) {
    std::fprintf(stderr, "round trip failed: %s\n--- formatted:\n%s\n",
                 again.status().ToString().c_str(), yaml.c_str());
    std::abort();
  }
  return 0;
}
