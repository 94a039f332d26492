#define BOOST_TEST_MODULE events
#include "events.h"

#include <boost/test/unit_test.hpp>

BOOST_AUTO_TEST_CASE(a_container_event_line_gives_action_id_and_labels) {
  // One line of libpod 4.3's /events stream.
  std::string line = R"({"status":"died","id":"abc","from":"localhost/app:1","Type":"container","Action":"died",)"
                     R"("Actor":{"ID":"abc","Attributes":{"io.funai.appId":"100","name":"rt-u-7-100","containerExitCode":"3"}},)"
                     R"("scope":"local","time":1795980885,"timeNano":1795980885123456789})";
  podman::events::Event e;
  BOOST_REQUIRE(podman::events::parse(line, e));
  BOOST_TEST(e.type == "container");
  BOOST_TEST(e.action == "died");
  BOOST_TEST(e.id == "abc");
  BOOST_TEST(e.name == "rt-u-7-100");
  BOOST_TEST(e.attributes.at("io.funai.appId") == "100");
  BOOST_TEST(e.time_nano == 1795980885123456789LL);
}

BOOST_AUTO_TEST_CASE(lines_that_are_not_events_are_refused) {
  podman::events::Event e;
  BOOST_TEST(!podman::events::parse("", e));
  BOOST_TEST(!podman::events::parse("not json", e));
  BOOST_TEST(!podman::events::parse("[1,2]", e));
  BOOST_TEST(!podman::events::parse("{}", e));
}
