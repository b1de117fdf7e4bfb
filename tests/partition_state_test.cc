// PartitionState: the no-holes commit frontier. Records are tracked in offset
// order and settled in any order; the committable offset only moves over the
// contiguous settled prefix, and an abandoned record holds it back for good.
// The last tests show, through a bus, that dead-lettered and poison records
// count as settled (they do not hold the partition's commit back).

#include "core/partition_state.h"

#include <vector>

#include "core/thread.h"
#include "test_support.h"
#include "transport/memory/memory_broker.h"

namespace evbus::test {
namespace {

using core::PartitionState;

// Tracks `n` records at offsets first..first+n-1; returns their slots.
std::vector<uint64_t> TrackRange(PartitionState& p, int64_t first, int n) {
  std::vector<uint64_t> seqs;
  for (int i = 0; i < n; ++i) seqs.push_back(p.Track(first + i));
  return seqs;
}

TEST(PartitionState, NothingIsCommittableBeforeTheFirstRecordSettles) {
  PartitionState p({"t", 0});
  EXPECT_EQ(p.committable(), -1);
  EXPECT_FALSE(p.TakeCommit().has_value());
  TrackRange(p, 0, 3);
  EXPECT_EQ(p.in_flight(), 3);
  EXPECT_EQ(p.committable(), -1);
  EXPECT_FALSE(p.TakeCommit().has_value());
}

TEST(PartitionState, OutOfOrderSettlesAdvanceOnlyOverTheContiguousPrefix) {
  PartitionState p({"t", 0});
  const std::vector<uint64_t> s = TrackRange(p, 100, 5);  // offsets 100..104
  // 102 and 103 finish first: 100 is still running, so nothing may be committed.
  EXPECT_EQ(p.Finish(s[2], true), 4);
  EXPECT_EQ(p.Finish(s[3], true), 3);
  EXPECT_EQ(p.committable(), -1);
  EXPECT_FALSE(p.TakeCommit().has_value());
  // 100 settles: the frontier moves to 101, not past the hole at 101.
  EXPECT_EQ(p.Finish(s[0], true), 2);
  EXPECT_EQ(p.committable(), 101);
  EXPECT_EQ(p.TakeCommit(), std::optional<int64_t>(101));
  EXPECT_FALSE(p.TakeCommit().has_value()) << "an unchanged frontier is not committed twice";
  // 101 fills the hole: the frontier jumps over the already settled 102, 103.
  EXPECT_EQ(p.Finish(s[1], true), 1);
  EXPECT_EQ(p.committable(), 104);
  EXPECT_EQ(p.TakeCommit(), std::optional<int64_t>(104));
  EXPECT_EQ(p.Finish(s[4], true), 0);
  EXPECT_EQ(p.TakeCommit(), std::optional<int64_t>(105));
}

TEST(PartitionState, SettleManyKeepsTheNoHolesRule) {
  PartitionState p({"t", 3});
  const std::vector<uint64_t> s = TrackRange(p, 0, 6);
  const uint64_t later[] = {s[5], s[1], s[2]};  // 0 is still running
  EXPECT_EQ(p.SettleMany(later, 3), 3);
  EXPECT_EQ(p.committable(), -1);
  const uint64_t first[] = {s[0]};
  EXPECT_EQ(p.SettleMany(first, 1), 2);
  EXPECT_EQ(p.committable(), 3) << "0..2 settled; 3 and 4 still running";
  const uint64_t rest[] = {s[4], s[3]};
  EXPECT_EQ(p.SettleMany(rest, 2), 0);
  EXPECT_EQ(p.committable(), 6);
}

// A record that was abandoned (cancelled on close, dropped on revoke) is
// never committed over: later settled records stay uncommitted with it, so
// the next owner gets them all again.
TEST(PartitionState, AnAbandonedRecordStopsTheFrontierForGood) {
  PartitionState p({"t", 0});
  const std::vector<uint64_t> s = TrackRange(p, 10, 4);  // 10..13
  p.Finish(s[0], true);
  p.Finish(s[1], /*settled=*/false);
  p.Finish(s[2], true);
  EXPECT_EQ(p.Finish(s[3], true), 0);
  EXPECT_EQ(p.committable(), 11);
  EXPECT_EQ(p.TakeCommit(), std::optional<int64_t>(11));
  // More records behind the hole settle: still nothing past it.
  const std::vector<uint64_t> more = TrackRange(p, 14, 2);
  p.Finish(more[0], true);
  p.Finish(more[1], true);
  EXPECT_EQ(p.committable(), 11);
  EXPECT_FALSE(p.TakeCommit().has_value());
}

// The revoke path: the partition is marked abandoned, its queued records are
// released unsettled, and it becomes idle with the frontier where the
// settled prefix ended.
TEST(PartitionState, RevokeAbandonsTheRestAndGoesIdleWithThePrefixCommittable) {
  PartitionState p({"t", 1});
  const std::vector<uint64_t> s = TrackRange(p, 0, 4);
  p.Finish(s[0], true);
  EXPECT_FALSE(p.abandoned());
  p.Abandon();
  EXPECT_TRUE(p.abandoned());
  const auto now = std::chrono::steady_clock::now();
  EXPECT_FALSE(p.WaitIdle(now)) << "three records are still in flight";
  p.Finish(s[2], false);
  p.Finish(s[1], false);
  EXPECT_EQ(p.Finish(s[3], false), 0);
  EXPECT_TRUE(p.WaitIdle(now));
  EXPECT_EQ(p.committable(), 1);
}

TEST(PartitionState, AFailedCommitIsOfferedAgain) {
  PartitionState p({"t", 0});
  const std::vector<uint64_t> s = TrackRange(p, 0, 3);
  p.Finish(s[0], true);
  ASSERT_EQ(p.TakeCommit(), std::optional<int64_t>(1));
  p.CommitFailed(1);
  EXPECT_EQ(p.TakeCommit(), std::optional<int64_t>(1)) << "the failed commit is retried";
  p.Finish(s[1], true);
  ASSERT_EQ(p.TakeCommit(), std::optional<int64_t>(2));
  p.CommitFailed(1);  // a stale failure does not bring back an offset already superseded
  EXPECT_FALSE(p.TakeCommit().has_value());
  p.Finish(s[2], true);
  EXPECT_EQ(p.TakeCommit(), std::optional<int64_t>(3));
}

TEST(PartitionState, UncommittedCountsWhatSettledSinceTheLastCommit) {
  PartitionState p({"t", 0});
  EXPECT_EQ(p.uncommitted(), 0);
  const std::vector<uint64_t> s = TrackRange(p, 0, 10);
  for (int i = 0; i < 4; ++i) p.Finish(s[static_cast<size_t>(i)], true);
  // Before the first commit all of the prefix counts (at least the 4 settled).
  EXPECT_GE(p.uncommitted(), 4);
  ASSERT_EQ(p.TakeCommit(), std::optional<int64_t>(4));
  EXPECT_EQ(p.uncommitted(), 0);
  for (int i = 4; i < 7; ++i) p.Finish(s[static_cast<size_t>(i)], true);
  EXPECT_EQ(p.uncommitted(), 3);
  p.Finish(s[9], true);  // behind a hole: not committable, so not counted
  EXPECT_EQ(p.uncommitted(), 3);
}

class PartitionStateThreads : public BusTest {};

// Workers settle from many threads at once, each in its own order: the
// frontier ends exactly past the last record, and WaitIdle wakes up.
TEST_F(PartitionStateThreads, ConcurrentSettlesEndAtTheLastOffsetAndWakeWaitIdle) {
  PartitionState p({"t", 0});
  constexpr int kThreads = 4, kEach = 500;
  const std::vector<uint64_t> s = TrackRange(p, 0, kThreads * kEach);
  const uint64_t bus = core::NextBusId();
  {
    std::vector<core::Thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      // Thread t settles the slots t, t + kThreads, ... from the last to the first.
      threads.push_back(core::Thread::Start("ps-settle", "test", bus, [&, t] {
        for (int i = kEach - 1; i >= 0; --i)
          p.Finish(s[static_cast<size_t>(i * kThreads + t)], true);
      }));
    }
    EXPECT_TRUE(p.WaitIdle(std::chrono::steady_clock::now() + 20s));
  }  // joined
  ExpectThreadsAtBaseline();
  EXPECT_EQ(p.in_flight(), 0);
  EXPECT_EQ(p.committable(), kThreads * kEach);
}

// Through a bus: a record that failed every attempt and went to the
// dead-letter topic, and a poison record, are settled, so the group's
// committed offset moves past them (and past what followed them).
class DeadLetterSettles : public BusTest {};

TEST_F(DeadLetterSettles, DeadLetteredAndPoisonRecordsAdvanceTheCommittedOffset) {
  const std::string name = UniqueName("ps-dlq");
  Config config = MemoryConfig(name);
  config.memory.partitions = 1;  // one partition: every record is behind the failures
  config.subscriber.retry.max_attempts = 2;
  const std::string topic = name + "-t";
  // Held here, so the group's offsets outlive the bus (a closed bus lets go of it).
  auto broker = transport::MemoryBroker::Named(
      config.memory.broker,
      {config.memory.partitions, config.memory.retention_records, config.memory.retention_bytes});
  Signal signal;
  int good = 0;
  {
    auto bus = EventBus::Create(config);
    ASSERT_TRUE(bus.ok()) << bus.status().ToString();
    ASSERT_OK((*bus)->SubscribeEnvelope(topic, [&](const Envelope& e, const Delivery&) {
      if (e.event_type == "Fails") return Status(ErrorCode::kHandlerFailed, "always");
      signal.Update([&] { ++good; });
      return Status();
    }));
    ASSERT_OK((*bus)->Start());
    ASSERT_OK((*bus)->PublishEnvelope(topic, NewEnvelope("a", "Fails", 1, "{}")));  // offset 0
    Record poison;
    poison.topic = topic;
    poison.key = "a";
    poison.payload = "not an envelope";
    ASSERT_OK((*bus)->Publish(poison));                                          // offset 1
    ASSERT_OK((*bus)->PublishEnvelope(topic, NewEnvelope("a", "Ok", 2, "{}")));  // offset 2
    ASSERT_TRUE(signal.WaitUntil([&] { return good == 1; }));
    ASSERT_TRUE(Eventually([&] { return (*bus)->stats().dead_lettered == 2; }));
    Result<CloseReport> report = (*bus)->Close();
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(report->abandoned, 0u) << report->ToString();
  }
  ExpectThreadsAtBaseline();
  EXPECT_EQ(broker->Committed(config.subscriber.group, {topic, 0}), 3)
      << "the dead-lettered (0) and poison (1) records must not hold back the commit";
}

}  // namespace
}  // namespace evbus::test
