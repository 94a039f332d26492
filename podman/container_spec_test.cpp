#define BOOST_TEST_MODULE container_spec
#include "container_spec.h"

#include <boost/test/unit_test.hpp>

namespace pc = podman::containers;

BOOST_AUTO_TEST_CASE(a_minimal_spec_names_only_the_name_and_image) {
  pc::Spec spec;
  spec.name = "rt-u-7-100";
  spec.image = "localhost/app:1";
  BOOST_TEST(pc::to_json(spec) == (nlohmann::json{{"name", "rt-u-7-100"}, {"image", "localhost/app:1"}}));
}

BOOST_AUTO_TEST_CASE(every_field_becomes_libpods_specgen_field) {
  pc::Spec spec;
  spec.name = "n";
  spec.image = "i";
  spec.labels = {{"io.funai.appId", "100"}};
  spec.env = {{"PORT", "3000"}};
  spec.network = "funai-runtime-net";
  spec.init = true;
  spec.restart_policy = "always";
  spec.stop_timeout = 10;
  spec.cpus = 0.5;
  spec.cpu_shares = 512;
  spec.cpuset_cpus = "0-1";
  spec.memory = 256 * 1024 * 1024;
  spec.memory_swap = -1;
  spec.pids_limit = 100;
  spec.rlimits = {{"nofile", 4096, 8192}};
  auto j = pc::to_json(spec);
  BOOST_TEST(j["labels"]["io.funai.appId"] == "100");
  BOOST_TEST(j["env"]["PORT"] == "3000");
  BOOST_TEST(j["netns"]["nsmode"] == "bridge");
  BOOST_TEST(j["networks"].contains("funai-runtime-net"));
  BOOST_TEST(j["init"] == true);
  BOOST_TEST(j["restart_policy"] == "always");
  BOOST_TEST(j["stop_timeout"] == 10);
  BOOST_TEST(j["resource_limits"]["cpu"]["period"] == 100000);
  BOOST_TEST(j["resource_limits"]["cpu"]["quota"] == 50000);
  BOOST_TEST(j["resource_limits"]["cpu"]["shares"] == 512);
  BOOST_TEST(j["resource_limits"]["cpu"]["cpus"] == "0-1");
  BOOST_TEST(j["resource_limits"]["memory"]["limit"] == 268435456);
  BOOST_TEST(j["resource_limits"]["memory"]["swap"] == -1);
  BOOST_TEST(j["resource_limits"]["pids"]["limit"] == 100);
  BOOST_TEST(j["r_limits"] == (nlohmann::json::array({{{"type", "nofile"}, {"soft", 4096}, {"hard", 8192}}})));
}
