// Fuzz target: a routing file read back (the reconciler reads whatever is in the directory). What
// parses must render again and read back the same.
#include <cstddef>
#include <cstdint>
#include <string>

#include "traefik/route.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto route = traefik::parse(std::string(reinterpret_cast<const char*>(data), size));
    if (!(traefik::parse(traefik::render(route)) == route)) __builtin_trap();
  } catch (const traefik::RouteFormatError&) {
  }
  return 0;
}
