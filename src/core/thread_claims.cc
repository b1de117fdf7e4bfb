#include "core/thread_claims.h"

#include <dirent.h>

#include <cstdio>
#include <cstdlib>

#include "core/thread.h"
#include "core/thread_registry.h"

namespace evbus::core {
namespace {

void Rename(int tid, const std::string& name) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d/comm", tid);
  if (FILE* f = std::fopen(path, "w")) {
    std::fputs(name.c_str(), f);
    std::fclose(f);
  }
}

std::string TaskName(int tid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d/comm", tid);
  char name[32] = {0};
  if (FILE* f = std::fopen(path, "r")) {
    if (std::fgets(name, sizeof(name), f) == nullptr) name[0] = '\0';
    std::fclose(f);
  }
  std::string s(name);
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

}  // namespace

std::set<int> ListTasks() {
  std::set<int> tids;
  if (DIR* dir = ::opendir("/proc/self/task")) {
    while (dirent* e = ::readdir(dir)) {
      if (e->d_name[0] != '.') tids.insert(std::atoi(e->d_name));
    }
    ::closedir(dir);
  }
  return tids;
}

std::mutex& ClaimWindowMutex() {
  static std::mutex* mu = new std::mutex();  // never destroyed: used at exit
  return *mu;
}

void ThreadClaims::ClaimNew(const std::set<int>& before, uint64_t bus_id) {
  const auto registered = ThreadRegistry::Instance().Snapshot();
  std::lock_guard<std::mutex> lock(mu_);
  for (int tid : ListTasks()) {
    if (before.count(tid) != 0 || registered.count(tid) != 0) continue;
    RegisterThread(tid, component_, bus_id);
    if (!rename_.empty()) Rename(tid, rename_);
    tids_.push_back(tid);
  }
}

void ThreadClaims::ClaimRenamed(uint64_t bus_id) {
  const auto registered = ThreadRegistry::Instance().Snapshot();
  const std::set<int> alive = ListTasks();
  std::lock_guard<std::mutex> lock(mu_);
  // Forget the dead before their tids can be reused.
  for (auto it = tids_.begin(); it != tids_.end();) {
    if (alive.count(*it) != 0) {
      ++it;
      continue;
    }
    UnregisterThread(*it);
    it = tids_.erase(it);
  }
  for (int tid : alive) {
    if (registered.count(tid) != 0 || TaskName(tid) != rename_) continue;
    RegisterThread(tid, component_, bus_id);
    tids_.push_back(tid);
  }
}

void ThreadClaims::ReleaseAll() {
  std::vector<int> tids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    tids.swap(tids_);
  }
  for (int tid : tids) {
    WaitForTaskGone(tid);
    UnregisterThread(tid);
  }
}

size_t ThreadClaims::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tids_.size();
}

}  // namespace evbus::core
