// ConsumerLoop: the bus's one polling thread ("evb-poll").
//
// It polls the transport, tracks every record in its partition's frontier,
// routes it to a lane, applies backpressure (pauses a partition whose window
// is full, or every partition when the byte budget is spent; never reads and
// discards), commits each partition's frontier every commit_interval, and
// answers rebalances: on revoke it stops routing, lets in-flight work finish
// (bounded), commits, then releases; work of a lost partition is dropped
// uncommitted.
//
// Thread safety: the public methods are thread-safe; the transport consumer
// is used only from the polling thread.

#ifndef EVBUS_CORE_CONSUMER_LOOP_H_
#define EVBUS_CORE_CONSUMER_LOOP_H_

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/counters.h"
#include "core/dispatcher.h"
#include "core/partition_state.h"
#include "core/thread.h"
#include "evbus/config.h"
#include "ops/backlog.h"
#include "transport/transport.h"

namespace evbus::core {

class ConsumerLoop final : public transport::RebalanceListener {
 public:
  using Subscriptions = std::map<std::string, const Subscription*>;

  ConsumerLoop(uint64_t bus_id, const SubscriberConfig& config,
               std::unique_ptr<transport::Consumer> consumer, Dispatcher& dispatcher,
               Counters& counters, std::function<void(const Status&)> report_error);
  ~ConsumerLoop() override;

  // Stalls, and lag when `with_lag`, go to `board` every
  // subscriber.backlog_interval. Lag costs a broker round trip on Kafka and
  // NATS (on this thread), so it is asked only when someone reads it.
  // REQUIRES: before Start().
  void SetBacklogBoard(ops::BacklogBoard* board, bool with_lag) {
    board_ = board;
    with_lag_ = with_lag;
  }
  // Subscribes to `subs`' topics and starts the polling thread.
  // Errors: those of Consumer::Subscribe.
  Status Start(Subscriptions subs);
  // Replaces the subscription set; the polling thread resubscribes.
  void Resubscribe(Subscriptions subs);
  // Called by the dispatcher whenever a message ends.
  void OnReleased(const InFlight& m, int left);

  // Close steps: stop fetching; then commit, leave the group and join.
  void StopIntake();
  struct FinishReport {
    uint64_t partitions_committed = 0;
    uint64_t partitions_uncommitted = 0;  // whose final commit failed or had no answer in time
    Status status;  // why a final commit failed, or why the group was not left
  };
  FinishReport Finish(transport::Clock::time_point deadline);

  // RebalanceListener (polling thread only).
  void OnAssigned(const std::vector<transport::TopicPartition>& partitions) override;
  void OnRevoked(const std::vector<transport::TopicPartition>& partitions, bool lost) override;

 private:
  void Run();
  void Route(std::vector<transport::RecordPtr>& records);
  // Pauses partitions over their window (or all over the memory budget) and
  // resumes those back under half of it. Returns true when room came back
  // while pausing (a release the workers' OnReleased could not see yet), so
  // the next poll must not wait.
  bool ApplyBackpressure();
  // Posts every assigned partition's lag, in-flight count and stall age.
  void SampleBacklog();
  // Commits every assigned partition's frontier that moved; returns how many.
  // Without `wait_until` the commits are not waited for.
  uint64_t CommitFrontier(std::optional<transport::Clock::time_point> wait_until);
  // Commits, before the interval ends, the partitions with at least
  // eager_commit_after_ records settled since their last commit.
  void CommitEager();
  // The same for `partitions` (a revoke commits just its own).
  uint64_t Commit(const std::vector<PartitionState*>& partitions,
                  std::optional<transport::Clock::time_point> wait_until);

  const uint64_t bus_id_;
  const SubscriberConfig config_;
  std::unique_ptr<transport::Consumer> consumer_;
  const int64_t eager_commit_after_;  // consumer_->EagerCommitAfter()
  Dispatcher& dispatcher_;
  Counters& counters_;
  std::function<void(const Status&)> report_error_;
  ops::BacklogBoard* board_ = nullptr;
  bool with_lag_ = false;

  // Control, shared with other threads.
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Subscriptions> pending_subs_;
  bool intake_stopped_ = false;
  bool finishing_ = false;
  transport::Clock::time_point finish_deadline_{};
  FinishReport finish_report_;

  // Polling thread only.
  Subscriptions subs_;
  std::map<transport::TopicPartition, std::shared_ptr<PartitionState>> partitions_;
  std::vector<std::pair<LaneScheduler::Unit, InFlight*>> route_batch_;  // Route's, reused
  std::vector<std::shared_ptr<Record>> spare_records_;                  // on their way to Recycle
  std::atomic<bool> budget_paused_{false};  // read by workers in OnReleased
  transport::Clock::time_point revoke_deadline_{};
  bool closing_ = false;
  uint64_t close_commits_ = 0;  // partitions committed by the final commit and revokes
  std::set<transport::TopicPartition> close_uncommitted_;  // whose last close commit failed
  Status close_commit_error_;

  std::atomic<bool> wake_requested_{false};
  std::atomic<bool> any_paused_{false};
  Thread thread_;
};

}  // namespace evbus::core

#endif  // EVBUS_CORE_CONSUMER_LOOP_H_
