#define BOOST_TEST_MODULE logging
// The log file as the agent writes it: rotated by size, archives compressed, their total capped,
// and rotation safe while many threads log.
#include <Poco/File.h>
#include <Poco/Logger.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/logging.h"
#include "test_support.h"

using namespace agent;

BOOST_AUTO_TEST_CASE(the_log_file_is_rotated_by_size_and_archives_are_compressed) {
  testing::TempDir logs;
  Settings settings;
  settings.log_dir = logs.path();
  settings.log_max_file_size_bytes = 2048;
  configure_logging(log_options(settings), false);
  auto& log = Poco::Logger::get("rotation-test");
  for (int i = 0; i < 200; ++i) log.information("line " + std::to_string(i) + std::string(60, 'x'));
  bool compressed = false;
  auto t0 = std::chrono::steady_clock::now();
  while (!compressed && testing::seconds_since(t0) < 5) {
    std::vector<std::string> names;
    Poco::File(logs.path()).list(names);
    for (const auto& n : names) compressed |= n.rfind("app.log.", 0) == 0 && n.size() > 3 && n.substr(n.size() - 3) == ".gz";
    if (!compressed) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  BOOST_TEST(compressed, "no app.log.<timestamp>.gz archive in " << logs.path());
  BOOST_TEST(Poco::File(logs.path() + "/app.log").getSize() <= 2048u + 200u);
}

BOOST_AUTO_TEST_CASE(the_archives_together_stay_under_the_total_size_cap) {
  testing::TempDir logs;
  Settings settings;
  settings.log_dir = logs.path();
  settings.log_max_file_size_bytes = 2048;
  settings.log_total_size_cap_bytes = 3000;
  configure_logging(log_options(settings), false);
  auto& log = Poco::Logger::get("cap-test");
  // About 150 rotations; each archive of such lines compresses to a few hundred bytes.
  for (int i = 0; i < 4000; ++i) log.information("line " + std::to_string(i) + " " + std::to_string(i * 7919 % 104729) + std::string(50, 'y'));
  auto archives = [&] {
    std::vector<std::string> names, out;
    Poco::File(logs.path()).list(names);
    for (const auto& n : names)
      if (n.rfind("app.log.", 0) == 0) out.push_back(n);
    return out;
  };
  // Poco compresses on a thread of its own: wait until every archive is a .gz.
  auto t0 = std::chrono::steady_clock::now();
  auto pending = [&] {
    for (const auto& n : archives())
      if (n.size() < 3 || n.substr(n.size() - 3) != ".gz") return true;
    return false;
  };
  while (pending() && testing::seconds_since(t0) < 20) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  log.information("one more line after the compressions");  // no rotation: the cap held already
  uint64_t total = 0;
  for (const auto& n : archives()) total += Poco::File(logs.path() + "/" + n).getSize();
  BOOST_TEST_MESSAGE(archives().size() << " archives, " << total << " bytes");
  BOOST_TEST(!archives().empty());
  // At most the cap, plus the newest archive, which was still being compressed at the last purge.
  BOOST_TEST(total <= 3000u + 2048u, total << " bytes of archives");
  BOOST_TEST(archives().size() < 40u, archives().size() << " archives: the oldest were not removed");
}

BOOST_AUTO_TEST_CASE(rotations_while_many_threads_log_lose_no_line_and_do_not_crash) {
  // The fault: the daily rotation closed and reopened Poco's FileChannel while other threads were
  // writing through it (FileChannel::log opens the file before it takes its own lock).
  testing::TempDir logs;
  Settings settings;
  settings.log_dir = logs.path();
  settings.log_max_file_size_bytes = 1 << 30;
  configure_logging(log_options(settings), false);
  auto& log = Poco::Logger::get("rotation-race");
  std::atomic<bool> done{false};
  std::thread rotator([&] {
    while (!done) {
      rotate_log_now();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 6; ++t)
    writers.emplace_back([&, t] {
      for (int i = 0; i < 3000; ++i) log.information("writer " + std::to_string(t) + " line " + std::to_string(i));
    });
  for (auto& w : writers) w.join();
  done = true;
  rotator.join();
  rotate_log_now();
  // Every line is in app.log or an archive (compressed ones read back with gzip).
  auto t0 = std::chrono::steady_clock::now();
  size_t lines = 0;
  while (testing::seconds_since(t0) < 20) {
    std::string command = "cd '" + logs.path() + "' && (cat app.log app.log.* 2>/dev/null | gzip -dcf) | grep -c 'rotation-race writer'";
    FILE* pipe = ::popen(command.c_str(), "r");
    char buffer[64] = {0};
    if (pipe && std::fgets(buffer, sizeof buffer, pipe)) lines = std::strtoul(buffer, nullptr, 10);
    if (pipe) ::pclose(pipe);
    if (lines == 18000u) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // Poco's compressor is still at work
  }
  BOOST_TEST(lines == 18000u);
}
