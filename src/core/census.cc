#include "evbus/census.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "core/thread_registry.h"

namespace evbus {
namespace {

std::vector<int> ListTasks() {
  std::vector<int> tids;
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return tids;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    tids.push_back(std::atoi(entry->d_name));
  }
  ::closedir(dir);
  std::sort(tids.begin(), tids.end());
  return tids;
}

std::string ReadComm(int tid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d/comm", tid);
  std::ifstream in(path);
  std::string name;
  std::getline(in, name);
  return name;
}

}  // namespace

size_t CountProcessThreads() { return ListTasks().size(); }

Census TakeCensus() {
  const auto registered = core::ThreadRegistry::Instance().Snapshot();
  const int pid = static_cast<int>(::getpid());
  Census census;
  for (int tid : ListTasks()) {
    ThreadInfo info;
    info.tid = tid;
    info.name = ReadComm(tid);
    if (auto it = registered.find(tid); it != registered.end()) {
      info.component = it->second.component;
      info.bus_id = it->second.bus_id;
    } else {
      info.component = tid == pid ? "main" : "unknown";
    }
    census.threads.push_back(std::move(info));
  }
  return census;
}

size_t Census::CountForBus(uint64_t bus_id) const {
  return static_cast<size_t>(std::count_if(
      threads.begin(), threads.end(), [&](const ThreadInfo& t) { return t.bus_id == bus_id; }));
}

std::map<std::string, size_t> Census::ByComponent() const {
  std::map<std::string, size_t> counts;
  for (const ThreadInfo& t : threads) ++counts[t.component];
  return counts;
}

std::string Census::ToTable() const {
  std::string out;
  char line[160];
  std::snprintf(line, sizeof(line), "%-16s %7s  %s\n", "component", "threads", "names");
  out += line;
  for (const auto& [component, count] : ByComponent()) {
    std::string names;
    for (const ThreadInfo& t : threads) {
      if (t.component != component) continue;
      if (!names.empty()) names += ' ';
      if (names.size() > 60) {
        names += "...";
        break;
      }
      names += t.name;
    }
    std::snprintf(line, sizeof(line), "%-16s %7zu  %s\n", component.c_str(), count, names.c_str());
    out += line;
  }
  std::snprintf(line, sizeof(line), "%-16s %7zu\n", "total", total());
  out += line;
  return out;
}

}  // namespace evbus
