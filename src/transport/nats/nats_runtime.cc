#include "transport/nats/nats_runtime.h"

#include <dirent.h>
#include <nats/nats.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/thread.h"
#include "core/thread_registry.h"
#include "transport/nats/nats_common.h"

namespace evbus::transport::nats {
namespace {

constexpr int64_t kCloseWaitMs = 10'000;

constexpr char kCnatsName[] = "evb-cnats";

void Rename(int tid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d/comm", tid);
  if (FILE* f = std::fopen(path, "w")) {
    std::fputs(kCnatsName, f);
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

struct RuntimeState {
  std::mutex mu;  // held across nats_Open / nats_CloseAndWait: they must not overlap
  int refs = 0;
  ThreadClaims threads;  // the library's own threads, owned by no bus
};

RuntimeState& State() {
  static RuntimeState* state = new RuntimeState();  // never destroyed: used at exit
  return *state;
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

void ThreadClaims::ClaimNew(const std::set<int>& before, uint64_t bus_id) {
  const auto registered = core::ThreadRegistry::Instance().Snapshot();
  std::lock_guard<std::mutex> lock(mu_);
  for (int tid : ListTasks()) {
    if (before.count(tid) != 0 || registered.count(tid) != 0) continue;
    core::RegisterThread(tid, "cnats", bus_id);
    Rename(tid);
    tids_.push_back(tid);
  }
}

void ThreadClaims::ClaimRenamed(uint64_t bus_id) {
  const auto registered = core::ThreadRegistry::Instance().Snapshot();
  const std::set<int> alive = ListTasks();
  std::lock_guard<std::mutex> lock(mu_);
  // Threads a reconnect replaced are gone: forget them before their tids
  // can be reused.
  for (auto it = tids_.begin(); it != tids_.end();) {
    if (alive.count(*it) != 0) {
      ++it;
      continue;
    }
    core::UnregisterThread(*it);
    it = tids_.erase(it);
  }
  for (int tid : alive) {
    if (registered.count(tid) != 0 || TaskName(tid) != kCnatsName) continue;
    core::RegisterThread(tid, "cnats", bus_id);
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
    core::WaitForTaskGone(tid);
    core::UnregisterThread(tid);
  }
}

size_t ThreadClaims::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tids_.size();
}

std::mutex& AttributionMutex() {
  static std::mutex* mu = new std::mutex();
  return *mu;
}

Status NatsRuntime::Acquire() {
  RuntimeState& st = State();
  std::lock_guard<std::mutex> attribution(AttributionMutex());
  std::lock_guard<std::mutex> lock(st.mu);
  if (st.refs == 0) {
    const std::set<int> before = ListTasks();
    if (natsStatus s = nats_Open(-1); s != NATS_OK) return NatsError("nats_Open", s);
    st.threads.ClaimNew(before, 0);
  }
  ++st.refs;
  return Status();
}

void NatsRuntime::Release() {
  RuntimeState& st = State();
  std::lock_guard<std::mutex> lock(st.mu);
  if (--st.refs > 0) return;
  natsStatus s = nats_CloseAndWait(kCloseWaitMs);
  if (s != NATS_OK) {
    std::fprintf(stderr, "evbus: nats_CloseAndWait: %s; cnats threads may remain\n",
                 natsStatus_GetText(s));
  }
  st.threads.ReleaseAll();
}

}  // namespace evbus::transport::nats
