#include "mongo/explorer.h"

#include <mongoc/mongoc.h>

#include <algorithm>
#include <memory>
#include <regex>
#include <vector>

namespace agent {
namespace {

struct BsonDeleter {
  void operator()(bson_t* b) const { bson_destroy(b); }
};
using Bson = std::unique_ptr<bson_t, BsonDeleter>;

struct CollectionDeleter {
  void operator()(mongoc_collection_t* c) const { mongoc_collection_destroy(c); }
};
using Collection = std::unique_ptr<mongoc_collection_t, CollectionDeleter>;

struct DatabaseDeleter {
  void operator()(mongoc_database_t* d) const { mongoc_database_destroy(d); }
};
using Database = std::unique_ptr<mongoc_database_t, DatabaseDeleter>;

constexpr int32_t kMaxTimeMs = 3000;  // server-side limit of every read, as the earlier agent set it
// What one find answers at most (relaxed JSON): an app can store documents of 16 MiB each, and
// 200 of them must not take the agent's memory (the waker lives in the same process).
constexpr size_t kMaxFindBytes = 8 * 1024 * 1024;

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

// A JSON object given as a string (Extended JSON accepted); nullptr when blank.
Bson parse_document(const std::string& field, const std::string& text) {
  if (blank(text)) return nullptr;
  auto probe = nlohmann::json::parse(text, nullptr, false);
  if (probe.is_discarded()) throw ExplorerRefusal(400, field, "Invalid JSON in " + field + ": not valid JSON");
  if (!probe.is_object()) throw ExplorerRefusal(400, field, "Invalid JSON in " + field + ": a JSON object is expected");
  bson_error_t error;
  bson_t* doc = bson_new_from_json(reinterpret_cast<const uint8_t*>(text.data()), static_cast<ssize_t>(text.size()), &error);
  if (!doc) throw ExplorerRefusal(400, field, "Invalid JSON in " + field + ": " + error.message);
  return Bson(doc);
}

nlohmann::json to_json(const bson_t* doc) {
  size_t length = 0;
  char* text = bson_as_relaxed_extended_json(doc, &length);
  if (!text) return nullptr;
  auto j = nlohmann::json::parse(text, text + length, nullptr, false);
  bson_free(text);
  return j.is_discarded() ? nlohmann::json(nullptr) : j;
}

// An id as the earlier agent used it: an ObjectId when it reads as one, else the string.
void append_id(bson_t* doc, const char* key, const std::string& id) {
  if (id.size() == 24 && bson_oid_is_valid(id.c_str(), id.size())) {
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, id.c_str());
    BSON_APPEND_OID(doc, key, &oid);
  } else {
    BSON_APPEND_UTF8(doc, key, id.c_str());
  }
}

Bson id_selector(const std::string& id) {
  Bson selector(bson_new());
  append_id(selector.get(), "_id", id);
  return selector;
}

// str() of an _id as Python gives it for the usual types: the hex of an ObjectId, the string,
// the number; other types as their relaxed Extended JSON.
std::string id_text(const bson_value_t* value) {
  switch (value->value_type) {
    case BSON_TYPE_OID: {
      char hex[25];
      bson_oid_to_string(&value->value.v_oid, hex);
      return hex;
    }
    case BSON_TYPE_UTF8: return std::string(value->value.v_utf8.str, value->value.v_utf8.len);
    case BSON_TYPE_INT32: return std::to_string(value->value.v_int32);
    case BSON_TYPE_INT64: return std::to_string(value->value.v_int64);
    default: {
      Bson wrapper(bson_new());
      bson_append_value(wrapper.get(), "v", 1, value);
      auto j = to_json(wrapper.get());
      return j.is_object() && j.contains("v") ? j["v"].dump() : "";
    }
  }
}

Collection collection_of(mongoc_client_t* client, const std::string& db, const std::string& name) {
  return Collection(mongoc_client_get_collection(client, db.c_str(), name.c_str()));
}

int64_t reply_count(const bson_t* reply, const char* key) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, reply, key) && BSON_ITER_HOLDS_NUMBER(&it)) return bson_iter_as_int64(&it);
  return 0;
}

int int_field(const nlohmann::json& body, const char* field, int fallback, int lo, int hi) {
  if (!body.contains(field) || body[field].is_null()) return fallback;
  const auto& v = body[field];
  if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi)
    throw ExplorerRefusal(400, field, std::string(field) + " must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  return v.get<int>();
}

std::optional<std::string> string_field(const nlohmann::json& body, const char* field) {
  if (!body.contains(field) || body[field].is_null()) return std::nullopt;
  if (!body[field].is_string()) throw ExplorerRefusal(400, field, std::string(field) + " must be a string (JSON text)");
  return body[field].get<std::string>();
}

}  // namespace

void check_collection_name(const std::string& name) {
  static const std::regex safe("^[A-Za-z0-9][A-Za-z0-9_.-]{0,119}$");
  if (blank(name)) throw ExplorerRefusal(400, "collection", "collection name cannot be empty");
  if (!std::regex_match(name, safe))
    throw ExplorerRefusal(400, "collection", "Invalid collection name (only alphanumeric, _, -, . allowed, max 120 chars)");
  if (name.rfind("system.", 0) == 0) throw ExplorerRefusal(403, "collection", "Access to system.* collections is forbidden");
}

FindQuery find_query_from(const nlohmann::json& body) {
  if (!body.is_object()) throw ExplorerRefusal(400, "body", "a JSON object is expected");
  FindQuery q;
  auto collection = string_field(body, "collection");
  if (!collection) throw ExplorerRefusal(400, "collection", "collection is required");
  q.collection = *collection;
  q.filter = string_field(body, "filter").value_or("{}");
  q.projection = string_field(body, "projection");
  q.sort = string_field(body, "sort");
  q.limit = int_field(body, "limit", 50, 1, 200);
  q.skip = int_field(body, "skip", 0, 0, 10000);
  return q;
}

nlohmann::json MongoExplorer::collections(const std::string& db) {
  auto client = server_.client();
  Database database(mongoc_client_get_database(client.get(), db.c_str()));
  bson_error_t error;
  char** names = mongoc_database_get_collection_names_with_opts(database.get(), nullptr, &error);
  if (!names) throw MongoError(mongo_error_text("List collections", &error));
  std::vector<std::string> list;
  for (char** n = names; *n; ++n) list.emplace_back(*n);
  bson_strfreev(names);
  std::sort(list.begin(), list.end());
  return {{"collections", list}};
}

nlohmann::json MongoExplorer::find(const std::string& db, const FindQuery& query) {
  check_collection_name(query.collection);
  Bson filter = parse_document("filter", query.filter);
  Bson projection = query.projection ? parse_document("projection", *query.projection) : nullptr;
  Bson sort = query.sort ? parse_document("sort", *query.sort) : nullptr;
  if (sort) {
    bson_iter_t it;
    bson_iter_init(&it, sort.get());
    while (bson_iter_next(&it)) {
      bool direction = BSON_ITER_HOLDS_NUMBER(&it) && (bson_iter_as_int64(&it) == 1 || bson_iter_as_int64(&it) == -1);
      if (!direction && !BSON_ITER_HOLDS_DOCUMENT(&it))
        throw ExplorerRefusal(400, "sort", std::string("sort: the direction of '") + bson_iter_key(&it) + "' must be 1 or -1");
    }
  }
  Bson opts(bson_new());
  if (projection) BSON_APPEND_DOCUMENT(opts.get(), "projection", projection.get());
  if (sort) BSON_APPEND_DOCUMENT(opts.get(), "sort", sort.get());
  BSON_APPEND_INT64(opts.get(), "skip", query.skip);
  BSON_APPEND_INT64(opts.get(), "limit", query.limit);
  BSON_APPEND_INT32(opts.get(), "maxTimeMS", kMaxTimeMs);

  auto client = server_.client();
  auto collection = collection_of(client.get(), db, query.collection);
  Bson empty(bson_new());
  mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(collection.get(), filter ? filter.get() : empty.get(), opts.get(), nullptr);
  nlohmann::json items = nlohmann::json::array();
  const bson_t* doc;
  size_t bytes = 0;
  bool truncated = false;
  while (mongoc_cursor_next(cursor, &doc)) {
    bytes += doc->len;  // about its JSON size; binary data grows by a third in base64
    if (bytes + bytes / 3 > kMaxFindBytes && !items.empty()) {
      truncated = true;
      break;
    }
    items.push_back(to_json(doc));
  }
  bson_error_t error;
  bool failed = !truncated && mongoc_cursor_error(cursor, &error);
  mongoc_cursor_destroy(cursor);
  if (failed) throw MongoError(mongo_error_text("Find", &error));
  nlohmann::json data = {{"collection", query.collection}, {"limit", query.limit}, {"skip", query.skip}, {"returned", items.size()}, {"items", items}};
  if (truncated) data["truncated"] = true;  // fewer than limit: the rest would pass 8 MiB
  return data;
}

nlohmann::json MongoExplorer::document(const std::string& db, const std::string& collection_name, const std::string& id) {
  check_collection_name(collection_name);
  auto client = server_.client();
  auto collection = collection_of(client.get(), db, collection_name);
  Bson opts(BCON_NEW("limit", BCON_INT64(1), "maxTimeMS", BCON_INT32(kMaxTimeMs)));
  mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(collection.get(), id_selector(id).get(), opts.get(), nullptr);
  nlohmann::json found = nullptr;
  const bson_t* doc;
  if (mongoc_cursor_next(cursor, &doc)) found = to_json(doc);
  bson_error_t error;
  bool failed = mongoc_cursor_error(cursor, &error);
  mongoc_cursor_destroy(cursor);
  if (failed) throw MongoError(mongo_error_text("Find one", &error));
  return {{"collection", collection_name}, {"id", id}, {"doc", found}};
}

nlohmann::json MongoExplorer::insert_one(const std::string& db, const std::string& collection_name, const std::string& text) {
  check_collection_name(collection_name);
  Bson given = parse_document("doc", text);
  if (!given || bson_count_keys(given.get()) == 0) throw ExplorerRefusal(400, "doc", "Document cannot be empty");
  // The _id is made here when the document has none, so the answer can name it.
  Bson doc(bson_new());
  bson_iter_t it;
  if (!bson_iter_init_find(&it, given.get(), "_id")) {
    bson_oid_t oid;
    bson_oid_init(&oid, nullptr);
    BSON_APPEND_OID(doc.get(), "_id", &oid);
  }
  bson_concat(doc.get(), given.get());
  bson_iter_init_find(&it, doc.get(), "_id");
  std::string inserted_id = id_text(bson_iter_value(&it));

  auto client = server_.client();
  auto collection = collection_of(client.get(), db, collection_name);
  bson_error_t error;
  if (!mongoc_collection_insert_one(collection.get(), doc.get(), nullptr, nullptr, &error))
    throw MongoError(mongo_error_text("Insert", &error));
  return {{"collection", collection_name}, {"insertedId", inserted_id}};
}

nlohmann::json MongoExplorer::update_by_id(const std::string& db, const std::string& collection_name, const std::string& id,
                                           const std::string& text, bool upsert) {
  check_collection_name(collection_name);
  Bson update = parse_document("update", text);
  if (!update || bson_count_keys(update.get()) == 0) throw ExplorerRefusal(400, "update", "Update document cannot be empty");
  bson_iter_t it;
  bson_iter_init(&it, update.get());
  while (bson_iter_next(&it))
    if (bson_iter_key(&it)[0] != '$')
      throw ExplorerRefusal(400, "update", std::string("update: '") + bson_iter_key(&it) + "' is not an update operator (use $set, $unset, $inc, ...)");

  auto client = server_.client();
  auto collection = collection_of(client.get(), db, collection_name);
  Bson opts(BCON_NEW("upsert", BCON_BOOL(upsert)));
  bson_t reply;
  bson_error_t error;
  bool ok = mongoc_collection_update_one(collection.get(), id_selector(id).get(), update.get(), opts.get(), &reply, &error);
  if (!ok) {
    bson_destroy(&reply);
    throw MongoError(mongo_error_text("Update", &error));
  }
  nlohmann::json upserted = nullptr;
  if (bson_iter_init_find(&it, &reply, "upsertedId")) upserted = id_text(bson_iter_value(&it));
  nlohmann::json data = {{"collection", collection_name},
                         {"matchedCount", reply_count(&reply, "matchedCount")},
                         {"modifiedCount", reply_count(&reply, "modifiedCount")},
                         {"upsertedId", upserted}};
  bson_destroy(&reply);
  return data;
}

nlohmann::json MongoExplorer::delete_by_id(const std::string& db, const std::string& collection_name, const std::string& id) {
  check_collection_name(collection_name);
  auto client = server_.client();
  auto collection = collection_of(client.get(), db, collection_name);
  bson_t reply;
  bson_error_t error;
  bool ok = mongoc_collection_delete_one(collection.get(), id_selector(id).get(), nullptr, &reply, &error);
  int64_t deleted = ok ? reply_count(&reply, "deletedCount") : 0;
  bson_destroy(&reply);
  if (!ok) throw MongoError(mongo_error_text("Delete", &error));
  return {{"collection", collection_name}, {"deletedCount", deleted}};
}

nlohmann::json MongoExplorer::create_collection(const std::string& db, const std::string& collection_name, bool strict,
                                                const std::optional<std::string>& fields) {
  check_collection_name(collection_name);
  Bson schema = fields ? parse_document("fields", *fields) : nullptr;  // checked even when not used
  if (!strict) schema.reset();
  auto existing = collections(db)["collections"];
  if (std::find(existing.begin(), existing.end(), collection_name) != existing.end())
    throw ExplorerRefusal(400, "collection", "Collection '" + collection_name + "' already exists");
  Bson opts(bson_new());
  if (schema && bson_count_keys(schema.get()) > 0) {
    bson_t validator;
    BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "validator", &validator);
    BSON_APPEND_DOCUMENT(&validator, "$jsonSchema", schema.get());
    bson_append_document_end(opts.get(), &validator);
    BSON_APPEND_UTF8(opts.get(), "validationLevel", "strict");
  }
  auto client = server_.client();
  Database database(mongoc_client_get_database(client.get(), db.c_str()));
  bson_error_t error;
  mongoc_collection_t* created = mongoc_database_create_collection(database.get(), collection_name.c_str(), opts.get(), &error);
  if (!created) throw MongoError(mongo_error_text("Create collection", &error));
  mongoc_collection_destroy(created);
  return {{"collection", collection_name}, {"created", true}};
}

}  // namespace agent
