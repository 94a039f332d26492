#define BOOST_TEST_MODULE route_dir
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <sstream>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <iostream>
#include <thread>

#include "test_support.h"
#include "traefik/route_dir.h"

using namespace traefik;

namespace {

Route route_for(const std::string& app, int n) {
  Route r;
  r.app_id = app;
  r.base_path = "/apps/" + app;
  r.upstreams = {"http://10.89.0." + std::to_string(n % 250 + 1) + ":" + std::to_string(3000 + n)};
  return r;
}

size_t count_files(const std::string& dir) {
  size_t n = 0;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = readdir(d))
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") ++n;
  closedir(d);
  return n;
}

void touch(const std::string& path, const std::string& content = "x") { std::ofstream(path) << content; }

struct stat stat_of(const std::string& path) {
  struct stat st {};
  ::stat(path.c_str(), &st);
  return st;
}

}  // namespace

BOOST_AUTO_TEST_CASE(write_creates_the_app_file_and_read_gives_the_route_back) {
  testing::TempDir dir;
  RouteDir routes(dir.path());
  BOOST_TEST(routes.write(route_for("10", 1)));
  BOOST_TEST(routes.path_of("10") == dir.path() + "/funai-app-10.yml");
  BOOST_TEST((*routes.read("10") == route_for("10", 1)));
  BOOST_TEST(!routes.read("11").has_value());
  BOOST_TEST(count_files(dir.path()) == 1u);  // no temporary file left
  BOOST_TEST((stat_of(routes.path_of("10")).st_mode & 0777) == 0644u);
}

BOOST_AUTO_TEST_CASE(unchanged_content_keeps_the_inode_and_the_mtime) {
  testing::TempDir dir;
  RouteDir routes(dir.path());
  routes.write(route_for("10", 1));
  auto before = stat_of(routes.path_of("10"));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_TEST(!routes.write(route_for("10", 1)));
  auto after = stat_of(routes.path_of("10"));
  BOOST_TEST(before.st_ino == after.st_ino);
  BOOST_TEST(before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);
  BOOST_TEST(before.st_mtim.tv_sec == after.st_mtim.tv_sec);
  BOOST_TEST(routes.write(route_for("10", 2)));
  BOOST_TEST(stat_of(routes.path_of("10")).st_ino != before.st_ino);  // a new file renamed into place
}

BOOST_AUTO_TEST_CASE(a_reader_never_sees_a_partial_file_during_1000_rewrites) {
  testing::TempDir dir;
  RouteDir routes(dir.path());
  routes.write(route_for("10", 0));
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, bad{0};
  std::thread reader([&] {
    while (!done.load()) {
      std::ifstream in(routes.path_of("10"));
      std::stringstream ss;
      ss << in.rdbuf();
      try {
        auto r = parse(ss.str());
        if (r.app_id != "10" || r.upstreams.size() != 1) ++bad;
      } catch (const std::exception&) {
        ++bad;
      }
      ++reads;
    }
  });
  for (int i = 1; i <= 1000; ++i) routes.write(route_for("10", i));
  done = true;
  reader.join();
  BOOST_TEST(bad.load() == 0);
  BOOST_TEST(reads.load() > 100);
  BOOST_TEST((*routes.read("10") == route_for("10", 1000)));
  BOOST_TEST(count_files(dir.path()) == 1u);
}

BOOST_AUTO_TEST_CASE(listing_ignores_foreign_files_and_cleans_leftover_temporaries) {
  testing::TempDir dir;
  RouteDir routes(dir.path());
  routes.write(route_for("10", 1));
  routes.write(route_for("abc", 2));
  touch(dir.path() + "/traefik-dashboard.yml");
  touch(dir.path() + "/funai-app-.yml");
  touch(dir.path() + "/funai-app-99.yaml");
  touch(dir.path() + "/.funai-app-10.tmp-AbC123", "half a fi");  // a crash mid-write
  BOOST_TEST((routes.list() == std::vector<std::string>{"10", "abc"}));
  struct stat st {};
  BOOST_TEST(::stat((dir.path() + "/.funai-app-10.tmp-AbC123").c_str(), &st) != 0);  // cleaned
  BOOST_TEST(::stat((dir.path() + "/traefik-dashboard.yml").c_str(), &st) == 0);    // never touched
  BOOST_TEST(::stat((dir.path() + "/funai-app-99.yaml").c_str(), &st) == 0);
}

BOOST_AUTO_TEST_CASE(a_write_cleans_a_temporary_left_by_a_crash) {
  testing::TempDir dir;
  RouteDir routes(dir.path());
  touch(dir.path() + "/.funai-app-7.tmp-XYZ987");
  routes.write(route_for("10", 1));
  BOOST_TEST(count_files(dir.path()) == 1u);
}

BOOST_AUTO_TEST_CASE(remove_deletes_only_the_app_file_and_is_idempotent) {
  testing::TempDir dir;
  RouteDir routes(dir.path());
  routes.write(route_for("10", 1));
  routes.write(route_for("100", 1));
  BOOST_TEST(routes.remove("10"));
  BOOST_TEST(!routes.remove("10"));
  BOOST_TEST((routes.list() == std::vector<std::string>{"100"}));
}

BOOST_AUTO_TEST_CASE(a_directory_that_cannot_be_made_gives_a_clear_error) {
  RouteDir routes("/proc/funai-nope/dynamic");
  BOOST_CHECK_EXCEPTION(routes.write(route_for("10", 1)), RouteDirError, [](const RouteDirError& e) {
    std::string m = e.what();
    return m.find("/proc/funai-nope/dynamic is gone and cannot be made again") != std::string::npos;
  });
  BOOST_CHECK_THROW(routes.list(), RouteDirError);
  BOOST_TEST(!routes.writable());
}

BOOST_AUTO_TEST_CASE(a_routing_directory_removed_at_run_time_is_made_again) {
  // The fault: someone (a cleanup script, an operator) removes the directory while the agent runs;
  // before, every later write failed until a restart, and listing it failed /metrics.
  testing::TempDir dir;
  const std::string path = dir.path() + "/dynamic";
  RouteDir routes(path);
  std::vector<std::string> recreated;
  routes.on_recreated([&](const std::string& d) { recreated.push_back(d); });
  ::mkdir(path.c_str(), 0755);
  BOOST_REQUIRE(routes.write(route_for("10", 1)));
  BOOST_REQUIRE_EQUAL(::unlink(routes.path_of("10").c_str()), 0);
  BOOST_REQUIRE_EQUAL(::rmdir(path.c_str()), 0);
  BOOST_TEST(routes.list().empty());  // made again, empty: the reconciler writes the routes back
  BOOST_TEST(recreated == std::vector<std::string>{path});
  BOOST_REQUIRE_EQUAL(::rmdir(path.c_str()), 0);
  BOOST_TEST(routes.write(route_for("10", 2)));
  BOOST_TEST(routes.read("10").has_value());
  BOOST_TEST(recreated.size() == 2u);
  BOOST_TEST(routes.writable());
}

BOOST_AUTO_TEST_CASE(a_read_only_directory_gives_a_clear_error_and_leaves_no_temporary) {
  testing::TempDir dir;
  testing::TmpfsMount ro(dir.path(), "ro,size=1m");
  if (!ro.mounted) {
    std::cout << "SKIPPED a_read_only_directory...: mounting a read-only tmpfs needs CAP_SYS_ADMIN\n";
    return;
  }
  RouteDir routes(dir.path());
  BOOST_CHECK_EXCEPTION(routes.write(route_for("10", 1)), RouteDirError,
                        [](const RouteDirError& e) { return std::string(e.what()).find("Read-only") != std::string::npos; });
  BOOST_TEST(count_files(dir.path()) == 0u);
}

BOOST_AUTO_TEST_CASE(a_full_directory_leaves_no_partial_file_and_the_old_route_intact) {
  testing::TempDir dir;
  testing::TmpfsMount tiny(dir.path(), "size=8k,nr_inodes=64");
  if (!tiny.mounted) {
    std::cout << "SKIPPED a_full_directory...: mounting a tmpfs needs CAP_SYS_ADMIN\n";
    return;
  }
  RouteDir routes(dir.path());
  routes.write(route_for("10", 1));
  touch(dir.path() + "/filler", std::string(4096, 'x'));  // the rest of the 8 KiB
  Route big = route_for("10", 2);
  for (int i = 0; i < 200; ++i) big.upstreams.push_back("http://10.89.1." + std::to_string(i % 250) + ":3000");
  BOOST_CHECK_THROW(routes.write(big), RouteDirError);
  BOOST_TEST((*routes.read("10") == route_for("10", 1)));
  BOOST_TEST((routes.list() == std::vector<std::string>{"10"}));
  BOOST_TEST(count_files(dir.path()) == 2u);  // the route and the filler, no temporary
}
