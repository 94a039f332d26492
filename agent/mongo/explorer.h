// The Studio's data explorer over one app's database, as the earlier agent served it: list the
// collections, find, one document by id, insert one, update and delete by id, create a
// collection. Every input is checked before anything reaches MongoDB (ExplorerRefusal, naming
// the field); documents come back as MongoDB Extended JSON, relaxed ({"$oid"}, {"$date"}), as
// pymongo's json_util writes them. Inputs are JSON strings, read as Extended JSON (so
// {"$oid": "..."} in a filter is an ObjectId). Failures of MongoDB itself throw MongoError.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "mongo/mongo_server.h"

namespace agent {

// Input refused before MongoDB saw it: 400 (bad value) or 403 (a system.* collection).
class ExplorerRefusal : public std::runtime_error {
 public:
  ExplorerRefusal(int status, std::string field, const std::string& detail)
      : std::runtime_error(detail), status_(status), field_(std::move(field)) {}
  int status() const { return status_; }
  const std::string& field() const { return field_; }

 private:
  int status_;
  std::string field_;
};

struct FindQuery {
  std::string collection;
  std::string filter = "{}";
  std::optional<std::string> projection, sort;
  int limit = 50;  // 1..200
  int skip = 0;    // 0..10000
};

// The body of POST /find etc.: the JSON object the caller sent, read with the old agent's field
// names and defaults. Throws ExplorerRefusal (400) for a wrong type or range.
FindQuery find_query_from(const nlohmann::json& body);

class MongoExplorer {
 public:
  explicit MongoExplorer(MongoServer& server) : server_(server) {}

  // Each returns the answer's "data" object (with userId, appId and dbName, which the caller adds).
  nlohmann::json collections(const std::string& db);
  nlohmann::json find(const std::string& db, const FindQuery& query);
  nlohmann::json document(const std::string& db, const std::string& collection, const std::string& id);
  nlohmann::json insert_one(const std::string& db, const std::string& collection, const std::string& doc);
  nlohmann::json update_by_id(const std::string& db, const std::string& collection, const std::string& id, const std::string& update,
                              bool upsert);
  nlohmann::json delete_by_id(const std::string& db, const std::string& collection, const std::string& id);
  nlohmann::json create_collection(const std::string& db, const std::string& collection, bool strict,
                                   const std::optional<std::string>& fields);

 private:
  MongoServer& server_;
};

// ^[A-Za-z0-9][A-Za-z0-9_.-]{0,119}$, and not system.* (403). Throws ExplorerRefusal.
void check_collection_name(const std::string& name);

}  // namespace agent
