#include "base/lanes.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace agent {

void run_in_lanes(size_t count, size_t lanes, const std::function<bool(size_t)>& work) {
  std::atomic<size_t> next{0};
  auto lane = [&] {
    for (size_t i; (i = next++) < count;)
      if (!work(i)) next = count;
  };
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < std::min(lanes, count); ++t) helpers.emplace_back(lane);
  lane();
  for (auto& h : helpers) h.join();
}

}  // namespace agent
