#include "api/mongo_endpoints.h"

#include <Poco/Logger.h>

#include <set>

#include "api/api_error.h"
#include "apps/app_parts.h"
#include "config/validation.h"
#include "mongo/explorer.h"

namespace agent {
namespace {

const std::string kExplorer = "/api/fun-ai/deploy/mongo";

nlohmann::json success(nlohmann::json data) { return {{"code", 200}, {"message", "success"}, {"data", std::move(data)}}; }

// The app whose database a call is about: userId and appId from the query, both required.
struct Target {
  std::string user_id, app_id, db;
};

Target target_of(const Call& call, AppDatabases& databases) {
  Target t;
  t.user_id = require_id(call.param("userId"), "userId");
  t.app_id = require_id(call.param("appId"), "appId");
  t.db = databases.database_of(t.user_id, t.app_id);
  return t;
}

nlohmann::json with_target(const Target& t, nlohmann::json data) {
  nlohmann::json out = {{"userId", t.user_id}, {"appId", t.app_id}, {"dbName", t.db}};
  for (auto& [key, value] : data.items()) out[key] = value;
  return out;
}

const nlohmann::json& body_object(const Call& call) {
  if (!call.body.is_object()) throw ExplorerRefusal(400, "body", "a JSON object is expected");
  return call.body;
}

std::string required_text(const nlohmann::json& body, const char* field) {
  if (!body.contains(field) || body[field].is_null()) throw ExplorerRefusal(400, field, std::string(field) + " is required");
  if (!body[field].is_string()) throw ExplorerRefusal(400, field, std::string(field) + " must be a string");
  return body[field].get<std::string>();
}

bool optional_flag(const nlohmann::json& body, const char* field) {
  if (!body.contains(field) || body[field].is_null()) return false;
  if (!body[field].is_boolean()) throw ExplorerRefusal(400, field, std::string(field) + " must be true or false");
  return body[field].get<bool>();
}

std::optional<std::string> optional_text(const nlohmann::json& body, const char* field) {
  if (!body.contains(field) || body[field].is_null()) return std::nullopt;
  if (!body[field].is_string()) throw ExplorerRefusal(400, field, std::string(field) + " must be a string (JSON text)");
  return body[field].get<std::string>();
}

// existingAppIds: absent, or a list of non-negative integers or digit strings (as the earlier
// agent's list[int] took them).
std::set<std::string> existing_app_ids(const nlohmann::json& body) {
  std::set<std::string> ids;
  if (body.is_null()) return ids;
  if (!body.is_object()) throw ValidationError("body", "a JSON object is expected");
  if (!body.contains("existingAppIds") || body["existingAppIds"].is_null()) return ids;
  const auto& list = body["existingAppIds"];
  if (!list.is_array()) throw ValidationError("existingAppIds", "must be a list of app ids (integers)");
  for (const auto& id : list) {
    if (id.is_number_unsigned()) {
      ids.insert(std::to_string(id.get<uint64_t>()));
    } else if (id.is_number_integer() && id.get<int64_t>() >= 0) {
      ids.insert(std::to_string(id.get<int64_t>()));
    } else if (id.is_string() && !id.get<std::string>().empty() && id.get<std::string>().size() <= 19 &&
               id.get<std::string>().find_first_not_of("0123456789") == std::string::npos) {
      ids.insert(std::to_string(std::stoull(id.get<std::string>())));  // "0100" lists app 100, as the earlier agent's int did
    } else {
      throw ValidationError("existingAppIds", "must be a list of app ids (non-negative integers), got " + id.dump().substr(0, 40));
    }
  }
  return ids;
}

}  // namespace

bool explorer_admits(const std::vector<std::string>& allow_from, const std::vector<std::string>& app_subnets, const std::string& peer) {
  if (allow_from.empty() || app_subnets.empty()) return false;
  for (const auto& subnet : app_subnets) {
    auto range = parse_cidr(subnet);
    if (!range || range->contains(peer)) return false;
  }
  for (const auto& allowed : allow_from) {
    auto range = parse_cidr(allowed);
    if (range && range->contains(peer)) return true;
  }
  return false;
}

std::vector<Endpoint> mongo_endpoints(const Settings& settings, AppParts& parts) {
  AppDatabases& databases = parts.databases;
  auto explorer = std::make_shared<MongoExplorer>(parts.mongo);
  const std::vector<std::string> allow_from = settings.mongo_explorer_allow_from;
  AppNetwork& network = parts.network;
  auto admits = [allow_from, &network](const std::string& peer) {
    return !allow_from.empty() && explorer_admits(allow_from, network.subnets(), peer);
  };

  std::vector<Endpoint> endpoints = {
      {"POST", "/agent/cleanup-orphaned", true, true,
       [&databases, &parts](const Call& call) -> Reply {
         auto existing = existing_app_ids(call.body);
         // Apps deployed here keep their databases whatever the list says; when Podman cannot
         // say which they are, nothing is dropped (the listing throws).
         std::set<std::string> deployed_here;
         for (const auto& s : parts.statuses.list()) deployed_here.insert(s.app_id);
         try {
           auto r = databases.cleanup_orphans(existing, deployed_here);
           return {200, {{"cleanedDatabases", r.dropped_count}, {"message", r.message}, {"dropped", r.dropped}, {"kept", r.kept}}, ""};
         } catch (const MongoError& e) {
           Poco::Logger::get("mongo").error(std::string("orphan cleanup failed: ") + e.what());
           return {200, {{"cleanedDatabases", 0}, {"message", std::string("error: ") + e.what()}}, ""};
         }
       }},
      {"GET", kExplorer + "/collections", true, false,
       [&databases, explorer](const Call& call) -> Reply {
         auto t = target_of(call, databases);
         return {200, success(with_target(t, explorer->collections(t.db))), ""};
       }},
      {"POST", kExplorer + "/find", true, true,
       [&databases, explorer](const Call& call) -> Reply {
         auto t = target_of(call, databases);
         return {200, success(with_target(t, explorer->find(t.db, find_query_from(body_object(call))))), ""};
       }},
      {"GET", kExplorer + "/doc", true, false,
       [&databases, explorer](const Call& call) -> Reply {
         auto t = target_of(call, databases);
         auto collection = call.param("collection");
         auto id = call.param("id");
         if (!collection) throw ExplorerRefusal(400, "collection", "collection is required");
         if (!id || id->empty()) throw ExplorerRefusal(400, "id", "id is required");
         return {200, success(with_target(t, explorer->document(t.db, *collection, *id))), ""};
       }},
      {"POST", kExplorer + "/insert-one", true, true,
       [&databases, explorer](const Call& call) -> Reply {
         auto t = target_of(call, databases);
         const auto& body = body_object(call);
         std::string collection = required_text(body, "collection");
         return {200, success(with_target(t, explorer->insert_one(t.db, collection, required_text(body, "doc")))), ""};
       }},
      {"POST", kExplorer + "/update-by-id", true, true,
       [&databases, explorer](const Call& call) -> Reply {
         auto t = target_of(call, databases);
         const auto& body = body_object(call);
         std::string collection = required_text(body, "collection");
         std::string id = required_text(body, "id");
         std::string update = required_text(body, "update");
         return {200, success(with_target(t, explorer->update_by_id(t.db, collection, id, update, optional_flag(body, "upsert")))), ""};
       }},
      {"POST", kExplorer + "/delete-by-id", true, true,
       [&databases, explorer](const Call& call) -> Reply {
         auto t = target_of(call, databases);
         const auto& body = body_object(call);
         std::string collection = required_text(body, "collection");
         return {200, success(with_target(t, explorer->delete_by_id(t.db, collection, required_text(body, "id")))), ""};
       }},
      {"POST", kExplorer + "/create-collection", true, true,
       [&databases, explorer](const Call& call) -> Reply {
         auto t = target_of(call, databases);
         const auto& body = body_object(call);
         std::string collection = required_text(body, "collection");
         return {200,
                 success(with_target(t, explorer->create_collection(t.db, collection, optional_flag(body, "strict"), optional_text(body, "fields")))),
                 ""};
       }},
  };
  for (auto& e : endpoints)
    if (e.path.rfind(kExplorer, 0) == 0) e.admits_without_token = admits;
  return endpoints;
}

}  // namespace agent
