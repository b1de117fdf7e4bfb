// SpareRecords: the records a consumer got back through Consumer::Recycle,
// for its next Poll to refill in place instead of allocating: their strings
// and header vectors keep their capacity.
//
// A refilled record must have every field assigned (it still holds its last
// message); HeaderFiller overwrites headers in place.
//
// Thread safety: the polling thread only.

#ifndef EVBUS_TRANSPORT_SPARE_RECORDS_H_
#define EVBUS_TRANSPORT_SPARE_RECORDS_H_

#include <cstddef>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "evbus/record.h"

namespace evbus::transport {

class SpareRecords {
 public:
  static constexpr size_t kMax = 1024;

  // Keeps up to kMax of `records`; clears it.
  void Add(std::vector<std::shared_ptr<Record>>& records) {
    for (auto& r : records) {
      if (spare_.size() >= kMax) break;
      spare_.push_back(std::move(r));
    }
    records.clear();
  }

  // A spare to refill, or a new record.
  std::shared_ptr<Record> Take() {
    if (spare_.empty()) return std::make_shared<Record>();
    std::shared_ptr<Record> r = std::move(spare_.back());
    spare_.pop_back();
    return r;
  }

 private:
  std::vector<std::shared_ptr<Record>> spare_;
};

// Writes a record's headers over the ones it held, reusing their strings.
class HeaderFiller {
 public:
  explicit HeaderFiller(Headers& headers) : headers_(headers) {}
  ~HeaderFiller() { headers_.resize(count_); }  // drops what was not overwritten
  HeaderFiller(const HeaderFiller&) = delete;
  HeaderFiller& operator=(const HeaderFiller&) = delete;

  void Add(std::string_view key, std::string_view value) {
    if (count_ == headers_.size()) headers_.emplace_back();
    Header& h = headers_[count_++];
    h.key.assign(key);
    h.value.assign(value);
  }

 private:
  Headers& headers_;
  size_t count_ = 0;
};

}  // namespace evbus::transport

#endif  // EVBUS_TRANSPORT_SPARE_RECORDS_H_
