// evbus_chaos: the project's own chaos suite (issue: nothing acknowledged is
// lost while consumer processes die at random and the broker restarts).
//
//   evbus_chaos run --transport kafka|nats [--events N --kills K ...]
//     starts a broker of its own (scripts/kafka or scripts/nats on free
//     ports), a producer in this process and --consumers consumer processes
//     (this program, `consume`) in one group; SIGKILLs a random consumer at
//     random moments and starts a new one, restarts the broker once halfway;
//     then waits until every acknowledged event was handled, stops the
//     consumers with SIGTERM (each must close with its threads back to
//     baseline) and prints the counts (chaos_ledger.h). Exit 0 when nothing
//     acknowledged was lost, no incarnation saw an aggregate out of order and
//     every consumer closed cleanly.
//   evbus_chaos failover --transport kafka|nats --scenario S [...]
//     the same on a three-node cluster of its own (replication 3, two in
//     sync) with one fault scenario (chaos_failover.cc): leader-kill,
//     rolling-restart, member-kills or minority; prints the counts and how
//     long publishing and delivery stalled.
//   evbus_chaos scale --transport kafka|nats [--events N --consumer-counts 1,2,3]
//     fills a topic on a three-node cluster, then reads it with 1, 2, 3...
//     consumer processes (a fresh group each) and prints each group's
//     throughput and order check (chaos_scale.cc).
//   evbus_chaos consume ...  one consumer process (chaos_consumer.cc).

#ifndef EVBUS_TESTS_CHAOS_CHAOS_H_
#define EVBUS_TESTS_CHAOS_CHAOS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "evbus/config.h"

namespace evbus::chaos {

struct Options {
  std::string transport = "kafka";  // kafka | nats
  std::string address;              // brokers host:port or NATS URL (consume; run starts its own)
  std::string topic;
  std::string group;
  bool cluster = false;  // the address names a three-node cluster (comma-separated)
  // run
  int64_t events = 20000;
  int aggregates = 200;
  int consumers = 3;
  int kills = 8;
  int rate = 2000;    // events published per second (Kafka: kills want ~500, as its group
                      // expires a killed member only after the 6 s session timeout)
  uint64_t seed = 0;  // 0: from the clock (printed, to replay a run)
  bool broker_restart = true;
  int drain_timeout_s = 180;  // for every acknowledged event to be handled
  // failover
  std::string scenario = "leader-kill";
  int seconds = 20;  // producing time
  // scale
  std::vector<int> scale_consumers = {1, 2, 3};
  // consume
  std::string log;
  int64_t incarnation = 0;
  int handle_us = 200;  // time a handler takes (the work killed mid-way)
};

// The configuration of the run's producer and consumers.
Config MakeConfig(const Options& o);

// The run's seed (`seed`, or one from the clock when 0), printed to replay it.
uint64_t SeedOrClock(uint64_t seed);

// Names o.topic and o.group "<kind>-N" and "<kind>-group-N" after the seed,
// and makes the run's log directory; returns its path.
std::string NameRun(Options& o, const std::string& kind, uint64_t seed);

// Prints `evbus lag` for the run's group, for a run that lost events:
// stalled (committed below the end) or skipped (committed past what was
// never handled)? The group's lag tells.
void PrintGroupLag(const Options& o);

int RunConsumer(const Options& o);
int RunDriver(const Options& o, const std::string& self_path);
int RunFailover(const Options& o, const std::string& self_path);
int RunScale(const Options& o, const std::string& self_path);

}  // namespace evbus::chaos

#endif  // EVBUS_TESTS_CHAOS_CHAOS_H_
