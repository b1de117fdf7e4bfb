// Process-wide map of registered threads (tid -> owner), read by the census.

#ifndef EVBUS_CORE_THREAD_REGISTRY_H_
#define EVBUS_CORE_THREAD_REGISTRY_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace evbus::core {

class ThreadRegistry {
 public:
  struct Entry {
    std::string component;
    uint64_t bus_id = 0;
  };
  static ThreadRegistry& Instance();
  void Add(int tid, std::string_view component, uint64_t bus_id);
  void Remove(int tid);
  std::unordered_map<int, Entry> Snapshot() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<int, Entry> entries_;
};

}  // namespace evbus::core

#endif  // EVBUS_CORE_THREAD_REGISTRY_H_
