#include "worker_pool.h"

namespace agent {

WorkerPool::WorkerPool(int max_threads, int stack_bytes) : max_threads_(max_threads < 1 ? 1 : max_threads), stack_bytes_(stack_bytes) {}

WorkerPool::~WorkerPool() { join(); }

void WorkerPool::submit(std::function<void()> job) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (stopping_) return;
  jobs_.push_back(std::move(job));
  if (idle_ == 0 && static_cast<int>(threads_.size()) < max_threads_) {
    auto thread = std::make_unique<Poco::Thread>("http-worker");
    thread->setStackSize(stack_bytes_);
    thread->startFunc([this] { work(); });
    threads_.push_back(std::move(thread));
    return;
  }
  lock.unlock();
  ready_.notify_one();
}

void WorkerPool::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    while (jobs_.empty() && !stopping_) {
      ++idle_;
      ready_.wait(lock);
      --idle_;
    }
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
    threads.swap(threads_);
  }
  ready_.notify_all();
  for (auto& t : threads) t->join();
}

int WorkerPool::threads() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(threads_.size());
}

}  // namespace agent
