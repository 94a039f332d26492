#include "http/worker_pool.h"

namespace agent {

WorkerPool::WorkerPool(int threads, int stack_bytes) {
  for (int i = 0; i < (threads < 1 ? 1 : threads); ++i) {
    auto thread = std::make_unique<Poco::Thread>("http-worker");
    thread->setStackSize(stack_bytes);
    thread->startFunc([this] { work(); });
    threads_.push_back(std::move(thread));
  }
}

WorkerPool::~WorkerPool() { join(); }

void WorkerPool::submit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    jobs_.push_back(std::move(job));
  }
  ready_.notify_one();
}

void WorkerPool::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    ready_.wait(lock, [this] { return !jobs_.empty() || stopping_; });
    if (jobs_.empty()) return;  // stopping, and nothing left
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
}

void WorkerPool::join() {
  std::vector<std::unique_ptr<Poco::Thread>> threads;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    jobs_.clear();  // not started: dropped (their clients are gone, or the agent is stopping)
    threads.swap(threads_);
  }
  ready_.notify_all();
  for (auto& t : threads) t->join();
}

}  // namespace agent
