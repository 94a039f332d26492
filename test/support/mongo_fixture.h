// The MongoDB-protocol server the CTest fixture started (test/mongo_fixture.sh: FerretDB with
// SQLite, SCRAM on), and a small client of it for the tests' own checks, through the same C
// driver the agent uses.
#pragma once

#include <mongoc/mongoc.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/env_file.h"
#include "test_support.h"

namespace testing {

// What test/mongo_fixture.sh wrote (MONGO_HOST, _PORT, _USERNAME, _PASSWORD, _PID, _SERVER).
inline const agent::Environment& mongo_fixture() {
  static agent::Environment env = fixture_facts("FUNAI_MONGO_FIXTURE_FILE", "mongo.env");
  return env;
}

// A client of one URI, for the tests' checks: databases, documents, as relaxed Extended JSON.
class MongoProbe {
 public:
  explicit MongoProbe(const std::string& uri) {
    static bool initialised = [] {
      mongoc_init();
      return true;
    }();
    (void)initialised;
    bson_error_t error;
    mongoc_uri_t* parsed = mongoc_uri_new_with_error(uri.c_str(), &error);
    BOOST_REQUIRE_MESSAGE(parsed, "bad URI " << uri << ": " << error.message);
    mongoc_uri_set_option_as_int32(parsed, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 5000);
    client_ = mongoc_client_new_from_uri(parsed);
    mongoc_uri_destroy(parsed);
    BOOST_REQUIRE(client_);
    mongoc_client_set_error_api(client_, MONGOC_ERROR_API_VERSION_2);
  }
  ~MongoProbe() { mongoc_client_destroy(client_); }
  MongoProbe(const MongoProbe&) = delete;
  MongoProbe& operator=(const MongoProbe&) = delete;

  // The fixture's server, logged in as its user.
  static std::string admin_uri() {
    const auto& m = mongo_fixture();
    return "mongodb://" + encoded(m.at("MONGO_USERNAME")) + ":" + encoded(m.at("MONGO_PASSWORD")) + "@" + m.at("MONGO_HOST") + ":" +
           m.at("MONGO_PORT") + "/admin?authSource=admin";
  }
  static std::string encoded(const std::string& text) {
    std::string out;
    char buf[4];
    for (unsigned char c : text) {
      if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') out += static_cast<char>(c);
      else {
        std::snprintf(buf, sizeof buf, "%%%02X", c);
        out += buf;
      }
    }
    return out;
  }

  std::vector<std::string> databases() {
    bson_error_t error;
    char** names = mongoc_client_get_database_names_with_opts(client_, nullptr, &error);
    BOOST_REQUIRE_MESSAGE(names, "listDatabases failed: " << error.message);
    std::vector<std::string> out;
    for (char** n = names; *n; ++n) out.emplace_back(*n);
    bson_strfreev(names);
    return out;
  }
  bool has_database(const std::string& name) {
    for (const auto& d : databases())
      if (d == name) return true;
    return false;
  }
  // Inserts a relaxed Extended JSON document; returns whether the server took it.
  bool insert(const std::string& db, const std::string& collection, const std::string& json, std::string* why = nullptr) {
    bson_error_t error;
    bson_t* doc = bson_new_from_json(reinterpret_cast<const uint8_t*>(json.data()), static_cast<ssize_t>(json.size()), &error);
    BOOST_REQUIRE_MESSAGE(doc, "bad test JSON: " << error.message);
    mongoc_collection_t* c = mongoc_client_get_collection(client_, db.c_str(), collection.c_str());
    bool ok = mongoc_collection_insert_one(c, doc, nullptr, nullptr, &error);
    if (!ok && why) *why = error.message;
    mongoc_collection_destroy(c);
    bson_destroy(doc);
    return ok;
  }
  // The documents matching a filter, as relaxed Extended JSON objects.
  std::vector<nlohmann::json> find(const std::string& db, const std::string& collection, const std::string& filter = "{}") {
    bson_error_t error;
    bson_t* query = bson_new_from_json(reinterpret_cast<const uint8_t*>(filter.data()), static_cast<ssize_t>(filter.size()), &error);
    BOOST_REQUIRE(query);
    mongoc_collection_t* c = mongoc_client_get_collection(client_, db.c_str(), collection.c_str());
    mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(c, query, nullptr, nullptr);
    std::vector<nlohmann::json> out;
    const bson_t* doc;
    while (mongoc_cursor_next(cursor, &doc)) {
      char* text = bson_as_relaxed_extended_json(doc, nullptr);
      out.push_back(nlohmann::json::parse(text));
      bson_free(text);
    }
    bool failed = mongoc_cursor_error(cursor, &error);
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(c);
    bson_destroy(query);
    BOOST_REQUIRE_MESSAGE(!failed, "find failed: " << error.message);
    return out;
  }
  void drop(const std::string& db) {
    mongoc_database_t* d = mongoc_client_get_database(client_, db.c_str());
    mongoc_database_drop_with_opts(d, nullptr, nullptr);
    mongoc_database_destroy(d);
  }

 private:
  mongoc_client_t* client_ = nullptr;
};

}  // namespace testing
