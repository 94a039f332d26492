#define BOOST_TEST_MODULE app_labels
#include <boost/test/unit_test.hpp>
#include <set>

#include "base/app_labels.h"

using agent::labels::container_name;

BOOST_AUTO_TEST_CASE(container_names_keep_the_platforms_form_for_ids_without_a_dash) {
  BOOST_TEST(container_name("7", "100") == "rt-u-7-100");
  BOOST_TEST(container_name("u_7", "app_1") == "rt-u-u_7-app_1");
}

BOOST_AUTO_TEST_CASE(no_two_user_and_app_pairs_share_a_container_name) {
  // Before: ("1-2", "3") and ("1", "2-3") were both rt-u-1-2-3, and the second deploy got a
  // misleading name_in_use.
  BOOST_TEST(container_name("1-2", "3") != container_name("1", "2-3"));
  // Every pair of ids of up to three characters from {1, -, _}, valid as ids (no leading '-').
  std::vector<std::string> ids;
  const std::string chars = "1-_";
  for (size_t len = 1; len <= 3; ++len) {
    std::string id(len, '1');
    std::vector<size_t> at(len, 0);
    while (true) {
      for (size_t i = 0; i < len; ++i) id[i] = chars[at[i]];
      if (id[0] != '-') ids.push_back(id);
      size_t i = 0;
      while (i < len && ++at[i] == chars.size()) at[i++] = 0;
      if (i == len) break;
    }
  }
  std::set<std::string> names;
  for (const auto& u : ids)
    for (const auto& a : ids) names.insert(container_name(u, a));
  BOOST_TEST(names.size() == ids.size() * ids.size());
}
