#include "core/thread.h"

#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <unordered_map>

#include "core/thread_registry.h"

namespace evbus::core {

ThreadRegistry& ThreadRegistry::Instance() {
  // Never destroyed: threads may unregister during static destruction.
  static ThreadRegistry* registry = new ThreadRegistry();
  return *registry;
}

void ThreadRegistry::Add(int tid, std::string_view component, uint64_t bus_id) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_[tid] = Entry{std::string(component), bus_id};
}

void ThreadRegistry::Remove(int tid) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(tid);
}

std::unordered_map<int, ThreadRegistry::Entry> ThreadRegistry::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_;
}

void RegisterThread(int tid, std::string_view component, uint64_t bus_id) {
  ThreadRegistry::Instance().Add(tid, component, bus_id);
}

void UnregisterThread(int tid) { ThreadRegistry::Instance().Remove(tid); }

int CurrentTid() { return static_cast<int>(::syscall(SYS_gettid)); }

uint64_t NextBusId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

void WaitForTaskGone(int tid) {
  if (tid <= 0) return;
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d", tid);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  struct stat st;
  while (::stat(path, &st) == 0 && std::chrono::steady_clock::now() < deadline) {
    sched_yield();  // the exiting task is microseconds from being reaped
  }
}

Thread Thread::Start(std::string name, std::string component, uint64_t bus_id,
                     std::function<void()> body) {
  Thread t;
  t.tid_ = std::make_shared<std::atomic<int>>(0);
  if (name.size() > 15) name.resize(15);
  // Start returns once the thread is named and registered, so a census taken
  // right after sees it (and its owner) exactly.
  struct Started {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
  };
  auto started = std::make_shared<Started>();
  t.thread_ = std::thread([tid = t.tid_, name = std::move(name), component = std::move(component),
                           bus_id, body = std::move(body), started] {
    const int self = CurrentTid();
    tid->store(self, std::memory_order_release);
    pthread_setname_np(pthread_self(), name.c_str());
    RegisterThread(self, component, bus_id);
    {
      std::lock_guard<std::mutex> lock(started->mu);
      started->done = true;
    }
    started->cv.notify_all();
    try {
      body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "evbus: thread %s (%s) ended by exception: %s\n", name.c_str(),
                   component.c_str(), e.what());
    } catch (...) {
      std::fprintf(stderr, "evbus: thread %s (%s) ended by an unknown exception\n", name.c_str(),
                   component.c_str());
    }
    UnregisterThread(self);
  });
  std::unique_lock<std::mutex> lock(started->mu);
  started->cv.wait(lock, [&] { return started->done; });
  return t;
}

Thread& Thread::operator=(Thread&& other) noexcept {
  if (this != &other) {
    Join();
    thread_ = std::move(other.thread_);
    tid_ = std::move(other.tid_);
  }
  return *this;
}

void Thread::Join() {
  if (!thread_.joinable()) return;
  thread_.join();
  WaitForTaskGone(tid_ ? tid_->load(std::memory_order_acquire) : 0);
}

}  // namespace evbus::core
