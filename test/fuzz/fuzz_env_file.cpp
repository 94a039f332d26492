// Fuzz target: an EnvironmentFile, then the settings built from it and their --check-config view.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "settings.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    auto env = agent::parse_env_file(in);
    auto result = agent::load_settings(env);
    auto described = agent::describe_settings(env);
    // A secret never shows in the --check-config view.
    auto token = env.find("RUNTIME_AGENT_TOKEN");
    if (token != env.end() && token->second.size() > 8)
      for (const auto& [key, value] : described)
        if (value.find(token->second) != std::string::npos) __builtin_trap();
    (void)result;
  } catch (const agent::EnvFileError&) {
  }
  return 0;
}
