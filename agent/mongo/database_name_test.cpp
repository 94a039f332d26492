#define BOOST_TEST_MODULE database_name
#include <boost/test/unit_test.hpp>

#include "mongo/database_name.h"

using namespace agent;

BOOST_AUTO_TEST_CASE(names_are_the_template_filled_and_made_safe_as_the_earlier_agent_made_them) {
  BOOST_TEST(app_database_name("db_u{userId}_a{appId}", "7", "100") == "db_u7_a100");
  BOOST_TEST(app_database_name("db_u{userId}_a{appId}", "u1", "app2") == "db_uu1_aapp2");
  // Each run of characters outside [A-Za-z0-9_] is one '_'.
  BOOST_TEST(app_database_name("team.{userId}--{appId}", "7", "9") == "team_7_9");
  // Ids with '-' or '_': the same, plus a hash of the exact ids (below).
  BOOST_TEST(app_database_name("db_u{userId}_a{appId}", "u-1", "app-2").rfind("db_uu_1_aapp_2_", 0) == 0u);
  BOOST_TEST(app_database_name("  db_{appId}  ", "7", "9") == "db_9");
  // At most 63 characters.
  BOOST_TEST(app_database_name("db_u{userId}_a{appId}", std::string(64, 'u'), std::string(64, 'a')).size() <= 63u);
}

BOOST_AUTO_TEST_CASE(a_database_name_gives_back_its_app_only_when_it_has_the_templates_shape) {
  const std::string t = "db_u{userId}_a{appId}";
  BOOST_TEST(app_id_of_database(t, "db_u7_a100").value_or("") == "100");
  BOOST_TEST(app_id_of_database(t, "db_u123_a4").value_or("") == "4");
  for (const char* other : {"admin", "local", "config", "db_u7_a100x", "db_ux_a1", "db_u7_a", "xdb_u7_a1", "db_u7_a1_a2", "db_u7_am12x3"})
    BOOST_TEST(!app_id_of_database(t, other).has_value(), other);
  BOOST_TEST(app_id_of_database("app-{appId}", "app_55").value_or("") == "55");
  BOOST_TEST(app_id_of_database("{appId}_of_{userId}", "12_of_3").value_or("") == "12");
  BOOST_TEST(!app_id_of_database("db_u{userId}", "db_u7").has_value());
}

BOOST_AUTO_TEST_CASE(no_two_apps_share_a_database_whatever_their_ids) {
  const std::string t = "db_u{userId}_a{appId}";
  // '_' in an id made the earlier naming ambiguous: both of these were db_u7_a1_a2.
  BOOST_TEST(app_database_name(t, "7", "1_a2") != app_database_name(t, "7_a1", "2"));
  BOOST_TEST(app_database_name(t, "7-x", "1") != app_database_name(t, "7_x", "1"));
  // Cut at 63 characters, every app of a long userId had the same database.
  std::string user(60, '7');
  auto a = app_database_name(t, user, "1"), b = app_database_name(t, user, "2");
  BOOST_TEST(a != b);
  BOOST_TEST(a.size() <= 63u);
  BOOST_TEST(b.size() <= 63u);
  // MongoDB's own databases are never an app's.
  for (const char* reserved : {"admin", "local", "config", "Admin"}) {
    auto name = app_database_name("{appId}", "7", reserved);
    BOOST_TEST(name != reserved, name);
    BOOST_TEST(name.rfind(std::string(reserved) + "_", 0) == 0u, name);
  }
  // The platform's ids (digits) keep the earlier agent's names, and hashed names never have the
  // shape the orphan cleanup drops.
  BOOST_TEST(app_database_name(t, "12", "3456") == "db_u12_a3456");
  BOOST_TEST(!app_id_of_database(t, app_database_name(t, "7", "1_2")).has_value());
  BOOST_TEST(!app_id_of_database(t, app_database_name(t, user, "99")).has_value());
}
