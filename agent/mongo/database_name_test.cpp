#define BOOST_TEST_MODULE database_name
#include <boost/test/unit_test.hpp>

#include "mongo/database_name.h"

using namespace agent;

BOOST_AUTO_TEST_CASE(names_are_the_template_filled_and_made_safe_as_the_earlier_agent_made_them) {
  BOOST_TEST(app_database_name("db_u{userId}_a{appId}", "7", "100") == "db_u7_a100");
  BOOST_TEST(app_database_name("db_u{userId}_a{appId}", "u-1", "app-2") == "db_uu_1_aapp_2");
  // Each run of characters outside [A-Za-z0-9_] is one '_'.
  BOOST_TEST(app_database_name("team.{userId}--{appId}", "7", "9") == "team_7_9");
  BOOST_TEST(app_database_name("  db_{appId}  ", "7", "9") == "db_9");
  // At most 63 characters.
  BOOST_TEST(app_database_name("db_u{userId}_a{appId}", std::string(64, 'u'), std::string(64, 'a')).size() == 63u);
  // A template that leaves nothing but '_' falls back to the default shape.
  BOOST_TEST(app_database_name("--{appId}", "7", "-") == "db_u7_a_");
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
