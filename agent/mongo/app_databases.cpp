#include "mongo/app_databases.h"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Timespan.h>
#include <Poco/Logger.h>
#include <Poco/Timestamp.h>
#include <mongoc/mongoc.h>

#include <memory>

#include "mongo/database_name.h"

namespace agent {
namespace {

Poco::Logger& logger() { return Poco::Logger::get("mongo"); }

using Bson = std::unique_ptr<bson_t, decltype(&bson_destroy)>;

// As Python's datetime.now(timezone.utc).isoformat(): 2026-12-01T08:46:48.123456+00:00.
std::string now_iso8601_utc() {
  return Poco::DateTimeFormatter::format(Poco::Timestamp(), "%Y-%m-%dT%H:%M:%S.%F") + "+00:00";
}

std::chrono::milliseconds budget(const Settings& s) { return std::chrono::seconds(s.mongo_precreate_timeout_seconds); }

// An appId the platform can list in existingAppIds (a 64-bit integer, written without leading
// zeros): any other is never taken for an orphan.
bool listable(const std::string& app_id) {
  return !app_id.empty() && app_id.size() <= 19 && (app_id == "0" || app_id[0] != '0');
}

// Created (pre-created by a deploy) within the last day: an app the platform's list may not
// know yet, or one deployed on another node meanwhile. Unreadable dates count as recent.
bool created_recently(mongoc_client_t* client, const std::string& db) {
  mongoc_collection_t* meta = mongoc_client_get_collection(client, db.c_str(), "__funai_meta__");
  Bson filter(BCON_NEW("_id", BCON_UTF8("init")), bson_destroy);
  Bson opts(BCON_NEW("limit", BCON_INT64(1), "maxTimeMS", BCON_INT32(3000)), bson_destroy);
  mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(meta, filter.get(), opts.get(), nullptr);
  const bson_t* doc;
  bool recent = false;
  if (mongoc_cursor_next(cursor, &doc)) {
    bson_iter_t it;
    recent = true;
    if (bson_iter_init_find(&it, doc, "createdAt") && BSON_ITER_HOLDS_UTF8(&it)) {
      Poco::DateTime created;
      int tzd = 0;
      if (Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, bson_iter_utf8(&it, nullptr), created, tzd)) {
        created.makeUTC(tzd);
        recent = Poco::Timestamp() - created.timestamp() < Poco::Timespan(1, 0, 0, 0, 0).totalMicroseconds();
      }
    }
  }
  mongoc_cursor_destroy(cursor);
  mongoc_collection_destroy(meta);
  return recent;
}

}  // namespace

std::string AppDatabases::database_of(const std::string& user_id, const std::string& app_id) const {
  return app_database_name(settings_.mongo_db_template, user_id, app_id);
}

std::vector<std::pair<std::string, std::string>> AppDatabases::environment_for(const std::string& user_id,
                                                                               const std::string& app_id) const {
  if (!enabled()) return {};
  std::string db = database_of(user_id, app_id);
  std::string uri = server_.uri_for(db);
  return {{"MONGODB_URI", uri}, {"MONGO_URL", uri}, {"FUNAI_MONGO_DB_NAME", db}};
}

MongoServer::Pending AppDatabases::start_precreate(const std::string& user_id, const std::string& app_id) {
  if (!enabled() || !settings_.mongo_precreate) return {};
  std::string db = database_of(user_id, app_id);
  std::string created_at = now_iso8601_utc();
  return server_.start_within(budget(settings_), "pre-create of database " + db, [db, user_id, app_id, created_at](mongoc_client_t* client) {
    mongoc_collection_t* meta = mongoc_client_get_collection(client, db.c_str(), "__funai_meta__");
    Bson selector(BCON_NEW("_id", BCON_UTF8("init")), bson_destroy);
    Bson update(BCON_NEW("$setOnInsert", "{", "createdAt", BCON_UTF8(created_at.c_str()), "userId", BCON_UTF8(user_id.c_str()), "appId",
                         BCON_UTF8(app_id.c_str()), "}"),
                bson_destroy);
    Bson opts(BCON_NEW("upsert", BCON_BOOL(true)), bson_destroy);
    bson_error_t error;
    bool ok = mongoc_collection_update_one(meta, selector.get(), update.get(), opts.get(), nullptr, &error);
    mongoc_collection_destroy(meta);
    if (!ok) throw MongoError(mongo_error_text("pre-create of database " + db, &error));
  });
}

std::string AppDatabases::check_server() {
  if (!enabled()) return "RUNTIME_MONGO_HOST is not set";
  return server_
      .start_within(budget(settings_), "ping",
                    [](mongoc_client_t* client) {
                      Bson ping(BCON_NEW("ping", BCON_INT32(1)), bson_destroy);
                      bson_error_t error;
                      if (!mongoc_client_command_simple(client, "admin", ping.get(), nullptr, nullptr, &error))
                        throw MongoError(mongo_error_text("ping", &error));
                    })
      .wait();
}

nlohmann::json AppDatabases::drop_on_delete(const std::string& user_id, const std::string& app_id) {
  if (!settings_.mongo_drop_on_delete) return {{"enabled", false}, {"dropped", false}};
  if (!enabled()) return {{"enabled", true}, {"dropped", false}, {"reason", "RUNTIME_MONGO_HOST not configured"}};
  std::string db = database_of(user_id, app_id);
  std::string error = server_
                          .start_within(budget(settings_), "drop of database " + db,
                                        [db](mongoc_client_t* client) {
                                          mongoc_database_t* database = mongoc_client_get_database(client, db.c_str());
                                          bson_error_t e;
                                          bool ok = mongoc_database_drop_with_opts(database, nullptr, &e);
                                          mongoc_database_destroy(database);
                                          if (!ok) throw MongoError(mongo_error_text("drop of database " + db, &e));
                                        })
                          .wait();
  if (!error.empty()) {
    logger().warning("delete of app " + app_id + ": " + error + " (the app is deleted; its database is left, or dropped late if the drop is still under way)");
    return {{"enabled", true}, {"dropped", false}, {"error", error}};
  }
  logger().information("dropped database " + db + " of deleted app " + app_id + " (user " + user_id + ")");
  return {{"enabled", true}, {"dropped", true}, {"dbName", db}};
}

AppDatabases::Cleanup AppDatabases::cleanup_orphans(const std::set<std::string>& existing_app_ids,
                                                    const std::set<std::string>& deployed_here) {
  Cleanup result;
  if (!enabled()) {
    result.message = "success: RUNTIME_MONGO_HOST is not set, this node has no app databases";
    return result;
  }
  if (existing_app_ids.empty()) {
    result.message = "error: existingAppIds is empty or absent; nothing dropped (an empty list would mean every app database)";
    logger().warning("orphan cleanup refused: " + result.message);
    return result;
  }
  auto client = server_.client();
  bson_error_t error;
  char** names = mongoc_client_get_database_names_with_opts(client.get(), nullptr, &error);
  if (!names) throw MongoError(mongo_error_text("listing the databases", &error));
  std::vector<std::string> orphans;
  std::vector<std::string> candidates;
  for (char** n = names; *n; ++n) candidates.emplace_back(*n);
  bson_strfreev(names);
  for (const auto& name : candidates) {
    auto app_id = app_id_of_database(settings_.mongo_db_template, name);
    if (!app_id || !listable(*app_id) || existing_app_ids.count(*app_id)) continue;
    if (deployed_here.count(*app_id)) {
      result.kept.push_back(name);
      logger().warning("orphan cleanup: keeping " + name + ": its app is deployed on this node though not in existingAppIds");
    } else if (created_recently(client.get(), name)) {
      result.kept.push_back(name);
      logger().warning("orphan cleanup: keeping " + name + ": created within the last day, its app may not be listed yet");
    } else {
      orphans.push_back(name);
    }
  }
  if (static_cast<int>(orphans.size()) > settings_.mongo_cleanup_max_drop) {
    result.message = "error: " + std::to_string(orphans.size()) + " databases are not in existingAppIds, more than RUNTIME_MONGO_CLEANUP_MAX_DROP=" +
                     std::to_string(settings_.mongo_cleanup_max_drop) + "; nothing dropped (is the list complete?)";
    logger().warning("orphan cleanup refused: " + result.message);
    return result;
  }
  std::vector<std::string> failed;
  for (const auto& name : orphans) {
    mongoc_database_t* database = mongoc_client_get_database(client.get(), name.c_str());
    bool ok = mongoc_database_drop_with_opts(database, nullptr, &error);
    mongoc_database_destroy(database);
    if (ok) {
      logger().information("orphan cleanup: dropped database " + name);
      result.dropped.push_back(name);
    } else {
      logger().warning("orphan cleanup: could not drop " + name + ": " + error.message);
      failed.push_back(name);
    }
  }
  result.dropped_count = static_cast<int>(result.dropped.size());
  result.message = failed.empty() ? "success" : "error: could not drop " + std::to_string(failed.size()) + " database(s): " + failed.front() + (failed.size() > 1 ? ", ..." : "");
  logger().information("orphan cleanup: " + std::to_string(result.dropped_count) + " database(s) dropped, " +
                       std::to_string(result.kept.size()) + " kept, " + std::to_string(existing_app_ids.size()) + " apps listed");
  return result;
}

}  // namespace agent
