// bench --plot DIR: three SVG charts from a bench report, and report.md that
// shows them beside the table.
//   latency.svg     end-to-end latency by percentile, one line per run
//   throughput.svg  receive rate over the run, one line per run
//   threads.svg     process threads at each lifecycle phase, one line per run
//   load.svg        open-loop runs only: latency against offered load, a line
//                   per percentile for evbus and for the client alone

#include <cmath>
#include <filesystem>
#include <fstream>

#include "cli/bench.h"
#include "cli/svg_plot.h"

namespace evbus::cli {
namespace {

// Percentiles on an axis of "nines": p90 is 1, p99 is 2, p99.9 is 3.
PlotChart LatencyChart(const BenchReport& report) {
  PlotChart c{
      "End-to-end latency by percentile (" + report.scenario() + ", " + report.transport() + ")",
      {"percentile", false, {{0, "p0"}, {1, "p90"}, {2, "p99"}, {3, "p99.9"}, {4, "p99.99"}}},
      {"latency, microseconds (log)", true, {}},
      {}};
  for (const BenchRow& row : report.rows()) {
    PlotSeries s{row.name, {}};
    for (const auto& [q, us] : row.result.latency_quantiles) {
      if (q < 1.0) s.points.emplace_back(-std::log10(1.0 - q), us);
    }
    c.series.push_back(std::move(s));
  }
  return c;
}

// The rate over a window of 5 samples of the received count (5% of the
// run): rates between single samples are mostly scheduling noise.
PlotChart ThroughputChart(const BenchReport& report) {
  constexpr size_t kWindow = 5;
  PlotChart c{"Receive rate over the run (" + report.scenario() + ", " + report.transport() + ")",
              {"seconds since the first publish", false, {}},
              {"messages per second", false, {}},
              {}};
  for (const BenchRow& row : report.rows()) {
    PlotSeries s{row.name, {}};
    const auto& t = row.result.timeline;
    for (size_t i = 1; i < t.size(); ++i) {
      const size_t from = i >= kWindow ? i - kWindow : 0;
      const double dt = t[i].first - t[from].first;
      if (dt > 0) {
        s.points.emplace_back(t[i].first, static_cast<double>(t[i].second - t[from].second) / dt);
      }
    }
    c.series.push_back(std::move(s));
  }
  return c;
}

PlotChart ThreadsChart(const BenchReport& report) {
  PlotChart c{
      "Process threads over the lifecycle (" + report.scenario() + ", " + report.transport() + ")",
      {"phase", false, {}},
      {"threads", false, {}},
      {}};
  for (const BenchRow& row : report.rows()) {
    PlotSeries s{row.name, {}};
    const std::vector<Phase>& phases = row.result.phases;
    for (size_t i = 0; i < phases.size(); ++i) {
      s.points.emplace_back(static_cast<double>(i), static_cast<double>(phases[i].census.total()));
      if (c.x.ticks.size() <= i) c.x.ticks.emplace_back(static_cast<double>(i), phases[i].name);
    }
    c.series.push_back(std::move(s));
  }
  return c;
}

PlotChart LoadChart(const BenchReport& report) {
  PlotChart c{"Latency against offered load, open loop (" + report.transport() + ")",
              {"offered load, messages per second", false, {}},
              {"latency, microseconds (log)", true, {}},
              {}};
  const std::pair<const char*, double WorkloadResult::*> quantiles[] = {
      {"p50", &WorkloadResult::p50_us},
      {"p99", &WorkloadResult::p99_us},
      {"p99.99", &WorkloadResult::p9999_us}};
  for (const bool baseline : {false, true}) {
    for (const auto& [label, field] : quantiles) {
      PlotSeries s{std::string(baseline ? "client alone " : "evbus ") + label, {}};
      for (const BenchRow& row : report.rows()) {
        if (row.rate > 0 && row.baseline == baseline) {
          s.points.emplace_back(row.rate, row.result.*field);
        }
      }
      c.series.push_back(std::move(s));
    }
  }
  return c;
}

bool HasOpenLoopRuns(const BenchReport& report) {
  for (const BenchRow& row : report.rows()) {
    if (row.rate > 0) return true;
  }
  return false;
}

Status WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out.flush()) return Status(ErrorCode::kInvalidArgument, path.string() + ": cannot write");
  return Status();
}

}  // namespace

Status WritePlots(const std::string& dir, const BenchReport& report) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status(ErrorCode::kInvalidArgument, dir + ": " + ec.message());
  const std::filesystem::path base(dir);
  std::vector<std::pair<const char*, PlotChart>> charts = {
      {"latency.svg", LatencyChart(report)},
      {"throughput.svg", ThroughputChart(report)},
      {"threads.svg", ThreadsChart(report)},
  };
  if (HasOpenLoopRuns(report)) charts.emplace_back("load.svg", LoadChart(report));
  std::string md = "# evbus bench " + report.scenario() + " on " + report.transport() + "\n\n" +
                   report.ToMarkdown() + "\n";
  for (const auto& [file, chart] : charts) {
    if (Status s = WriteFile(base / file, RenderSvg(chart)); !s.ok()) return s;
    md += "![" + chart.title + "](" + file + ")\n\n";
  }
  return WriteFile(base / "report.md", md);
}

}  // namespace evbus::cli
