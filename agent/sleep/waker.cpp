#include "sleep/waker.h"

#include <Poco/Logger.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/constant_time.h"
#include "base/metrics.h"
#include "config/validation.h"
#include "http/event_loop.h"
#include "http/listener.h"
#include "sleep/wake_http.h"
#include "traefik/route.h"

namespace agent {

using wake_http::answer;

namespace {
using Clock = std::chrono::steady_clock;
Poco::Logger& log() { return Poco::Logger::get("waker"); }
constexpr int kUnnamedPerPeer = 256;

// One thread per wake in progress: a wake that waits on its app's claim or readiness holds up
// nobody else's. Finished threads are joined as new ones start and at the end.
class WakeThreads {
 public:
  void run(std::function<void()> work) {
    std::lock_guard<std::mutex> lock(mutex_);
    reap();
    auto& slot = threads_.emplace_back();
    auto* done = &slot.done;
    slot.thread = std::thread([work = std::move(work), done] {
      work();
      done->store(true);
    });
  }
  void join() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& t : threads_) t.thread.join();
    threads_.clear();
  }

 private:
  struct Slot {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  void reap() {
    for (auto it = threads_.begin(); it != threads_.end();) {
      if (it->done.load()) {
        it->thread.join();
        it = threads_.erase(it);
      } else {
        ++it;
      }
    }
  }
  std::mutex mutex_;
  std::list<Slot> threads_;
};
}  // namespace

class Waker::Impl {
 public:
  Impl(const Options& options, Wake wake)
      // freebind: the apps' bridge, which holds the gateway address, exists only while a container
      // is attached to it; the listener waits for the address to come back.
      : options_(options), wake_(std::move(wake)), listener_({options.host, options.port, true}),
        loop_([this] { tick(); }, std::chrono::milliseconds(250)) {}

  void start() {
    loop_.start();
    loop_.post([this] {
      listener_.start(
          loop_, [this] { return static_cast<int>(relays_.size()) < options_.max_connections; },
          [this](int fd, const Listener::Peer& peer) { accepted(fd, peer); });
    });
  }

  void stop() {
    if (stopped_) return;
    stopped_ = true;
    loop_.stop();
    wakes_.join();
    relays_.clear();   // the loop has ended: each relay closes its sockets
    listener_.stop();  // nothing else touches its registration now
    metrics().waker_relays(0);
  }

  int port() const { return listener_.port(); }
  std::string url() const {
    bool v6 = options_.host.find(':') != std::string::npos;
    return "http://" + (v6 ? "[" + options_.host + "]" : options_.host) + ":" + std::to_string(listener_.port());
  }

 private:
  struct Entry {
    std::unique_ptr<Relay> relay;
    std::string peer;      // the client's address
    bool unnamed = true;   // counted in unnamed_[peer]: its head has not named an app yet
    std::string app;       // once the head named one that may wake
    bool relayed = false;  // counted in relaying_[app]
  };

  static std::string address_of(const Listener::Peer& peer) {
    char text[INET6_ADDRSTRLEN] = "";
    if (peer.address.ss_family == AF_INET)
      ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&peer.address)->sin_addr, text, sizeof text);
    else if (peer.address.ss_family == AF_INET6)
      ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&peer.address)->sin6_addr, text, sizeof text);
    return text;
  }

  void accepted(int fd, const Listener::Peer& from) {
    // Any container on the apps' network can connect: one address holds at most kUnnamedPerPeer
    // connections that have not yet named an app (Traefik's send their head at once), so no app
    // can take every slot of the waker with idle connections.
    std::string peer = address_of(from);
    if (unnamed_[peer] >= kUnnamedPerPeer) {
      if (unnamed_[peer] == 0) unnamed_.erase(peer);
      metrics().waker_refused("peer_full");
      ::close(fd);
      return;
    }
    uint64_t id = ++next_id_;
    try {
      loop_.add(fd, EPOLLIN | EPOLLRDHUP, [this, id](uint32_t events) { on_client(id, events); });
    } catch (const std::exception& e) {
      log().warning(std::string("connection not taken: ") + e.what());
      ::close(fd);
      return;
    }
    ++unnamed_[peer];
    relays_.emplace(id, Entry{std::make_unique<Relay>(id, fd, loop_, options_.limits), peer, true, {}, false});
  }

  void named(Entry& e) {
    if (!e.unnamed) return;
    e.unnamed = false;
    if (--unnamed_[e.peer] <= 0) unnamed_.erase(e.peer);
  }

  Entry* find(uint64_t id) {
    auto it = relays_.find(id);
    return it == relays_.end() ? nullptr : &it->second;
  }

  void drop(uint64_t id) {
    auto it = relays_.find(id);
    if (it == relays_.end()) return;
    Entry& e = it->second;
    named(e);
    if (!e.app.empty() && !e.relayed) leave_queue(e.app, id);
    if (e.relayed && --relaying_[e.app] <= 0) relaying_.erase(e.app);
    relays_.erase(it);
    metrics().waker_relays(relayed_count());
  }

  int relayed_count() const {
    int n = 0;
    for (const auto& [app, count] : relaying_) n += count;
    return n;
  }

  void act(uint64_t id, Relay::Next next) {
    if (next == Relay::Next::drop) drop(id);
    else if (next == Relay::Next::head_ready) admit(id);
  }

  void on_client(uint64_t id, uint32_t events) {
    if (Entry* e = find(id)) act(id, e->relay->on_client(events));
  }

  // A complete request head: who may wake what, and the app's queue.
  void admit(uint64_t id) {
    Entry& e = *find(id);
    named(e);
    Relay& r = *e.relay;
    const MessageHead& head = r.request_head();
    const std::string* secret = head.find(traefik::kWakeSecretHeader);
    if (!secret || !token_matches(*secret, options_.secret)) return act(id, r.answer(answer(403, "Forbidden", "forbidden\n", false)));
    const std::string* app = head.find(traefik::kWakeAppHeader);
    if (!app || !is_valid_id(*app)) return act(id, r.answer(answer(404, "Not Found", "no such app on this node\n", false)));
    auto& queue = waiting_[*app];
    if (static_cast<int>(queue.size()) >= options_.queue_per_app) {
      metrics().waker_refused("queue_full");
      return act(id, r.answer(answer(503, "Service Unavailable", "too many requests wait for this app; try again in a moment\n", true)));
    }
    if (relaying_.count(*app) && relaying_[*app] >= options_.relays_per_app) {
      metrics().waker_refused("relays_full");
      return act(id, r.answer(answer(503, "Service Unavailable", "too many connections to this app; try again in a moment\n", true)));
    }
    e.app = *app;
    r.wait();
    queue.push_back(id);
    if (waking_.insert(e.app).second) start_wake(e.app, Clock::now() + options_.limits.answer);
  }

  void start_wake(const std::string& app, Clock::time_point give_up_by) {
    wakes_.run([this, app, give_up_by] {
      Outcome outcome;
      try {
        outcome = wake_(app, give_up_by);
      } catch (const std::exception& e) {
        outcome.kind = Outcome::Kind::failed;
        outcome.detail = e.what();
      }
      loop_.post([this, app, outcome] { woken(app, outcome); });
    });
  }

  void woken(const std::string& app, const Outcome& outcome) {
    waking_.erase(app);
    std::vector<uint64_t> ids;
    ids.swap(waiting_[app]);
    waiting_.erase(app);
    if (outcome.kind == Outcome::Kind::failed)
      log().warning("app " + app + " did not wake: " + outcome.detail + " (" + std::to_string(ids.size()) +
                    " request(s) answered 503)");
    for (auto id : ids) {
      Entry* e = find(id);
      if (!e) continue;
      Relay& r = *e->relay;
      switch (outcome.kind) {
        case Outcome::Kind::relay: {
          if (relaying_.count(app) && relaying_[app] >= options_.relays_per_app) {
            metrics().waker_refused("relays_full");
            act(id, r.answer(answer(503, "Service Unavailable", "too many connections to this app; try again in a moment\n", true)));
            break;
          }
          e->relayed = true;
          ++relaying_[app];
          act(id, r.relay_to(outcome.host, outcome.port, [this, id](uint32_t events) {
            if (Entry* w = find(id)) act(id, w->relay->on_upstream(events));
          }));
          break;
        }
        case Outcome::Kind::not_here:
          act(id, r.answer(answer(404, "Not Found", "no such app on this node\n", false)));
          break;
        case Outcome::Kind::failed:
          act(id, r.answer(answer(503, "Service Unavailable", "the app could not be started; try again in a moment\n", true)));
          break;
      }
    }
    metrics().waker_relays(relayed_count());
  }

  void tick() {
    auto now = Clock::now();
    listener_.tick(now);
    std::vector<std::pair<uint64_t, Relay::Next>> ended;
    for (auto& [id, e] : relays_) {
      std::string expired;
      auto next = e.relay->expire(now, expired);
      if (!expired.empty()) {
        metrics().waker_expired(expired);
        if (expired == "wake") leave_queue(e.app, id);
      }
      if (next != Relay::Next::keep) ended.emplace_back(id, next);
    }
    for (auto& [id, next] : ended) act(id, next);
  }

  void leave_queue(const std::string& app, uint64_t id) {
    auto it = waiting_.find(app);
    if (it == waiting_.end()) return;
    auto& ids = it->second;
    ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
  }

  Options options_;
  Wake wake_;
  Listener listener_;
  EventLoop loop_;
  WakeThreads wakes_;
  // Loop thread only:
  std::unordered_map<uint64_t, Entry> relays_;
  std::map<std::string, std::vector<uint64_t>> waiting_;  // app -> its requests waiting for the wake
  std::set<std::string> waking_;                          // apps with a wake in progress
  std::map<std::string, int> relaying_;                   // app -> its connections relayed now
  std::map<std::string, int> unnamed_;                    // peer address -> its connections before a head
  uint64_t next_id_ = 0;
  bool stopped_ = false;
};

Waker::Waker(const Options& options, Wake wake) : impl_(std::make_unique<Impl>(options, std::move(wake))) {}
Waker::~Waker() { stop(); }
void Waker::start() { impl_->start(); }
void Waker::stop() { impl_->stop(); }
int Waker::port() const { return impl_->port(); }
std::string Waker::url() const { return impl_->url(); }

}  // namespace agent
