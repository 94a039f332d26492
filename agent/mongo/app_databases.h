// Each app's own database on the platform's MongoDB, as the earlier agent kept them: the
// variables a deployed container gets (MONGODB_URI, MONGO_URL, FUNAI_MONGO_DB_NAME), the
// pre-create on deploy, the drop on delete, and the nightly cleanup of orphans. MongoDB being
// down or slow never fails a deploy or a delete, and delays neither past
// RUNTIME_MONGO_PRECREATE_TIMEOUT_SECONDS. All off while RUNTIME_MONGO_HOST is empty.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "config/settings.h"
#include "mongo/mongo_server.h"

namespace agent {

class AppDatabases {
 public:
  AppDatabases(const Settings& settings, MongoServer& server) : settings_(settings), server_(server) {}

  bool enabled() const { return server_.configured(); }
  std::string database_of(const std::string& user_id, const std::string& app_id) const;

  // The variables of a new container: none when Mongo is off.
  std::vector<std::pair<std::string, std::string>> environment_for(const std::string& user_id, const std::string& app_id) const;

  // Starts the pre-create (upsert {_id:"init"} with $setOnInsert {createdAt, userId, appId} into
  // __funai_meta__); wait() on the result gives "" or a warning for the deploy's answer. Nothing
  // is started when Mongo or RUNTIME_MONGO_PRECREATE is off.
  MongoServer::Pending start_precreate(const std::string& user_id, const std::string& app_id);

  // Logs in and pings the server within the pre-create timeout: "" when it answers, else why not.
  std::string check_server();

  // The "mongo" field of a delete's answer: {"enabled","dropped"[,"dbName"|"reason"|"error"]}.
  nlohmann::json drop_on_delete(const std::string& user_id, const std::string& app_id);

  struct Cleanup {
    int dropped_count = 0;
    std::string message;               // "success", or why nothing (or not all) was dropped
    std::vector<std::string> dropped;  // names, in order
    std::vector<std::string> kept;     // orphans by the list, kept: their app is deployed here, or the database is under a day old
  };
  // Drops every database of the template's shape whose appId is neither in existing_app_ids nor
  // deployed here (deployed_here), nor pre-created within the last day; appIds the platform could
  // not list (leading zeros, over 19 digits) are never taken for orphans. Drops nothing when existing_app_ids is empty or when more
  // than RUNTIME_MONGO_CLEANUP_MAX_DROP would go. Throws MongoError when MongoDB cannot be read.
  Cleanup cleanup_orphans(const std::set<std::string>& existing_app_ids, const std::set<std::string>& deployed_here);

 private:
  const Settings& settings_;
  MongoServer& server_;
};

}  // namespace agent
