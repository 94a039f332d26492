// Each app's MongoDB, on a real MongoDB-protocol server (FerretDB 1.24 with SQLite, SCRAM on;
// test/mongo_fixture.sh) and the real Podman: the variables a deployed container gets, the
// pre-create, MongoDB down or hanging during a deploy, the drop on delete, the Studio's explorer
// route by route with its limits and refusals, and the nightly orphan cleanup.
#define BOOST_TEST_MODULE mongo
#include <signal.h>

#include <Poco/DateTimeFormatter.h>
#include <Poco/Timestamp.h>

#include <boost/test/unit_test.hpp>
#include <set>
#include <thread>

#include "api/mongo_endpoints.h"
#include "mongo/database_name.h"
#include "heartbeat_receiver.h"
#include "mongo_fixture.h"
#include "podman/containers.h"
#include "test_support.h"

using nlohmann::json;
using testing::MongoProbe;
using testing::seconds_since;

namespace {

agent::Settings mongo_settings(const std::string& routing, const std::string& logs) {
  auto s = testing::test_settings(routing, logs);
  const auto& m = testing::mongo_fixture();
  s.mongo_host = m.at("MONGO_HOST");
  s.mongo_port = std::stoi(m.at("MONGO_PORT"));
  s.mongo_username = m.at("MONGO_USERNAME");
  s.mongo_password = m.at("MONGO_PASSWORD");
  s.mongo_auth_source = "admin";
  s.mongo_drop_on_delete = true;
  return s;
}

struct MongoFixture {
  explicit MongoFixture(std::function<void(agent::Settings&)> adjust = nullptr)
      : agent([&] {
          auto s = mongo_settings(routing.path(), logs.path());
          if (adjust) adjust(s);
          return s;
        }()),
        probe(MongoProbe::admin_uri()) {}
  ~MongoFixture() {
    for (const auto& app : apps) {
      testing::remove_app_containers(agent.podman, app);
      probe.drop("db_u7_a" + app);
    }
  }
  std::string new_app() {
    apps.push_back(testing::unique_id("m"));
    return apps.back();
  }
  // An image of the test's own (a commit of the fixture's), for apps that are deleted: a delete
  // removes the app's images, and the fixture's are shared by every suite.
  std::string own_image() {
    std::string repo = testing::unique_id("localhost/mongo-del");
    podman::containers::Spec spec;
    spec.name = testing::unique_id("src-");
    spec.image = testing::kHttpdImage;
    podman::containers::create(agent.podman, spec);
    auto r = agent.podman.send({"commit", "POST", "/commit?container=" + spec.name + "&repo=" + podman::escape(repo) + "&tag=1"});
    podman::containers::remove(agent.podman, spec.name, true, 0);
    FUNAI_REQUIRE_STATUS(r, 200);
    return repo + ":1";
  }
  testing::HttpResult deploy(const std::string& app, const std::string& image = testing::kHttpdImage) {
    return agent.call("POST", "/agent/apps/deploy",
                      R"({"userId":"7","appId":")" + app + R"(","image":")" + image + R"(","containerPort":8080})");
  }
  // The environment of the app's container, as Podman holds it.
  std::map<std::string, std::string> container_env(const std::string& app) {
    auto r = agent.podman.get("inspect", "/containers/rt-u-7-" + app + "/json");
    BOOST_REQUIRE_EQUAL(r.status, 200);
    const json inspected = json::parse(r.body);
    std::map<std::string, std::string> env;
    for (const auto& item : inspected["Config"]["Env"]) {
      std::string kv = item;
      env[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
    }
    return env;
  }
  // An explorer call as the Studio's API sends it (here with the token).
  testing::HttpResult explore(const std::string& method, const std::string& route, const std::string& app, const std::string& body = "",
                              const std::string& query = "") {
    std::string path = "/api/fun-ai/deploy/mongo/" + route + "?userId=7&appId=" + app + query;
    return testing::http(method, agent.url(path), body,
                         {{"X-Runtime-Token", agent.settings.token}, {"Content-Type", "application/json"}});
  }
  json data_of(const testing::HttpResult& r) {
    FUNAI_REQUIRE_STATUS(r, 200);
    auto j = json::parse(r.body);
    BOOST_TEST(j["code"] == 200);
    BOOST_TEST(j["message"] == "success");
    return j["data"];
  }

  testing::TempDir routing, logs;
  testing::AgentUnderTest agent;
  MongoProbe probe;
  std::vector<std::string> apps;
};

// A second FerretDB of the test's own (the fixture's script with a state file of its own), which
// the test may freeze with SIGSTOP: a MongoDB that accepts and never answers.
struct OwnMongo {
  OwnMongo() {
    state = dir.path() + "/state";
    BOOST_REQUIRE_EQUAL(std::system((std::string(FUNAI_SOURCE_DIR) + "/test/mongo_fixture.sh setup " + state + " >/dev/null").c_str()), 0);
    std::ifstream s(state);
    std::string d;
    std::getline(s, d);
    std::ifstream in(d + "/mongo.env");
    env = agent::parse_env_file(in);
  }
  ~OwnMongo() { std::system((std::string(FUNAI_SOURCE_DIR) + "/test/mongo_fixture.sh cleanup " + state + " >/dev/null 2>&1").c_str()); }
  void freeze() { ::kill(std::stoi(env.at("MONGO_PID")), SIGSTOP); }
  void thaw() { ::kill(std::stoi(env.at("MONGO_PID")), SIGCONT); }
  testing::TempDir dir;
  std::string state;
  agent::Environment env;
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_deployed_container_gets_its_own_database_uri_and_the_database_is_precreated) {
  BOOST_TEST_MESSAGE("server: " << testing::mongo_fixture().at("MONGO_SERVER"));
  MongoFixture f;
  auto app = f.new_app();
  auto r = f.deploy(app);
  FUNAI_REQUIRE_STATUS(r, 200);
  BOOST_TEST(!json::parse(r.body).contains("warning"), r.body);

  auto env = f.container_env(app);
  const std::string db = "db_u7_a" + app;
  BOOST_TEST(env["FUNAI_MONGO_DB_NAME"] == db);
  BOOST_TEST(env["MONGODB_URI"] == env["MONGO_URL"]);
  const auto& m = testing::mongo_fixture();
  // The password holds '@', ':' and '/': percent-encoded, or the URI would name another host.
  BOOST_TEST(env["MONGODB_URI"] == "mongodb://" + MongoProbe::encoded(m.at("MONGO_USERNAME")) + ":" +
                                       MongoProbe::encoded(m.at("MONGO_PASSWORD")) + "@127.0.0.1:" + m.at("MONGO_PORT") + "/" + db +
                                       "?authSource=admin");

  BOOST_TEST(f.probe.has_database(db));
  auto meta = f.probe.find(db, "__funai_meta__");
  BOOST_REQUIRE_EQUAL(meta.size(), 1u);
  BOOST_TEST(meta[0]["_id"] == "init");
  BOOST_TEST(meta[0]["userId"] == "7");
  BOOST_TEST(meta[0]["appId"] == app);
  std::string created = meta[0]["createdAt"];
  BOOST_TEST(created.size() == 32u, created);  // 2026-12-01T08:46:48.123456+00:00
  BOOST_TEST(created.substr(created.size() - 6) == "+00:00");

  // A redeploy keeps the first createdAt ($setOnInsert).
  FUNAI_REQUIRE_STATUS(f.deploy(app, testing::kHttpd2Image), 200);
  BOOST_TEST(f.probe.find(db, "__funai_meta__")[0]["createdAt"] == created);
}

BOOST_AUTO_TEST_CASE(a_client_with_the_containers_uri_writes_and_reads_its_database) {
  MongoFixture f;
  auto app = f.new_app();
  FUNAI_REQUIRE_STATUS(f.deploy(app), 200);
  auto env = f.container_env(app);
  MongoProbe as_the_app(env["MONGODB_URI"]);
  std::string why;
  BOOST_REQUIRE_MESSAGE(as_the_app.insert(env["FUNAI_MONGO_DB_NAME"], "notes", R"({"_id":"n1","text":"hello"})", &why), why);
  auto notes = as_the_app.find(env["FUNAI_MONGO_DB_NAME"], "notes");
  BOOST_REQUIRE_EQUAL(notes.size(), 1u);
  BOOST_TEST(notes[0]["text"] == "hello");

  // The same URI with a wrong password is refused: the credentials in it are what logs in.
  std::string wrong = env["MONGODB_URI"];
  wrong.replace(wrong.find(MongoProbe::encoded(testing::mongo_fixture().at("MONGO_PASSWORD"))),
                MongoProbe::encoded(testing::mongo_fixture().at("MONGO_PASSWORD")).size(), "wrong");
  MongoProbe intruder(wrong);
  BOOST_TEST(!intruder.insert(env["FUNAI_MONGO_DB_NAME"], "notes", R"({"_id":"n2"})"));
}

BOOST_AUTO_TEST_CASE(with_mongodb_down_a_deploy_succeeds_with_a_warning) {
  int nothing_there = testing::free_port();
  MongoFixture f([&](agent::Settings& s) {
    s.mongo_port = nothing_there;
    s.mongo_precreate_timeout_seconds = 2;
  });
  auto app = f.new_app();
  auto started = std::chrono::steady_clock::now();
  auto r = f.deploy(app);
  FUNAI_REQUIRE_STATUS(r, 200);
  BOOST_TEST_MESSAGE("deploy with MongoDB refusing connections: " << seconds_since(started) << " s");
  auto body = json::parse(r.body);
  BOOST_REQUIRE(body.contains("warning"));
  BOOST_TEST(body["warning"].get<std::string>().find("pre-create of database db_u7_a" + app) != std::string::npos, body.dump());
  // The container still gets its variables: its database appears when MongoDB is back.
  BOOST_TEST(f.container_env(app)["FUNAI_MONGO_DB_NAME"] == "db_u7_a" + app);
}

BOOST_AUTO_TEST_CASE(with_mongodb_hanging_a_deploy_waits_for_it_no_longer_than_the_timeout) {
  OwnMongo hanging;
  MongoFixture f([&](agent::Settings& s) {
    s.mongo_port = std::stoi(hanging.env.at("MONGO_PORT"));
    s.mongo_username = hanging.env.at("MONGO_USERNAME");
    s.mongo_password = hanging.env.at("MONGO_PASSWORD");
    s.mongo_precreate_timeout_seconds = 1;
  });
  // The same deploy with MongoDB answering, for the time it usually takes on this machine.
  auto baseline_app = f.new_app();
  auto t0 = std::chrono::steady_clock::now();
  FUNAI_REQUIRE_STATUS(f.deploy(baseline_app), 200);
  double usual = seconds_since(t0);

  hanging.freeze();  // accepts connections (the kernel does), answers nothing
  auto app = f.new_app();
  t0 = std::chrono::steady_clock::now();
  auto r = f.deploy(app);
  double took = seconds_since(t0);
  hanging.thaw();
  FUNAI_REQUIRE_STATUS(r, 200);
  auto body = json::parse(r.body);
  BOOST_REQUIRE_MESSAGE(body.contains("warning"), r.body);
  BOOST_TEST(body["warning"].get<std::string>().find("did not answer within 1000 ms") != std::string::npos, body.dump());
  BOOST_TEST_MESSAGE("deploy: " << usual << " s with MongoDB answering, " << took << " s with it frozen (timeout 1 s)");
  // Hang guard, not a speed check: without the deadline the driver's own timeouts (its 30 s
  // server selection) would hold the deploy past the Runner's 30 s.
  BOOST_TEST(took < usual + 1 + 10);
}

BOOST_AUTO_TEST_CASE(delete_drops_the_apps_database_and_says_so) {
  MongoFixture f;
  auto app = f.new_app();
  FUNAI_REQUIRE_STATUS(f.deploy(app, f.own_image()), 200);
  BOOST_REQUIRE(f.probe.has_database("db_u7_a" + app));
  auto r = f.agent.call("POST", "/agent/apps/delete", R"({"userId":"7","appId":")" + app + R"("})");
  FUNAI_REQUIRE_STATUS(r, 200);
  auto mongo = json::parse(r.body)["mongo"];
  BOOST_TEST(mongo == json({{"enabled", true}, {"dropped", true}, {"dbName", "db_u7_a" + app}}), mongo.dump());
  BOOST_TEST(!f.probe.has_database("db_u7_a" + app));
}

BOOST_AUTO_TEST_CASE(delete_keeps_the_database_when_drop_on_delete_is_off_and_never_fails_on_mongodb) {
  MongoFixture keep([](agent::Settings& s) { s.mongo_drop_on_delete = false; });
  auto app = keep.new_app();
  FUNAI_REQUIRE_STATUS(keep.deploy(app, keep.own_image()), 200);
  auto r = keep.agent.call("POST", "/agent/apps/delete", R"({"userId":"7","appId":")" + app + R"("})");
  FUNAI_REQUIRE_STATUS(r, 200);
  BOOST_TEST(json::parse(r.body)["mongo"] == json({{"enabled", false}, {"dropped", false}}));
  BOOST_TEST(keep.probe.has_database("db_u7_a" + app));

  int nothing_there = testing::free_port();
  MongoFixture down([&](agent::Settings& s) {
    s.mongo_port = nothing_there;
    s.mongo_precreate_timeout_seconds = 1;
  });
  auto other = down.new_app();
  FUNAI_REQUIRE_STATUS(down.deploy(other, down.own_image()), 200);
  r = down.agent.call("POST", "/agent/apps/delete", R"({"userId":"7","appId":")" + other + R"("})");
  FUNAI_REQUIRE_STATUS(r, 200);
  auto mongo = json::parse(r.body)["mongo"];
  BOOST_TEST(mongo["enabled"] == true);
  BOOST_TEST(mongo["dropped"] == false);
  BOOST_TEST(mongo.contains("error"), mongo.dump());
  BOOST_TEST(json::parse(r.body)["status"] == "DELETED");
}

BOOST_AUTO_TEST_CASE(the_explorer_round_trips_documents_with_objectids_string_ids_dates_and_nesting) {
  MongoFixture f;
  auto app = f.new_app();
  FUNAI_REQUIRE_STATUS(f.deploy(app), 200);
  const std::string db = "db_u7_a" + app;

  auto inserted = f.data_of(f.explore("POST", "insert-one", app,
                                      json({{"collection", "orders"},
                                            {"doc", R"({"item":"tea","qty":3,"at":{"$date":"2026-11-30T10:20:30.456Z"},"ship":{"city":"Hangzhou","zip":"310000"}})"}})
                                          .dump()));
  BOOST_TEST(inserted["dbName"] == db);
  BOOST_TEST(inserted["userId"] == "7");
  BOOST_TEST(inserted["appId"] == app);
  std::string oid = inserted["insertedId"];
  BOOST_TEST(oid.size() == 24u);
  f.data_of(f.explore("POST", "insert-one", app, json({{"collection", "orders"}, {"doc", R"({"_id":"order-2","item":"milk","qty":1})"}}).dump()));

  // One document by its ObjectId, as pymongo's json_util writes it (relaxed Extended JSON).
  auto one = f.data_of(f.explore("GET", "doc", app, "", "&collection=orders&id=" + oid));
  BOOST_TEST(one["id"] == oid);
  BOOST_TEST(one["doc"]["_id"] == json({{"$oid", oid}}), one.dump());
  BOOST_TEST(one["doc"]["at"] == json({{"$date", "2026-11-30T10:20:30.456Z"}}), one.dump());
  BOOST_TEST(one["doc"]["ship"]["city"] == "Hangzhou");
  BOOST_TEST(one["doc"]["qty"] == 3);
  // And by a string id; an unknown id gives null.
  BOOST_TEST(f.data_of(f.explore("GET", "doc", app, "", "&collection=orders&id=order-2"))["doc"]["item"] == "milk");
  BOOST_TEST(f.data_of(f.explore("GET", "doc", app, "", "&collection=orders&id=nope"))["doc"].is_null());

  // find: filter, projection, sort, limit, skip; an ObjectId in a filter as Extended JSON.
  auto found = f.data_of(f.explore("POST", "find", app,
                                   json({{"collection", "orders"}, {"filter", R"({"qty":{"$gte":1}})"}, {"projection", R"({"item":1})"},
                                         {"sort", R"({"qty":-1})"}, {"limit", 1}, {"skip", 0}})
                                       .dump()));
  BOOST_TEST(found["returned"] == 1);
  BOOST_TEST(found["limit"] == 1);
  BOOST_TEST(found["items"][0]["item"] == "tea");
  BOOST_TEST(!found["items"][0].contains("qty"));
  auto skipped = f.data_of(f.explore("POST", "find", app, json({{"collection", "orders"}, {"sort", R"({"qty":-1})"}, {"skip", 1}}).dump()));
  BOOST_TEST(skipped["returned"] == 1);
  BOOST_TEST(skipped["items"][0]["_id"] == "order-2");
  auto by_oid = f.data_of(f.explore("POST", "find", app, json({{"collection", "orders"}, {"filter", R"({"_id":{"$oid":")" + oid + R"("}})"}}).dump()));
  BOOST_TEST(by_oid["returned"] == 1);

  // update-by-id, then with upsert on a new id.
  auto updated = f.data_of(
      f.explore("POST", "update-by-id", app, json({{"collection", "orders"}, {"id", oid}, {"update", R"({"$set":{"qty":5}})"}}).dump()));
  BOOST_TEST(updated["matchedCount"] == 1);
  BOOST_TEST(updated["modifiedCount"] == 1);
  BOOST_TEST(updated["upsertedId"].is_null());
  BOOST_TEST(f.probe.find(db, "orders", R"({"qty":5})").size() == 1u);
  auto upserted = f.data_of(f.explore(
      "POST", "update-by-id", app, json({{"collection", "orders"}, {"id", "order-3"}, {"update", R"({"$set":{"qty":9}})"}, {"upsert", true}}).dump()));
  BOOST_TEST(upserted["matchedCount"] == 0);
  BOOST_TEST(upserted["upsertedId"] == "order-3");

  // collections (sorted), delete-by-id.
  f.data_of(f.explore("POST", "insert-one", app, json({{"collection", "a-first"}, {"doc", R"({"x":1})"}}).dump()));
  auto collections = f.data_of(f.explore("GET", "collections", app))["collections"];
  BOOST_TEST(collections == json({"__funai_meta__", "a-first", "orders"}), collections.dump());
  BOOST_TEST(f.data_of(f.explore("POST", "delete-by-id", app, json({{"collection", "orders"}, {"id", "order-2"}}).dump()))["deletedCount"] == 1);
  BOOST_TEST(f.data_of(f.explore("POST", "delete-by-id", app, json({{"collection", "orders"}, {"id", "order-2"}}).dump()))["deletedCount"] == 0);
  BOOST_TEST(f.probe.find(db, "orders").size() == 2u);

  // create-collection; a second time it exists (400).
  auto created = f.data_of(f.explore("POST", "create-collection", app, json({{"collection", "events"}}).dump()));
  BOOST_TEST(created["created"] == true);
  auto again = f.explore("POST", "create-collection", app, json({{"collection", "events"}}).dump());
  BOOST_TEST(again.status == 400, again.body);
  BOOST_TEST(json::parse(again.body)["detail"] == "Collection 'events' already exists");
}

BOOST_AUTO_TEST_CASE(the_explorer_refuses_bad_input_before_mongodb_sees_it) {
  MongoFixture f;
  auto app = f.new_app();
  FUNAI_REQUIRE_STATUS(f.deploy(app), 200);
  const std::string db = "db_u7_a" + app;
  auto expect = [&](const testing::HttpResult& r, int status, const std::string& names) {
    BOOST_TEST(r.status == status, r.body);
    auto j = json::parse(r.body, nullptr, false);
    BOOST_TEST(j.is_object());
    BOOST_TEST(j.value("detail", "").find(names) != std::string::npos, "detail should name '" << names << "': " << r.body);
  };
  auto find = [&](json body) { return f.explore("POST", "find", app, body.dump()); };
  expect(find({{"collection", "orders"}, {"limit", 0}}), 400, "limit");
  expect(find({{"collection", "orders"}, {"limit", 201}}), 400, "limit");
  expect(find({{"collection", "orders"}, {"limit", "10"}}), 400, "limit");
  expect(find({{"collection", "orders"}, {"skip", -1}}), 400, "skip");
  expect(find({{"collection", "orders"}, {"skip", 10001}}), 400, "skip");
  expect(find({{"collection", "orders"}, {"filter", "{not json"}}), 400, "filter");
  expect(find({{"collection", "orders"}, {"filter", "[1,2]"}}), 400, "filter");
  expect(find({{"collection", "orders"}, {"sort", "{\"qty\": 2}"}}), 400, "sort");
  expect(find({{"collection", "orders"}, {"projection", "{oops}"}}), 400, "projection");
  expect(find({{"collection", "system.users"}}), 403, "system.*");
  expect(find({{"collection", "bad/name"}}), 400, "collection name");
  expect(find({{"collection", std::string(121, 'c')}}), 400, "collection name");
  expect(find({{"collection", ""}}), 400, "collection");
  expect(find({{"filter", "{}"}}), 400, "collection");
  expect(f.explore("POST", "find", app, "[1]"), 400, "object");
  expect(f.explore("GET", "doc", app, "", "&collection=system.profile&id=x"), 403, "system.*");
  expect(f.explore("GET", "doc", app, "", "&collection=orders"), 400, "id");
  expect(f.explore("POST", "insert-one", app, json({{"collection", "orders"}, {"doc", "{}"}}).dump()), 400, "Document cannot be empty");
  expect(f.explore("POST", "insert-one", app, json({{"collection", "orders"}, {"doc", "{\"a\":"}}).dump()), 400, "doc");
  expect(f.explore("POST", "update-by-id", app, json({{"collection", "orders"}, {"id", "x"}, {"update", R"({"qty":1})"}}).dump()), 400,
         "update operator");
  expect(f.explore("POST", "update-by-id", app, json({{"collection", "orders"}, {"id", "x"}, {"update", "{}"}}).dump()), 400, "cannot be empty");
  expect(f.explore("POST", "update-by-id", app, json({{"collection", "orders"}, {"id", "x"}, {"update", R"({"$set":{"a":1}})"}, {"upsert", "yes"}}).dump()),
         400, "upsert");
  expect(f.explore("POST", "delete-by-id", app, json({{"collection", "orders"}}).dump()), 400, "id");
  // Ids that could reach a database name are checked as everywhere else (422).
  auto bad_app = testing::http("GET", f.agent.url("/api/fun-ai/deploy/mongo/collections?userId=7&appId=a%2F..%2Fadmin"), "",
                               {{"X-Runtime-Token", f.agent.settings.token}});
  BOOST_TEST(bad_app.status == 422, bad_app.body);
  auto no_user = testing::http("GET", f.agent.url("/api/fun-ai/deploy/mongo/collections?appId=" + app), "", {{"X-Runtime-Token", f.agent.settings.token}});
  BOOST_TEST(no_user.status == 422, no_user.body);

  // None of that reached MongoDB: no collection "orders", nothing inserted.
  auto collections = f.data_of(f.explore("GET", "collections", app))["collections"];
  BOOST_TEST(collections == json({"__funai_meta__"}), collections.dump());
}

BOOST_AUTO_TEST_CASE(the_explorer_answers_500_when_mongodb_is_unreachable) {
  int nothing_there = testing::free_port();
  MongoFixture f([&](agent::Settings& s) { s.mongo_port = nothing_there; });
  auto started = std::chrono::steady_clock::now();
  auto r = f.explore("GET", "collections", "9");
  BOOST_TEST(r.status == 500, r.body);
  BOOST_TEST(json::parse(r.body)["detail"].get<std::string>().find("List collections failed") != std::string::npos, r.body);
  BOOST_TEST_MESSAGE("explorer with MongoDB refusing connections answered in " << seconds_since(started) << " s");
}

BOOST_AUTO_TEST_CASE(the_explorer_needs_the_token_or_an_allowed_address) {
  MongoFixture token_only;
  auto r = testing::http("GET", token_only.agent.url("/api/fun-ai/deploy/mongo/collections?userId=7&appId=1"));
  BOOST_TEST(r.status == 401, r.body);
  r = testing::http("GET", token_only.agent.url("/api/fun-ai/deploy/mongo/collections?userId=7&appId=1"), "", {{"X-Runtime-Token", "wrong"}});
  BOOST_TEST(r.status == 401, r.body);

  // The Studio's API, from an allowed address, sends no token (as it always has).
  MongoFixture from_api([](agent::Settings& s) { s.mongo_explorer_allow_from = {"127.0.0.0/8"}; });
  auto app = from_api.new_app();
  FUNAI_REQUIRE_STATUS(from_api.deploy(app), 200);  // the apps' network exists: its subnet is known
  r = testing::http("GET", from_api.agent.url("/api/fun-ai/deploy/mongo/collections?userId=7&appId=" + app));
  FUNAI_REQUIRE_STATUS(r, 200);
  // The allowance is for the explorer only.
  BOOST_TEST(testing::http("GET", from_api.agent.url("/agent/apps")).status == 401);
}

BOOST_AUTO_TEST_CASE(an_allowed_range_never_admits_the_apps_network) {
  // A range written too wide still leaves out every app container: they would read every app's data.
  std::vector<std::string> apps_network = {"10.89.0.0/24", "fd00:89::/64"};
  BOOST_TEST(!agent::explorer_admits({"0.0.0.0/0"}, apps_network, "10.89.0.7"));
  BOOST_TEST(!agent::explorer_admits({"10.0.0.0/8"}, apps_network, "::ffff:10.89.0.7"));
  BOOST_TEST(!agent::explorer_admits({"::/0"}, apps_network, "fd00:89::5"));
  BOOST_TEST(agent::explorer_admits({"0.0.0.0/0"}, apps_network, "10.0.0.5"));
  BOOST_TEST(agent::explorer_admits({"10.0.0.5"}, apps_network, "::ffff:10.0.0.5"));
  BOOST_TEST(!agent::explorer_admits({"10.0.0.5"}, apps_network, "10.0.0.6"));
  // Podman cannot say which subnets the apps have: no one is admitted without the token.
  BOOST_TEST(!agent::explorer_admits({"10.0.0.0/8"}, {}, "10.0.0.5"));
}

BOOST_AUTO_TEST_CASE(create_collection_with_a_validator_is_refused_by_ferretdb_with_a_clear_error) {
  // MongoDB takes {validator: {$jsonSchema}, validationLevel: strict}; FerretDB 1.24 does not
  // implement validators. The agent passes the server's refusal on as a 500 naming the call.
  MongoFixture f;
  auto app = f.new_app();
  FUNAI_REQUIRE_STATUS(f.deploy(app), 200);
  auto r = f.explore("POST", "create-collection", app,
                     json({{"collection", "people"}, {"strict", true}, {"fields", R"({"bsonType":"object","required":["name"]})"}}).dump());
  BOOST_TEST_MESSAGE("create-collection with a validator on " << testing::mongo_fixture().at("MONGO_SERVER") << ": " << r.status << " " << r.body);
  if (r.status == 200) {
    // A server that takes validators: the collection is there.
    BOOST_TEST(f.data_of(f.explore("GET", "collections", app))["collections"].dump().find("people") != std::string::npos);
  } else {
    BOOST_TEST(r.status == 500, r.body);
    BOOST_TEST(json::parse(r.body)["detail"].get<std::string>().find("Create collection failed: ") == 0u, r.body);
  }
  // A bad schema is the caller's mistake, found before the server, strict or not.
  auto bad = f.explore("POST", "create-collection", app, json({{"collection", "people2"}, {"strict", true}, {"fields", "{nope"}}).dump());
  BOOST_TEST(bad.status == 400, bad.body);
  bad = f.explore("POST", "create-collection", app, json({{"collection", "people3"}, {"fields", "{nope"}}).dump());
  BOOST_TEST(bad.status == 400, bad.body);
}

BOOST_AUTO_TEST_CASE(cleanup_drops_exactly_the_orphans_and_keeps_apps_deployed_here) {
  MongoFixture f([](agent::Settings& s) { s.mongo_cleanup_max_drop = 5; });
  // Numeric ids (as the platform's), unique to this run.
  int base = 800000 + (::getpid() % 1000) * 100;
  auto id = [&](int i) { return std::to_string(base + i); };
  for (int i = 1; i <= 4; ++i) BOOST_REQUIRE(f.probe.insert("db_u7_a" + id(i), "things", R"({"x":1})"));
  BOOST_REQUIRE(f.probe.insert("db_u7_a" + id(5) + "x", "things", R"({"x":1})"));  // not the template's shape
  BOOST_REQUIRE(f.probe.insert("other_" + id(6), "things", R"({"x":1})"));
  // id(4) is deployed here but missing from the list (the API's list lags): kept.
  f.apps.push_back(id(4));
  FUNAI_REQUIRE_STATUS(f.deploy(id(4)), 200);

  // Every other numeric app database the fixture's server holds stays listed: only ours can go.
  std::set<std::string> listed = {id(1)};
  for (const auto& name : f.probe.databases())
    if (auto app = agent::app_id_of_database("db_u{userId}_a{appId}", name); app && (std::stoll(*app) < base || std::stoll(*app) >= base + 100))
      listed.insert(*app);
  json ids = json::array();
  for (const auto& a : listed) ids.push_back(std::stoll(a));
  ids.push_back(std::to_string(base + 1));  // ids as strings are taken too
  auto r = f.agent.call("POST", "/agent/cleanup-orphaned", json({{"existingAppIds", ids}}).dump());
  FUNAI_REQUIRE_STATUS(r, 200);
  auto body = json::parse(r.body);
  BOOST_TEST(body["message"] == "success", r.body);
  BOOST_TEST(body["cleanedDatabases"] == 2, r.body);
  BOOST_TEST(body["dropped"] == json({"db_u7_a" + id(2), "db_u7_a" + id(3)}), r.body);
  BOOST_TEST(body["kept"] == json({"db_u7_a" + id(4)}), r.body);
  BOOST_TEST(f.probe.has_database("db_u7_a" + id(1)));
  BOOST_TEST(!f.probe.has_database("db_u7_a" + id(2)));
  BOOST_TEST(!f.probe.has_database("db_u7_a" + id(3)));
  BOOST_TEST(f.probe.has_database("db_u7_a" + id(4)));
  BOOST_TEST(f.probe.has_database("db_u7_a" + id(5) + "x"));
  BOOST_TEST(f.probe.has_database("other_" + id(6)));
  for (const auto& db : {"db_u7_a" + id(1), "db_u7_a" + id(5) + "x", "other_" + id(6)}) f.probe.drop(db);
}

BOOST_AUTO_TEST_CASE(cleanup_never_drops_what_it_cannot_tell_is_an_orphan) {
  MongoFixture f;
  int base = 600000 + (::getpid() % 1000) * 100;
  auto name = [&](int i) { return "db_u9_a" + std::to_string(base + i); };
  // A fresh database: pre-created by a deploy a moment ago, its app perhaps not in the list yet.
  BOOST_REQUIRE(f.probe.insert(name(1), "__funai_meta__", R"({"_id":"init","createdAt":"2025-11-30T08:46:48.123456+00:00"})"));
  std::string now = Poco::DateTimeFormatter::format(Poco::Timestamp(), "%Y-%m-%dT%H:%M:%S.%F") + "+00:00";
  BOOST_REQUIRE(f.probe.insert(name(2), "__funai_meta__", R"({"_id":"init","createdAt":")" + now + R"("})"));
  // An appId the platform's integers cannot name: leading zeros, more than 19 digits.
  BOOST_REQUIRE(f.probe.insert("db_u9_a0" + std::to_string(base + 3), "things", R"({"x":1})"));
  BOOST_REQUIRE(f.probe.insert("db_u9_a" + std::string(20, '9'), "things", R"({"x":1})"));
  // Keep every other numeric database the server holds, so only ours are in question.
  json ids = json::array();
  for (const auto& db : f.probe.databases())
    if (auto app = agent::app_id_of_database("db_u{userId}_a{appId}", db); app && app->size() <= 19 && db.rfind("db_u9_", 0) != 0)
      ids.push_back(std::stoull(*app));
  ids.push_back(18446744073709551615ULL);  // a number past 2^63 is an id like any other
  auto r = f.agent.call("POST", "/agent/cleanup-orphaned", json({{"existingAppIds", ids}}).dump());
  FUNAI_REQUIRE_STATUS(r, 200);
  auto body = json::parse(r.body);
  BOOST_TEST(body["dropped"] == json({name(1)}), r.body);  // its createdAt is a year old
  BOOST_TEST(body["kept"] == json({name(2)}), r.body);
  BOOST_TEST(!f.probe.has_database(name(1)));
  for (const auto& kept : {name(2), "db_u9_a0" + std::to_string(base + 3), "db_u9_a" + std::string(20, '9')}) {
    BOOST_TEST(f.probe.has_database(kept), kept);
    f.probe.drop(kept);
  }
  // An id no integer can hold is refused, not a 500.
  BOOST_TEST(f.agent.call("POST", "/agent/cleanup-orphaned", R"({"existingAppIds":["99999999999999999999"]})").status == 422);
}

BOOST_AUTO_TEST_CASE(find_answers_at_most_8_mib_and_says_it_was_cut) {
  // The attack: an app stores big documents in its own database and its user opens the explorer:
  // 200 documents of 16 MiB would have taken gigabytes of the agent's memory.
  MongoFixture f;
  auto app = f.new_app();
  FUNAI_REQUIRE_STATUS(f.deploy(app), 200);
  std::string big(1024 * 1024, 'b');
  for (int i = 0; i < 12; ++i) BOOST_REQUIRE(f.probe.insert("db_u7_a" + app, "blobs", R"({"i":)" + std::to_string(i) + R"(,"data":")" + big + R"("})"));
  auto data = f.data_of(f.explore("POST", "find", app, json({{"collection", "blobs"}, {"limit", 50}}).dump()));
  BOOST_TEST(data["truncated"] == true);
  BOOST_TEST(data["returned"].get<int>() >= 1);
  BOOST_TEST(data["returned"].get<int>() < 12);
  BOOST_TEST(data["items"].size() == data["returned"].get<size_t>());
  auto small = f.data_of(f.explore("POST", "find", app, json({{"collection", "blobs"}, {"limit", 2}, {"projection", R"({"i":1})"}}).dump()));
  BOOST_TEST(!small.contains("truncated"));
  BOOST_TEST(small["returned"] == 2);
}

BOOST_AUTO_TEST_CASE(cleanup_refuses_an_empty_list_and_a_list_that_would_drop_more_than_the_cap) {
  MongoFixture f([](agent::Settings& s) { s.mongo_cleanup_max_drop = 2; });
  int base = 700000 + (::getpid() % 1000) * 100;
  for (int i = 1; i <= 3; ++i) BOOST_REQUIRE(f.probe.insert("db_u8_a" + std::to_string(base + i), "things", R"({"x":1})"));
  auto ours = [&] {
    int n = 0;
    for (int i = 1; i <= 3; ++i) n += f.probe.has_database("db_u8_a" + std::to_string(base + i));
    return n;
  };
  for (const std::string& body : {std::string(R"({"existingAppIds":[]})"), std::string("{}"), std::string(R"({"existingAppIds":null})")}) {
    auto r = f.agent.call("POST", "/agent/cleanup-orphaned", body);
    FUNAI_REQUIRE_STATUS(r, 200);
    auto j = json::parse(r.body);
    BOOST_TEST(j["cleanedDatabases"] == 0);
    BOOST_TEST(j["message"].get<std::string>().find("empty") != std::string::npos, r.body);
  }
  BOOST_TEST(ours() == 3);
  // A list naming one unrelated app: our three would go, more than the cap of 2: none does.
  auto r = f.agent.call("POST", "/agent/cleanup-orphaned", R"({"existingAppIds":[1]})");
  FUNAI_REQUIRE_STATUS(r, 200);
  auto j = json::parse(r.body);
  BOOST_TEST(j["cleanedDatabases"] == 0);
  BOOST_TEST(j["message"].get<std::string>().find("RUNTIME_MONGO_CLEANUP_MAX_DROP=2") != std::string::npos, r.body);
  BOOST_TEST(ours() == 3);
  // Bad input changes nothing either.
  BOOST_TEST(f.agent.call("POST", "/agent/cleanup-orphaned", R"({"existingAppIds":"all"})").status == 422);
  BOOST_TEST(f.agent.call("POST", "/agent/cleanup-orphaned", R"({"existingAppIds":[-1]})").status == 422);
  BOOST_TEST(f.agent.call("POST", "/agent/cleanup-orphaned", R"({"existingAppIds":[1.5]})").status == 422);
  BOOST_TEST(testing::http("POST", f.agent.url("/agent/cleanup-orphaned"), R"({"existingAppIds":[1]})", {{"Content-Type", "application/json"}}).status == 401);
  BOOST_TEST(ours() == 3);
  for (int i = 1; i <= 3; ++i) f.probe.drop("db_u8_a" + std::to_string(base + i));
}

BOOST_AUTO_TEST_CASE(the_python_agents_runtime_env_starts_this_agent_and_its_heartbeat_carries_the_same_fields) {
  std::ifstream file(std::string(FUNAI_SOURCE_DIR) + "/test/data/python-agent-runtime.env");
  BOOST_REQUIRE(file.good());
  auto env = agent::parse_env_file(file);
  testing::HeartbeatReceiver receiver(env.at("DEPLOY_NODE_TOKEN"));
  testing::TempDir routing, logs;
  const auto& m = testing::mongo_fixture();
  int port = testing::free_port();
  // What differs on this machine (addresses, folders, the fixtures), and the value that made
  // this agent refuse to start before: DEPLOY_HEARTBEAT_SECONDS=0 (the earlier agent took 60).
  std::map<std::string, std::string> run(env.begin(), env.end());
  run["RUNTIME_AGENT_HOST"] = "127.0.0.1";
  run["RUNTIME_AGENT_PORT"] = std::to_string(port);
  run["RUNTIME_PODMAN_SOCKET"] = testing::podman_socket();
  run["RUNTIME_DOCKER_NETWORK"] = "funai-test-net";
  run["RUNTIME_TRAEFIK_DYNAMIC_DIR"] = routing.path();
  run["FUNAI_LOG_DIR"] = logs.path();
  run["DEPLOY_BASE_URL"] = receiver.url();
  run["DEPLOY_HEARTBEAT_SECONDS"] = "0";
  run["RUNTIME_MONGO_HOST"] = m.at("MONGO_HOST");
  run["RUNTIME_MONGO_PORT"] = m.at("MONGO_PORT");
  run["RUNTIME_MONGO_USERNAME"] = m.at("MONGO_USERNAME");
  run["RUNTIME_MONGO_PASSWORD"] = m.at("MONGO_PASSWORD");
  run["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  testing::AgentProcess agent(run, port);
  BOOST_REQUIRE(agent.running());

  BOOST_REQUIRE_MESSAGE(receiver.wait_for(1, 20), "no heartbeat within 20 s of the start");
  auto beat = receiver.received().front();
  BOOST_TEST(beat.path == "/internal/runtime-nodes/heartbeat");
  for (const char* field : {"nodeName", "agentBaseUrl", "gatewayBaseUrl", "diskFreePct", "diskFreeBytes", "containerCount"})
    BOOST_TEST(beat.body.contains(field), field << " is missing from " << beat.body.dump());
  BOOST_TEST(beat.body["nodeName"] == env.at("RUNTIME_NODE_NAME"));
  BOOST_TEST(beat.body["agentBaseUrl"] == env.at("RUNTIME_NODE_AGENT_BASE_URL"));
  BOOST_TEST(beat.body["gatewayBaseUrl"] == env.at("RUNTIME_NODE_GATEWAY_BASE_URL"));
  BOOST_TEST(testing::http("GET", agent.url("/internal")).body == R"({"ok":true})");

  std::ifstream console(logs.path() + "/console.log");
  std::string text((std::istreambuf_iterator<char>(console)), std::istreambuf_iterator<char>());
  BOOST_TEST(text.find("DEPLOY_HEARTBEAT_SECONDS=0 is taken as 60 seconds") != std::string::npos, text);
  BOOST_TEST(text.find("RUNTIME_DOCKER_BIN (the agent drives Podman through its REST API") != std::string::npos, text);
  BOOST_TEST(text.find(m.at("MONGO_PASSWORD")) == std::string::npos, "the MongoDB password is in the log");
  BOOST_TEST(agent.terminate() == 0);
}
