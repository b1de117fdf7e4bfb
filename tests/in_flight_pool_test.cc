// The engine's message pool: what it reuses, and what it must not.

#include "core/in_flight_pool.h"

#include <gtest/gtest.h>

namespace evbus::test {
namespace {

using core::InFlight;
using core::InFlightPool;

TEST(InFlightPool, EndedMessagesComeBackClearedAndTheirRecordsAsSpares) {
  InFlightPool pool;
  InFlight* m = pool.New();
  auto record = std::make_shared<Record>();
  record->payload = "payload";
  m->record = std::move(record);
  m->attempts = 3;
  m->last_error = "boom";
  std::vector<InFlight*> done{m};
  pool.Recycle(done);
  EXPECT_TRUE(done.empty());
  InFlight* again = pool.New();
  EXPECT_EQ(again, m) << "the same object, reused";
  EXPECT_EQ(again->record, nullptr);
  EXPECT_EQ(again->attempts, 0);
  EXPECT_TRUE(again->last_error.empty());
  std::vector<std::shared_ptr<Record>> spares;
  pool.TakeSpareRecords(spares);
  ASSERT_EQ(spares.size(), 1u);
  EXPECT_EQ(spares[0]->payload, "payload");
  done = {again};
  pool.Recycle(done);
}

// A record someone else still holds (the memory broker's log, say) is never
// handed out for rewriting.
TEST(InFlightPool, ARecordHeldElsewhereIsNotRecycled) {
  InFlightPool pool;
  auto shared = std::make_shared<const Record>();
  InFlight* m = pool.New();
  m->record = shared;
  std::vector<InFlight*> done{m};
  pool.Recycle(done);
  std::vector<std::shared_ptr<Record>> spares;
  pool.TakeSpareRecords(spares);
  EXPECT_TRUE(spares.empty());
  EXPECT_EQ(shared.use_count(), 1) << "the message let go of it";
}

TEST(InFlightPool, KeepsBoundedNumbersAndNoLargeRecords) {
  InFlightPool pool;
  std::vector<InFlight*> done;
  for (size_t i = 0; i < InFlightPool::kMaxKept + 10; ++i) {
    InFlight* m = new InFlight();
    auto r = std::make_shared<Record>();
    if (i == 0) r->payload.assign(InFlightPool::kMaxRecordBytes + 1, 'x');  // too big to keep
    m->record = std::move(r);
    done.push_back(m);
  }
  pool.Recycle(done);
  std::vector<std::shared_ptr<Record>> spares;
  pool.TakeSpareRecords(spares);
  EXPECT_EQ(spares.size(), InFlightPool::kMaxSpareRecords);
  for (const auto& r : spares) EXPECT_LE(r->payload.size(), InFlightPool::kMaxRecordBytes);
  // What the pool keeps it frees with itself; the surplus it freed at once
  // (ASan reports a leak otherwise).
}

}  // namespace
}  // namespace evbus::test
